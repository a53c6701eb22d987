// The anti-entropy sender processor of a Bayou server (Petersen et al. '97): it opens a session
// with a receiver, gets the receiver's version vector and CSN, asks the write log for exactly what
// the receiver lacks, sends it, and waits for the receiver to apply it. Sessions start three ways:
// a round (the master's: one session with every linked server, or with the ones it names, at
// once), gossip (the next linked server in turn, every so often), and retirement (the last batch,
// resent until the receiver has it). A session that does not finish in time counts as busy, so a
// round that met one is not taken for quiescence.
//
// Gossip and rounds skip a peer known to have had everything this server held, as long as the log
// has not changed since: an idle system sends nothing, and a quiet round costs no frames. (A receiver's holdings only grow, so "it
// had all of mine at change n" stays true while this log is still at n.)
import type { AntiEntropyBatch, AntiEntropyRequest } from "../server_core.js";
import { batchToWire, type PeerMsg } from "./messages.js";

/** A session's receiver must answer within this (it then counts as busy). */
export const SESSION_TIMEOUT_MS = 2000;
/** A round's session that met a busy receiver asks again this often, for up to ROUND_RETRY_MS
 * (longer than a receiver holds a lapsed session), before it counts as busy. */
const BUSY_RETRY_MS = 15;
const ROUND_RETRY_MS = SESSION_TIMEOUT_MS * 2;
/** A retirement's batch is resent this often until the receiver confirms it. */
const RETIRE_RESEND_MS = 500;
/** A retirement gives up (and says so) after this long without the receiver's confirmation. */
export const RETIRE_TIMEOUT_MS = 30_000;

export interface RoundResult {
  moved: number;
  busy: number;
}

export type SenderInput =
  /** A session with each of `peers` (all linked servers when null) that is linked. */
  | { k: "round"; peers: readonly number[] | null; done: (r: RoundResult) => void }
  | { k: "retire"; to: number; done: (ok: boolean) => void }
  /** A background session with the next linked server in turn that may lack something. */
  | { k: "gossip" }
  | { k: "vector"; from: number; sid: number; req: AntiEntropyRequest | null; busy: boolean }
  /** From the write log: the batch for a session (`whole`: not cut to a frame's size). */
  | { k: "batch"; sid: number; batch: AntiEntropyBatch; whole: boolean }
  /** From the write log: the log changed (wakes the sender: gossip may be due). */
  | { k: "changed" }
  /** From the write log: that peer had all of this log at change `at`. */
  | { k: "covered"; peer: number; at: number }
  | { k: "done"; from: number; sid: number };

/** What the sender asks of the rest of its server. */
export interface SenderDeps {
  me: number;
  nowMs(): number;
  send(to: number, msg: PeerMsg): void;
  /** Ask the write log to open a session (it sends ae_open with what this server has). */
  open(peer: number, sid: number, retire: boolean): void;
  /** Ask the write log for the batch (or, retiring, the last batch) for this request. */
  batchFor(sid: number, req: AntiEntropyRequest, retire: boolean): void;
  /** Linked live servers (not this one), in join order. */
  linkedPeers(): number[];
  /** How many times the write log has changed so far (the log processor's count). */
  changes(): number;
}

interface Round {
  open: Set<number>;
  retryUntilMs: number;
  result: RoundResult;
  done: (r: RoundResult) => void;
}

interface Session {
  peer: number;
  kind: "round" | "gossip" | "retire";
  /** The log's change count when the session was asked for (its holdings are at least that). */
  at: number;
  deadlineMs: number;
  /** A busy round session waits until then to ask again. */
  retryAtMs: number | null;
  batch: AntiEntropyBatch | null;
  /** The batch is all the receiver lacked (not cut to a frame's size). */
  whole: boolean;
  round: Round | null;
  retire: { done: (ok: boolean) => void; giveUpMs: number; resendMs: number } | null;
}

export class AntiEntropySender {
  private nextSid = 1;
  private readonly sessions = new Map<number, Session>();
  /** Peer → the log's change count at which it had everything this server held. */
  private readonly covered = new Map<number, number>();
  /** Where the next gossip starts looking in the linked peers (round-robin). */
  private gossipTurn = 0;

  constructor(private readonly d: SenderDeps) {}

  /** Whether a gossip or retirement session is running (gossip waits for them). */
  get busy(): boolean {
    for (const s of this.sessions.values()) if (s.kind !== "round") return true;
    return false;
  }

  step(input: SenderInput): void {
    switch (input.k) {
      case "round":
        return this.startRound(input.peers, input.done);
      case "retire":
        return this.startRetire(input.to, input.done);
      case "gossip":
        return this.gossip();
      case "vector":
        return this.onVector(input.from, input.sid, input.req, input.busy);
      case "batch":
        return this.onBatch(input.sid, input.batch, input.whole);
      case "covered":
        return this.cover(input.peer, input.at);
      case "changed":
        return;
      case "done":
        return this.onDone(input.from, input.sid);
    }
  }

  /** Timeouts: an unanswered session ends as busy; a retirement resends or gives up. */
  tick(): void {
    const now = this.d.nowMs();
    for (const [sid, s] of [...this.sessions]) {
      if (s.retire !== null) {
        this.retireTick(sid, s, now);
        continue;
      }
      if (s.retryAtMs !== null && now >= s.retryAtMs) this.reopen(sid, s, now);
      else if (s.retryAtMs === null && now >= s.deadlineMs) this.busyAgain(sid, s, now);
    }
  }

  /** Whether a gossip session would find a linked peer that may lack something. */
  get hasGossip(): boolean {
    const now = this.d.changes();
    return this.d.linkedPeers().some((p) => this.covered.get(p) !== now);
  }

