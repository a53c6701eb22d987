// msg handler: owns the rank's estround and so who leads. Every frame from the network passes here:
// a larger round bumps the rank, a stale read/impose is answered with a nack (so a stale leader
// learns at once), and each message is routed to the processor that owns it.
import { invariant } from "./assert.js";
import {
  leaderOf,
  type Effect,
  type MsgIn,
  type ProcessorLogic,
  type RoundChange,
} from "./effects.js";
import type { RoundMsg, WireMsg } from "./messages.js";
import { Patience } from "./patience.js";

export interface MsgStats {
  bumps: number;
  staleDropped: number;
  nacksSent: number;
}

export class MsgHandler implements ProcessorLogic<MsgIn> {
  round: number;
  readonly stats: MsgStats = { bumps: 0, staleDropped: 0, nacksSent: 0 };
  /** Announced with every round: the follower's and the leader's timeouts are stretched by it. */
  private readonly patience: Patience;

  constructor(
    private readonly me: number,
    private readonly n: number,
    initialRound: number,
    timeoutUs: number,
  ) {
    this.round = initialRound;
    this.patience = new Patience(timeoutUs);
  }

  /** Announce the starting round to leader and follower (called once when the rank starts). */
  start(out: Effect[]): void {
    this.announce(out);
  }

  onInput(input: MsgIn, nowUs: number, out: Effect[]): void {
    if (input.kind === "bump") {
      return this.onBumpRequest(input.round, input.reason, input.by, nowUs, out);
    }
    const msg = input.msg;
    if ("round" in msg) this.onRoundMsg(msg, out);
    else if (msg.t === "readIndex") out.push({ kind: "toFollower", msg: { kind: "net", msg } });
    else out.push({ kind: "toConsensus", msg: { kind: "net", msg } });
  }

  onTime(_nowUs: number, _out: Effect[]): void {
    // Nothing is timed here: silence is detected by the follower, slowness by the leader.
  }

  wakeAt(): number {
    return Infinity;
  }

  /** The rule that a rank never takes part in a round below its own. A seam for the simulator,
   * whose known-bug subclass breaks it to prove the simulator notices; nothing else overrides it. */
  protected refusesLowerRounds(): boolean {
    return true;
  }

  private onRoundMsg(msg: RoundMsg, out: Effect[]): void {
    if (msg.t === "end") {
      // The leader of msg.round finished its round: leadership moves on, possibly skipping ranks
      // with nothing to propose (never more than one full turn).
      const next = Math.min(Math.max(msg.next, msg.round + 1), msg.round + this.n);
      if (msg.round >= this.round && next > this.round) this.setRound(next, "end", out);
      return;
    }
    if (msg.round > this.round) this.setRound(msg.round, "larger", out);
    switch (msg.t) {
      case "read":
      case "impose":
        if (msg.round < this.round && this.refusesLowerRounds()) return this.nack(msg, out);
        out.push({ kind: "toFollower", msg: { kind: "net", msg } });
        return;
      case "want":
        // A stale leader's allotment would only tie own instances to seqs it cannot impose.
        if (msg.round < this.round) return this.nack(msg, out);
        out.push({ kind: "toConsensus", msg: { kind: "net", msg } });
        return;
      case "gather":
      case "ack":
      case "offer":
      case "grant":
        if (msg.round === this.round && leaderOf(this.round, this.n) === this.me) {
          out.push({ kind: "toLeader", msg: { kind: "net", msg } });
        } else this.stats.staleDropped++;
        return;
      case "nack":
      case "ping":
        return; // their only effect is the bump above
    }
  }

  private onBumpRequest(
    seen: number,
    reason: string,
    by: "leader" | "follower" | "consensus",
    nowUs: number,
    out: Effect[],
  ): void {
    if (seen < this.round) {
      // A repeated (or stale) bump is ignored, but the requester evidently missed the current
      // round (a dropped notification), so tell it again.
      const note = this.note();
      if (by === "leader") out.push({ kind: "toLeader", msg: note });
      else if (by === "follower") out.push({ kind: "toFollower", msg: note });
      else out.push({ kind: "toConsensus", msg: note });
      return;
    }
    if (reason === "timeout" || reason === "giveup") this.patience.failed(nowUs);
    this.setRound(seen + 1, reason, out);
  }

  private setRound(round: number, reason: string, out: Effect[]): void {
    invariant(
      round > this.round,
      () => `rank ${this.me}: round would go from ${this.round} to ${round}`,
    );
    this.round = round;
    this.stats.bumps++;
    this.announce(out);
    const next = leaderOf(round, this.n);
    // After a timeout, wake the next leader up: it may not have noticed the silence yet.
    if ((reason === "timeout" || reason === "giveup") && next !== this.me) {
      out.push({ kind: "send", to: next, msg: { t: "ping", from: this.me, round } });
    }
  }

  private announce(out: Effect[]): void {
    out.push({ kind: "toLeader", msg: this.note() });
    out.push({ kind: "toFollower", msg: this.note() });
    out.push({ kind: "toConsensus", msg: this.note() });
  }

  private note(): RoundChange {
    const factor = this.patience.factor;
    return factor === 1
      ? { kind: "round", round: this.round }
      : { kind: "round", round: this.round, patience: factor };
  }

  private nack(msg: WireMsg, out: Effect[]): void {
    this.stats.nacksSent++;
    out.push({ kind: "send", to: msg.from, msg: { t: "nack", from: this.me, round: this.round } });
  }
}
