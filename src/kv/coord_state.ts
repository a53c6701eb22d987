// The coordination half of the KvMachine: sessions, locks with fencing tokens, the owners of
// ephemeral keys and the log's idea of the master. Deterministic like the rest of the machine:
// a session's liveness is decided by the master (outside the log), and its end is one log entry.
import type { ByteReader, ByteWriter } from "./byte_codec.js";
import {
  MAX_KEY_BYTES,
  MAX_SESSION_TTL_MS,
  MIN_SESSION_TTL_MS,
  type KvCommand,
  type LockFence,
} from "./commands.js";
import { refuse } from "./kv_tables.js";
import type { KvResult } from "./results.js";

/** Open sessions at most (an open beyond it answers limit). */
export const MAX_SESSIONS = 100_000;
/** Sessions waiting on one lock at most. */
export const MAX_WAITERS_PER_LOCK = 100_000;

/** Told to the service during apply, in log order (see KvMachine.onNotice). */
export type CoordNotice =
  | { kind: "granted"; lock: string; session: number; token: number }
  | { kind: "released"; lock: string; token: number }
  | { kind: "session_opened"; session: number; ttlMs: number }
  | { kind: "session_ended"; session: number; why: "closed" | "expired" }
  | { kind: "master"; rank: number; term: number; epoch: number };

export interface MasterRecord {
  rank: number;
  term: number;
  /** The revision of the master entry: strictly increasing from one master to the next. */
  epoch: number;
}

interface Session {
  ttlMs: number;
  /** Locks it holds, locks it waits for, keys it owns (all in insertion order). */
  locks: Set<string>;
  waits: Set<string>;
  keys: Set<string>;
}

interface LockState {
  holder: { session: number; token: number } | null;
  /** Waiting sessions, first come first served. */
  queue: number[];
}

export type CoordCommand =
  | Extract<
      KvCommand,
      { op: "session_open" | "session_close" | "session_expire" | "master" } | { op: "acquire" }
    >
  | Extract<KvCommand, { op: "release" | "cancel_wait" }>;

/** What the coordination state needs from the key table: removing a key a session owned. */
export interface KeyRemover {
  removeOwnedKey(key: string): void;
}

const NO_SESSION: KvResult = { kind: "error", code: "no_session" };
const LIMIT: KvResult = { kind: "error", code: "limit" };

export class CoordState {
  sessions = new Map<number, Session>();
  locks = new Map<string, LockState>();
  /** key -> the session that owns it (ephemeral keys only). */
  owners = new Map<string, number>();
  master: MasterRecord | null = null;
  /** Filled during one apply, taken by the machine after it. */
  notices: CoordNotice[] = [];

  constructor(private readonly keys: KeyRemover) {}

  apply(cmd: CoordCommand, revision: number): KvResult {
    switch (cmd.op) {
      case "session_open":
        return this.open(cmd.ttlMs, revision);
      case "session_close":
        if (!this.sessions.has(cmd.session)) return NO_SESSION;
        this.end(cmd.session, "closed", revision);
        return { kind: "session_closed", session: cmd.session };
      case "session_expire":
        return this.expire(cmd.sessions, cmd.epoch, revision);
      case "master":
        this.master = { rank: cmd.rank, term: cmd.term, epoch: revision };
        this.notices.push({ kind: "master", ...this.master });
        return { kind: "master", epoch: revision };
      case "acquire":
        return this.acquire(cmd.lock, cmd.session, cmd.wait, revision);
      case "release":
        return this.release(cmd.lock, cmd.token, revision);
      case "cancel_wait":
        if (!this.sessions.has(cmd.session)) return NO_SESSION; // it waits for nothing now
        this.unqueue(cmd.lock, cmd.session);
        return { kind: "cancelled" };
    }
  }

