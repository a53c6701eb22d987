// Read barriers (read-index, no clocks, no leases). A barrier started at time t resolves with a seq
// S such that everything committed anywhere before t is at seq <= S, a majority confirmed it after
// t, and this rank has committed S. How: after t, probe every acceptor (this rank's own included)
// for how far its log goes; a value chosen before t was accepted by a majority, and any majority
// that answers shares an acceptor with it, so S = (the highest answer of a majority) - 1 covers
// it. Then wait until this rank's commit index passes S. Without a majority nothing resolves:
// probes are repeated every half timeout. One probe is in flight at a time; every barrier started
// before a probe left shares it.
// An acceptor may report a value a dead leader imposed on a minority only (never chosen, never
// re-imposed): S then lies beyond the log, and an idle cluster would never commit that far. So a
// barrier that waits a whole timeout without the commit index moving asks for a few new instances
// (nudge): allotted at the leader's next free seqs, they grow the log past S.
import { invariant } from "./assert.js";
import { Deadline, earliest } from "./deadline.js";
import { quorumOf, type Effect } from "./effects.js";
import type { ReadIndexOkMsg } from "./messages.js";

export interface ReadBarrierConfig {
  me: number;
  n: number;
  timeoutUs: number;
  createdUs: number;
}

/** Most barriers waiting at once here (the rank bounds what it hands in; this is the backstop). */
export const MAX_READ_BARRIERS = 65_536;

export class ReadBarriers {
  /** Barriers waiting for a probe sent after they started. */
  private unprobed: number[] = [];
  /** The probe in flight: its nonce, its barriers, the answers so far (rank -> upTo). */
  private probe: { nonce: number; tickets: number[]; answers: Map<number, number> } | null = null;
  /** Nonces start from the rank's creation time, so an answer to a probe of an earlier life of
   * this rank (sent before a restart) never matches a probe of this one. */
  private nextNonce: number;
  /** Barriers whose S is known, waiting for the commit index to pass it (a later probe's S may be lower: all are scanned). */
  private waiting: { ticket: number; seq: number }[] = [];
  private readonly probeAgain = new Deadline("read-probe-again");
  /** Barriers wait and the commit index has not moved for a timeout: grow the log. */
  private readonly nudge = new Deadline("read-nudge");
  private lastCommitIndex = -1;

  constructor(private readonly cfg: ReadBarrierConfig) {
    this.nextNonce = Math.floor(cfg.createdUs) + 1;
  }

  get pending(): number {
    return this.unprobed.length + (this.probe?.tickets.length ?? 0) + this.waiting.length;
  }

  /** A barrier starts now. The rank lets in at most MAX_READ_BARRIERS: more is a bug of its own. */
  start(ticket: number, nowUs: number, out: Effect[]): void {
    invariant(
      this.pending < MAX_READ_BARRIERS,
      () => `rank ${this.cfg.me}: more read barriers than the rank lets in`,
    );
    this.unprobed.push(ticket);
    if (!this.probe) this.sendProbe(nowUs, out);
  }

  onAnswer(msg: ReadIndexOkMsg, commitIndex: number, nowUs: number, out: Effect[]): void {
    const probe = this.probe;
    if (!probe || msg.nonce !== probe.nonce) return; // an answer to an older probe
    probe.answers.set(msg.from, msg.upTo);
    if (probe.answers.size < quorumOf(this.cfg.n)) return;
    const seq = Math.max(...probe.answers.values()) - 1;
    for (const ticket of probe.tickets) this.waiting.push({ ticket, seq });
    this.probe = null;
    this.probeAgain.disarm();
    if (this.unprobed.length > 0) this.sendProbe(nowUs, out);
    this.resolve(commitIndex, out);
  }

  /** The commit index moved: barriers whose S it passed resolve. */
  resolve(commitIndex: number, out: Effect[]): void {
    if (this.waiting.length === 0) return this.nudge.disarm();
    const still: { ticket: number; seq: number }[] = [];
    for (const w of this.waiting) {
      if (w.seq < commitIndex) out.push({ kind: "readDone", ticket: w.ticket, seq: w.seq });
      else still.push(w);
    }
    this.waiting = still;
    if (still.length === 0) this.nudge.disarm();
  }

  /** How many new instances to ask for now (0: none): barriers have waited a timeout for a commit
   * index that did not move. At most maxNudge at a time, and again a timeout later if need be. */
  nudgeCount(commitIndex: number, nowUs: number, maxNudge: number): number {
    if (this.waiting.length === 0) return 0;
    if (commitIndex !== this.lastCommitIndex || !this.nudge.armed) {
      this.lastCommitIndex = commitIndex;
      this.nudge.arm(nowUs + this.cfg.timeoutUs);
      return 0;
    }
    if (!this.nudge.fired(nowUs)) return 0;
    this.nudge.arm(nowUs + this.cfg.timeoutUs);
    let highest = -1;
    for (const w of this.waiting) highest = Math.max(highest, w.seq);
    return Math.max(0, Math.min(maxNudge, highest + 1 - commitIndex));
  }

  /** Repeat the probe to the ranks that have not answered (lost, or a minority is all we hear). */
  onTime(nowUs: number, out: Effect[]): void {
    const probe = this.probe;
    if (!probe || !this.probeAgain.fired(nowUs)) return;
    const msg = { t: "readIndex" as const, from: this.cfg.me, nonce: probe.nonce };
    for (let r = 0; r < this.cfg.n; r++)
      if (!probe.answers.has(r)) out.push({ kind: "send", to: r, msg });
    this.probeAgain.arm(nowUs + this.cfg.timeoutUs / 2);
  }

  wakeAt(): number {
    return this.probe ? earliest([this.probeAgain, this.nudge]) : this.nudge.at;
  }

  private sendProbe(nowUs: number, out: Effect[]): void {
    const nonce = this.nextNonce++;
    this.probe = { nonce, tickets: this.unprobed, answers: new Map() };
    this.unprobed = [];
    out.push({ kind: "broadcast", msg: { t: "readIndex", from: this.cfg.me, nonce } });
    this.probeAgain.arm(nowUs + this.cfg.timeoutUs / 2);
  }
}
