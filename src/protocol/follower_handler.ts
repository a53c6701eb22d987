// follower handler: the rank's acceptor. It answers a leader's read with a gather (a promise plus
// everything accepted at or above the leader's base) and an impose with an ack, after making the
// promise/accept durable (persist effects come before the reply; the shell keeps that order).
// It serves every round, including the rounds its own rank leads: the leader's self-vote takes the
// same durable path as any other vote. When another rank leads and stays silent for the read
// timeout, it asks the msg handler to bump the round.
import { StepTime } from "./assert.js";
import { Deadline } from "./deadline.js";
import { AcceptedLog } from "./accepted_log.js";
import {
  leaderOf,
  type Effect,
  type FollowerIn,
  type ProcessorLogic,
  type StorageRecord,
} from "./effects.js";
import { cmdAt, type ImposeMsg, type ReadIndexMsg, type ReadMsg } from "./messages.js";

/** How far above its floor an acceptor accepts (a bound against hostile frames, not a protocol limit). */
const MAX_AHEAD = 1 << 24;

export interface AcceptorState {
  promised: number;
  floor: number;
  entries: Array<{ seq: number; round: number; id: string }>;
}

export interface FollowerStats {
  gathers: number;
  acks: number;
  nacks: number;
  timeouts: number;
  /** Reads, imposes and probes left unanswered while rejoining. */
  silenced: number;
}

export class FollowerHandler implements ProcessorLogic<FollowerIn> {
  private promised = 0;
  private round = 0;
  private readonly log = new AcceptedLog();
  /** The leader of the current round has been silent for a timeout: ask for a new round. */
  private readonly silence = new Deadline("leader-silence");
  /** The round's patience (patience.ts): the silence allowed is -o times it. */
  private patience = 1;
  private readonly time: StepTime;
  private backlog = 0;
  private acks: Array<{ to: number; round: number; seq: number; count: number }> = [];
  /** False while the rank rejoins after losing its disk: it forgot what it promised and
   * accepted, so it answers no read, impose or read probe until it has caught up with a
   * majority of the others (the consensus handler says when, with a vote input). */
  private voting = true;
  readonly stats: FollowerStats = { gathers: 0, acks: 0, nacks: 0, timeouts: 0, silenced: 0 };

  constructor(
    private readonly me: number,
    private readonly n: number,
    private readonly timeoutUs: number,
    nowUs: number,
  ) {
    this.silence.arm(nowUs + timeoutUs);
    this.time = new StepTime(`rank ${me}: follower`);
  }

  /** Rebuild acceptor state from durable records (in append order). */
  restore(records: readonly StorageRecord[]): void {
    for (const rec of records) {
      if (rec.r === "promise")
        this.restoredPromise = this.promised = Math.max(this.promised, rec.round);
      else if (rec.r === "floor") this.log.raiseFloor(rec.seq);
      else if (rec.r === "accept")
        rec.ids.forEach((id, i) => this.log.set(rec.seq + i, rec.round, id, cmdAt(rec.cmds, i)));
    }
    this.round = this.promised;
  }

  get promisedRound(): number {
    return this.promised;
  }

  /** The highest round promised in an earlier life (-1 on a fresh start). */
  restoredPromise = -1;

  /** Start without voting (a rank rejoining on an empty disk). */
  holdVotes(): void {
    this.voting = false;
  }

  state(): AcceptorState {
    const entries: AcceptorState["entries"] = [];
    for (const [seq, round, ids] of this.log.runsFrom(0))
      ids.forEach((id, i) => entries.push({ seq: seq + i, round, id }));
    return { promised: this.promised, floor: this.log.floor, entries };
  }

  /** Durable records describing the acceptor now (for a write-ahead log checkpoint). */
  snapshotRecords(): StorageRecord[] {
    const recs: StorageRecord[] = [
      { r: "promise", round: this.promised },
      { r: "floor", seq: this.log.floor },
    ];
    for (const [seq, round, ids, cmds] of this.log.runsFrom(0))
      recs.push(cmds ? { r: "accept", round, seq, ids, cmds } : { r: "accept", round, seq, ids });
    return recs;
  }

  onInput(input: FollowerIn, nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    switch (input.kind) {
      case "round":
        if (input.round > this.round) {
          this.round = input.round;
          this.patience = input.patience ?? 1;
          this.silence.arm(nowUs + this.silenceUs());
        }
        return;
      case "local":
        return this.onLocal(input.commitIndex, input.backlog, out);
      case "vote":
        return this.startVoting(out);
      case "net":
        if (!this.voting) {
          // Nothing it says may count, but the rounds it sees bound what it promises later.
          this.stats.silenced++;
          if ("round" in input.msg) this.heard(input.msg.round, input.msg.from, nowUs);
          return;
        }
        if (input.msg.t === "read") this.onRead(input.msg, nowUs, out);
        else if (input.msg.t === "readIndex") this.onReadIndex(input.msg, out);
        else this.onImpose(input.msg, nowUs, out);
        return;
    }
  }

  onTime(nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    if (leaderOf(this.round, this.n) === this.me) return; // our own leader handler drives time
    if (!this.silence.fired(nowUs)) return;
    this.stats.timeouts++;
    this.silence.arm(nowUs + this.silenceUs()); // one bump request per silence period
    out.push({
      kind: "toMsg",
      msg: { kind: "bump", round: this.round, reason: "timeout", by: "follower" },
    });
  }

