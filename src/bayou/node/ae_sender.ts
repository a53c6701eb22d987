// The anti-entropy sender processor of a Bayou server (Petersen et al. '97): it opens a session
// with a receiver, gets the receiver's version vector and CSN, asks the write log for exactly what
// the receiver lacks, sends it, and waits for the receiver to apply it. Sessions start three ways:
// a round (the master's stabilize: one session with every linked server at once), gossip (one
// random linked server every so often, when enabled), and retirement (the last batch, resent
// until the receiver has it). A session that does not finish in time counts as busy, so a round
// that met one is not taken for quiescence.
import type { AntiEntropyBatch, AntiEntropyRequest } from "../server_core.js";
import { batchToWire, type PeerMsg } from "./messages.js";

/** A session's receiver must answer within this (it then counts as busy). */
export const SESSION_TIMEOUT_MS = 2000;
/** A round's session that met a busy receiver asks again this often, for up to ROUND_RETRY_MS
 * (longer than a receiver holds a lapsed session), before it counts as busy. */
const BUSY_RETRY_MS = 100;
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
  | { k: "round"; done: (r: RoundResult) => void }
  | { k: "retire"; to: number; done: (ok: boolean) => void }
  | { k: "gossip"; to: number }
  | { k: "vector"; from: number; sid: number; req: AntiEntropyRequest | null; busy: boolean }
  | { k: "batch"; sid: number; batch: AntiEntropyBatch }
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
  deadlineMs: number;
  /** A busy round session waits until then to ask again. */
  retryAtMs: number | null;
  batch: AntiEntropyBatch | null;
  round: Round | null;
  retire: { done: (ok: boolean) => void; giveUpMs: number; resendMs: number } | null;
}

export class AntiEntropySender {
  private nextSid = 1;
  private readonly sessions = new Map<number, Session>();

  constructor(private readonly d: SenderDeps) {}

  /** Whether a gossip or retirement session is running (gossip waits for them). */
  get busy(): boolean {
    for (const s of this.sessions.values()) if (s.kind !== "round") return true;
    return false;
  }

  step(input: SenderInput): void {
    switch (input.k) {
      case "round":
        return this.startRound(input.done);
      case "retire":
        return this.startRetire(input.to, input.done);
      case "gossip":
        if (!this.busy) this.open(input.to, "gossip", null, null);
        return;
      case "vector":
        return this.onVector(input.from, input.sid, input.req, input.busy);
      case "batch":
        return this.onBatch(input.sid, input.batch);
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

  private startRound(done: (r: RoundResult) => void): void {
    const retryUntilMs = this.d.nowMs() + ROUND_RETRY_MS;
    const round: Round = { open: new Set(), retryUntilMs, result: { moved: 0, busy: 0 }, done };
    for (const peer of this.d.linkedPeers()) round.open.add(this.open(peer, "round", round, null));
    if (round.open.size === 0) done(round.result);
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
    this.sessions.set(sid, { peer, kind, deadlineMs, retryAtMs: null, batch: null, round, retire });
    this.d.open(peer, sid, kind === "retire");
    return sid;
  }

  private onVector(from: number, sid: number, req: AntiEntropyRequest | null, busy: boolean): void {
    const s = this.sessions.get(sid);
    if (s === undefined || s.peer !== from || s.batch !== null) return;
    if (req === null && !busy && s.retire === null) return this.finish(sid, s, "still");
    if (req === null) {
      // The receiver is in another session. A retirement asks again at its next resend.
      if (s.retire === null) this.busyAgain(sid, s, this.d.nowMs());
      return;
    }
    this.d.batchFor(sid, req, s.kind === "retire");
  }

  private onBatch(sid: number, batch: AntiEntropyBatch): void {
    const s = this.sessions.get(sid);
    if (s === undefined || s.batch !== null) return;
    s.batch = batch;
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