  private open(ttlMs: number, revision: number): KvResult {
    if (ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS) {
      return { kind: "error", code: "bad_ttl" };
    }
    if (this.sessions.size >= MAX_SESSIONS) return LIMIT;
    const s: Session = { ttlMs, locks: new Set(), waits: new Set(), keys: new Set() };
    this.sessions.set(revision, s);
    this.notices.push({ kind: "session_opened", session: revision, ttlMs });
    return { kind: "session", session: revision, ttlMs };
  }

  /** Only the log's latest master may end sessions: a deposed one's entries change nothing. */
  private expire(ids: number[], epoch: number, revision: number): KvResult {
    if (this.master?.epoch !== epoch) return { kind: "error", code: "not_master" };
    const ended: number[] = [];
    for (const id of ids) {
      if (!this.sessions.has(id)) continue;
      this.end(id, "expired", revision);
      ended.push(id);
    }
    return { kind: "sessions_expired", sessions: ended };
  }

  /** One entry does it all: locks go to their next waiters, waits and owned keys go. */
  private end(id: number, why: "closed" | "expired", revision: number): void {
    const s = this.sessions.get(id) as Session;
    this.sessions.delete(id);
    for (const lock of s.waits) this.unqueue(lock, id);
    // In name order: the events and grants of this entry must come out alike on every rank,
    // including one that restored the session from a snapshot (sets keep insertion order).
    for (const lock of [...s.locks].sort()) this.handOver(lock, revision);
    for (const key of [...s.keys].sort()) {
      this.owners.delete(key);
      this.keys.removeOwnedKey(key);
    }
    this.notices.push({ kind: "session_ended", session: id, why });
  }

  private acquire(lock: string, session: number, wait: boolean, revision: number): KvResult {
    const s = this.sessions.get(session);
    if (!s) return NO_SESSION;
    const l = this.locks.get(lock);
    if (!l?.holder) {
      this.grant(lock, l ?? { holder: null, queue: [] }, session, revision);
      return { kind: "granted", token: revision };
    }
    // The same session asking again (a retry under a new request number) gets its grant back:
    // a session never holds a lock twice, so no orphan holder can arise from retries.
    if (l.holder.session === session) return { kind: "granted", token: l.holder.token };
    if (!wait) return { kind: "error", code: "lock_held", version: l.holder.token };
    if (s.waits.has(lock)) return { kind: "queued" };
    if (l.queue.length >= MAX_WAITERS_PER_LOCK) return LIMIT;
    l.queue.push(session);
    s.waits.add(lock);
    return { kind: "queued" };
  }

  private grant(lock: string, l: LockState, session: number, token: number): void {
    l.holder = { session, token };
    this.locks.set(lock, l);
    const s = this.sessions.get(session) as Session;
    s.waits.delete(lock);
    s.locks.add(lock);
    this.notices.push({ kind: "granted", lock, session, token });
  }

  private release(lock: string, token: number, revision: number): KvResult {
    const l = this.locks.get(lock);
    if (!l?.holder || l.holder.token !== token) {
      return l?.holder
        ? { kind: "error", code: "not_holder", version: l.holder.token }
        : { kind: "error", code: "not_holder" };
    }
    this.sessions.get(l.holder.session)?.locks.delete(lock);
    this.handOver(lock, revision);
    return { kind: "released" };
  }

  /** The holder is gone: the first waiter gets the lock at this revision (or the lock is free). */
  private handOver(lock: string, revision: number): void {
    const l = this.locks.get(lock);
    if (!l?.holder) return;
    const old = l.holder;
    this.sessions.get(old.session)?.locks.delete(lock);
    this.notices.push({ kind: "released", lock, token: old.token });
    l.holder = null;
    const next = l.queue.shift();
    if (next !== undefined) this.grant(lock, l, next, revision);
    else this.locks.delete(lock);
  }

  private unqueue(lock: string, session: number): void {
    this.sessions.get(session)?.waits.delete(lock);
    const l = this.locks.get(lock);
    if (!l) return;
    const at = l.queue.indexOf(session);
    if (at >= 0) l.queue.splice(at, 1);
  }

  /** Whether a write conditioned on fence may apply (the token still holds the lock). */
  fenceHolds(fence: LockFence): boolean {
    return this.locks.get(fence.lock)?.holder?.token === fence.token;
  }