  /** When tick() next has something to do (a retry, a deadline or a resend); Infinity if never. */
  nextDueMs(): number {
    let due = Infinity;
    for (const s of this.sessions.values()) {
      const at = s.retire?.resendMs ?? s.retryAtMs ?? s.deadlineMs;
      due = Math.min(due, at, s.retire?.giveUpMs ?? Infinity);
    }
    return due;
  }

  private startRound(only: readonly number[] | null, done: (r: RoundResult) => void): void {
    const retryUntilMs = this.d.nowMs() + ROUND_RETRY_MS;
    const round: Round = { open: new Set(), retryUntilMs, result: { moved: 0, busy: 0 }, done };
    const now = this.d.changes();
    const peers = this.d.linkedPeers().filter((p) => only === null || only.includes(p));
    // A peer known to hold all of this log would move nothing: no frame needed to learn that.
    for (const peer of peers)
      if (this.covered.get(peer) !== now) round.open.add(this.open(peer, "round", round, null));
    if (round.open.size === 0) done(round.result);
  }

  /** One session with the next linked peer (in turn) not known to hold all of this log. */
  private gossip(): void {
    if (this.busy) return;
    const peers = this.d.linkedPeers();
    const now = this.d.changes();
    for (let i = 0; i < peers.length; i += 1) {
      const peer = peers[(this.gossipTurn + i) % peers.length]!;
      if (this.covered.get(peer) === now) continue;
      this.gossipTurn = (this.gossipTurn + i + 1) % peers.length;
      this.open(peer, "gossip", null, null);
      return;
    }
  }

  private startRetire(to: number, done: (ok: boolean) => void): void {
    const now = this.d.nowMs();
    const retire = { done, giveUpMs: now + RETIRE_TIMEOUT_MS, resendMs: now + RETIRE_RESEND_MS };
    this.open(to, "retire", null, retire);
  }

  private open(
    peer: number,
    kind: Session["kind"],
    round: Round | null,
    retire: Session["retire"],
  ): number {
    const sid = this.nextSid++;
    const deadlineMs = this.d.nowMs() + SESSION_TIMEOUT_MS;
    const at = this.d.changes();
    const s: Session = {
      peer,
      kind,
      at,
      deadlineMs,
      retryAtMs: null,
      batch: null,
      whole: false,
      round,
      retire,
    };
    this.sessions.set(sid, s);
    this.d.open(peer, sid, kind === "retire");
    return sid;
  }

  private onVector(from: number, sid: number, req: AntiEntropyRequest | null, busy: boolean): void {
    const s = this.sessions.get(sid);
    if (s === undefined || s.peer !== from || s.batch !== null) return;
    if (req === null && !busy && s.retire === null) {
      this.cover(from, s.at);
      return this.finish(sid, s, "still");
    }
    if (req === null) {
      // The receiver is in another session. A retirement asks again at its next resend.
      if (s.retire === null) this.busyAgain(sid, s, this.d.nowMs());
      return;
    }
    this.d.batchFor(sid, req, s.kind === "retire");
  }

  private cover(peer: number, at: number): void {
    this.covered.set(peer, Math.max(at, this.covered.get(peer) ?? 0));
  }

  private onBatch(sid: number, batch: AntiEntropyBatch, whole: boolean): void {
    const s = this.sessions.get(sid);
    if (s === undefined || s.batch !== null) return;
    s.batch = batch;
    s.whole = whole;
    this.sendBatch(sid, s);
    const empty = batch.full === null && batch.items.length === 0 && !batch.handoffPrimary;
    // An empty batch only releases the receiver; there is nothing to wait for.
    if (empty && s.retire === null) this.finish(sid, s, "still");
  }

  private sendBatch(sid: number, s: Session): void {
    if (s.batch === null) return;
    const retire = s.retire !== null;
    this.d.send(s.peer, {
      t: "ae_batch",
      from: this.d.me,
      sid,
      batch: batchToWire(s.batch),
      retire,
    });
  }

  private onDone(from: number, sid: number): void {
    const s = this.sessions.get(sid);
    if (s === undefined || s.peer !== from || s.batch === null) return;
    // The receiver applied all this server held when the session began.
    if (s.whole) this.cover(from, s.at);
    this.finish(sid, s, "moved");
  }

  private retireTick(sid: number, s: Session, now: number): void {
    const r = s.retire;
    if (r === null) return;
    if (now >= r.giveUpMs) {
      this.sessions.delete(sid);
      r.done(false);
      return;
    }
    if (now < r.resendMs) return;
    r.resendMs = now + RETIRE_RESEND_MS;
    // Before the batch exists, ask for the vector again; after, resend the same batch (its
    // receiver takes a write it already has as a no-op).
    if (s.batch === null) this.d.open(s.peer, sid, true);
    else this.sendBatch(sid, s);
  }

  /** A round's session asks again later while its round may wait; anything else is busy now. */
  private busyAgain(sid: number, s: Session, now: number): void {
    if (s.round === null || now + BUSY_RETRY_MS >= s.round.retryUntilMs) {
      return this.finish(sid, s, "busy");
    }
    s.retryAtMs = now + BUSY_RETRY_MS;
  }

  private reopen(sid: number, s: Session, now: number): void {
    s.retryAtMs = null;
    s.deadlineMs = now + SESSION_TIMEOUT_MS;
    this.d.open(s.peer, sid, false);
  }

  private finish(sid: number, s: Session, how: "moved" | "still" | "busy"): void {
    this.sessions.delete(sid);
    if (s.retire !== null) {
      s.retire.done(how === "moved");
      return;
    }
    const round = s.round;
    if (round === null) return;
    if (how === "moved") round.result.moved += 1;
    if (how === "busy") round.result.busy += 1;
    round.open.delete(sid);
    if (round.open.size === 0) round.done(round.result);
  }
}