  wakeAt(): number {
    return leaderOf(this.round, this.n) === this.me ? Infinity : this.silence.at;
  }

  private onRead(msg: ReadMsg, nowUs: number, out: Effect[]): void {
    if (!this.promise(msg.round, msg.from, out)) return;
    this.heard(msg.round, msg.from, nowUs);
    this.stats.gathers++;
    out.push({
      kind: "send",
      to: msg.from,
      msg: {
        t: "gather",
        from: this.me,
        round: msg.round,
        floor: this.log.floor,
        runs: this.log.runsFrom(msg.base),
        backlog: this.backlog,
      },
    });
  }

  private onImpose(msg: ImposeMsg, nowUs: number, out: Effect[]): void {
    if (!this.promise(msg.round, msg.from, out)) return;
    this.heard(msg.round, msg.from, nowUs);
    if (msg.seq + msg.ids.length - this.log.floor > MAX_AHEAD) return; // no correct leader is that far ahead
    if (msg.ids.length > 0) {
      msg.ids.forEach((id, i) => this.log.set(msg.seq + i, msg.round, id, cmdAt(msg.cmds, i)));
      const { round, seq, ids, cmds } = msg;
      out.push({
        kind: "persist",
        record: cmds ? { r: "accept", round, seq, ids, cmds } : { r: "accept", round, seq, ids },
      });
    }
    this.stats.acks++;
    const last = this.acks[this.acks.length - 1];
    // Acks of one step leave at its end; contiguous ones to the same leader and round as one.
    if (
      last &&
      last.to === msg.from &&
      last.round === msg.round &&
      msg.ids.length > 0 &&
      last.count > 0 &&
      last.seq + last.count === msg.seq
    ) {
      last.count += msg.ids.length;
    } else this.acks.push({ to: msg.from, round: msg.round, seq: msg.seq, count: msg.ids.length });
  }

  endStep(_nowUs: number, out: Effect[]): void {
    for (const a of this.acks) {
      out.push({
        kind: "send",
        to: a.to,
        msg: {
          t: "ack",
          from: this.me,
          round: a.round,
          seq: a.seq,
          count: a.count,
          backlog: this.backlog,
        },
      });
    }
    this.acks = [];
  }

  /** Caught up after rejoining: promise the highest round seen meanwhile, so no leader of a round
   * that began while this rank could not remember its promises gets its vote. (A round that
   * began before the disk was lost and was never heard of since may still; the catch-up wait makes
   * that leader's values, if chosen, known before this rank votes.) */
  private startVoting(out: Effect[]): void {
    if (this.voting) return;
    this.voting = true;
    this.promise(this.round, this.me, out);
  }

  /** The acceptor's rule: nothing from a round below the promised one. A seam for the simulator,
   * whose known-bug subclass breaks it to prove the simulator notices; nothing else overrides it. */
  protected refusesLowerRounds(): boolean {
    return true;
  }

  /** Check and record the promise for round; false (with a nack sent) if it is stale. */
  private promise(round: number, leader: number, out: Effect[]): boolean {
    if (round < this.promised && this.refusesLowerRounds()) {
      this.stats.nacks++;
      out.push({
        kind: "send",
        to: leader,
        msg: { t: "nack", from: this.me, round: this.promised },
      });
      return false;
    }
    if (round > this.promised) {
      this.promised = round;
      out.push({ kind: "persist", record: { r: "promise", round } });
    }
    return true;
  }

  private heard(round: number, from: number, nowUs: number): void {
    if (round > this.round) this.round = round;
    if (from === leaderOf(this.round, this.n)) this.silence.arm(nowUs + this.silenceUs());
  }

  /** How long the leader may be silent: -o, stretched after rounds failed one after another. */
  private silenceUs(): number {
    return this.timeoutUs * this.patience;
  }

  /** How far this acceptor's log goes: one past its highest accepted seq, or its floor (its own
   * commit index) if higher. A value chosen before the probe was sent was accepted by a majority,
   * so some acceptor of any answering majority counts it (or has committed past it). */
  private onReadIndex(msg: ReadIndexMsg, out: Effect[]): void {
    const upTo = Math.max(this.log.end, this.log.floor);
    out.push({
      kind: "send",
      to: msg.from,
      msg: { t: "readIndexOk", from: this.me, nonce: msg.nonce, upTo },
    });
  }

  private onLocal(commitIndex: number, backlog: number, out: Effect[]): void {
    this.raiseFloor(commitIndex, out);
    this.backlog = backlog;
  }

  /** Entries below the rank's own commit index are dropped: every seq below the floor is in this
   * rank's log file (written before the consensus handler announced the index), so it can always be
   * fetched from here. (A floor raised from what a leader merely knows to be chosen could drop the
   * only copies of values whose commit messages were all lost.) The floor record needs no sync of its
   * own: until it is durable a restart merely reports the older floor with the entries above it. */
  private raiseFloor(seq: number, out: Effect[]): void {
    if (seq <= this.log.floor) return;
    out.push({ kind: "persist", record: { r: "floor", seq } });
    this.log.raiseFloor(seq);
  }
}