  holderToken(lock: string): number | undefined {
    return this.locks.get(lock)?.holder?.token;
  }

  /** key was written: by session (it owns the key now) or without one (nobody does). */
  keyWritten(key: string, session: number | undefined): void {
    const previous = this.owners.get(key);
    if (previous === session) return;
    if (previous !== undefined) this.sessions.get(previous)?.keys.delete(key);
    if (session === undefined) this.owners.delete(key);
    else {
      this.owners.set(key, session);
      this.sessions.get(session)?.keys.add(key);
    }
  }

  keyRemoved(key: string): void {
    const owner = this.owners.get(key);
    if (owner === undefined) return;
    this.owners.delete(key);
    this.sessions.get(owner)?.keys.delete(key);
  }

  /** Master, sessions (id order) with their waits, then locks (name order) with holder and
   * queue. Keys owned are written with the keys (the machine's part). */
  write(w: ByteWriter): void {
    w.u8(this.master ? 1 : 0);
    if (this.master) {
      w.nat(this.master.rank);
      w.nat(this.master.term);
      w.nat(this.master.epoch);
    }
    const ids = [...this.sessions.keys()].sort((a, b) => a - b);
    w.u32(ids.length);
    for (const id of ids) {
      w.nat(id);
      w.nat((this.sessions.get(id) as Session).ttlMs);
    }
    const names = [...this.locks.keys()].sort();
    w.u32(names.length);
    for (const name of names) {
      const l = this.locks.get(name) as LockState;
      w.str(name);
      w.nat(l.holder?.session ?? 0);
      w.nat(l.holder?.token ?? 0);
      w.u32(l.queue.length);
      for (const s of l.queue) w.nat(s);
    }
  }

  /** The inverse of write; refuses anything write could not have produced. */
  read(r: ByteReader, taken: number): void {
    const hasMaster = r.u8("master flag");
    if (hasMaster > 1) refuse("master flag");
    if (hasMaster) {
      this.master = { rank: r.nat("rank"), term: r.nat("term"), epoch: r.nat("epoch") };
    }
    const count = r.u32("session count");
    if (count > MAX_SESSIONS) refuse(`${count} sessions`);
    for (let i = 0, prev = 0; i < count; i++) {
      const id = r.nat("session");
      const ttlMs = r.nat("ttl");
      if (id <= prev || id > taken + 1) refuse(`session ${id} out of order`);
      prev = id;
      this.sessions.set(id, { ttlMs, locks: new Set(), waits: new Set(), keys: new Set() });
    }
    this.readLocks(r);
  }

  private readLocks(r: ByteReader): void {
    const count = r.u32("lock count");
    let previous: string | undefined;
    for (let i = 0; i < count; i++) {
      const name = r.str("lock", 1, MAX_KEY_BYTES);
      if (previous !== undefined && previous >= name) refuse(`lock ${i} out of order`);
      previous = name;
      const session = r.nat("holder");
      const token = r.nat("token");
      const s = this.sessions.get(session);
      if (!s) refuse(`lock ${i}: holder ${session} is not a session`);
      s.locks.add(name);
      const n = r.u32("queue length");
      if (n > MAX_WAITERS_PER_LOCK) refuse(`lock ${i}: ${n} waiters`);
      const queue: number[] = [];
      for (let j = 0; j < n; j++) {
        const waiter = r.nat("waiter");
        const ws = this.sessions.get(waiter);
        if (!ws || ws.waits.has(name) || waiter === session) refuse(`lock ${i}: waiter ${j}`);
        ws.waits.add(name);
        queue.push(waiter);
      }
      this.locks.set(name, { holder: { session, token }, queue });
    }
  }

  /** Restores an owned key (read with the keys). */
  restoreOwner(key: string, session: number): void {
    const s = this.sessions.get(session);
    if (!s) refuse(`key owned by session ${session}, which is not open`);
    this.owners.set(key, session);
    s.keys.add(key);
  }
}
