// leader handler: active only in the rounds this rank leads (round mod N == rank).
// read:   broadcast read(round, base); wait for gathers from a majority.
// sync:   C = the highest floor seen (every seq below it is chosen). For each seq from C to the
//         highest seq reported, re-impose the value accepted in the highest round; fill holes with
//         own instances (wants to this rank's consensus handler, which binds them to those seqs).
// impose: every rank (this one included) offers what it has waiting; the leader allots each one
//         a run of free seqs (want, at most -l per round in all), the owner binds its instances
//         there and grants them back, and the leader imposes them in batches, pipelined up to a
//         window; on a majority of acks it broadcasts commit (with values). An owner that does not
//         answer in time has its run filled with this rank's instances instead.
// end:    when the quota is used up and everything imposed is committed: broadcast end; the round
//         moves to the next rank.
// Lost messages are retransmitted; no progress for giveUp time bumps the round.
import { invariant, StepTime } from "./assert.js";
import { Deadline, earliest } from "./deadline.js";
import { leaderOf, quorumOf, type Effect, type LeaderIn, type ProcessorLogic } from "./effects.js";
import { ImposePipeline, type PipelineConfig, type PipelineStats } from "./impose_pipeline.js";
import { syncPlan } from "./leader_plan.js";
import type { AckMsg, GatherMsg, WireMsg } from "./messages.js";

export type LeaderConfig = PipelineConfig;

type Phase = "idle" | "reading" | "imposing" | "ending";

export interface LeaderStats extends PipelineStats {
  roundsLed: number;
  giveUps: number;
}

export class LeaderHandler implements ProcessorLogic<LeaderIn> {
  private round = 0;
  private phase: Phase = "idle";
  /** The leader's periodic look at its round (every quarter timeout while it leads one). */
  private readonly tick = new Deadline("leader-tick");
  /** Nothing was sent for half a timeout while reading: ask the silent ranks again. */
  private readonly readAgain = new Deadline("read-again");
  /** Nothing was sent for a third of a timeout while imposing: send a heartbeat. */
  private readonly heartbeat = new Deadline("heartbeat");
  /** No progress for three timeouts (times the patience) while work is under way: give up. */
  private readonly noProgress = new Deadline("no-progress");
  /** Our end (or the round change it causes) may be lost: say it again after half a timeout. */
  private readonly endAgain = new Deadline("end-again");
  private readBase = 0;
  private readonly gathers = new Map<number, GatherMsg>();
  /** Rounds up to this one may have been led by this rank before a restart: never lead them again. */
  private readonly ledUpTo: number;
  private readonly pipeline: ImposePipeline;
  private readonly backlogs = new Map<number, number>();
  private localCommit = 0;
  private localBacklog = 0;
  /** The round's patience (patience.ts): give-up time is stretched by it. */
  private patience = 1;
  private readonly quorum: number;
  readonly stats: LeaderStats = {
    roundsLed: 0,
    committed: 0,
    reimposed: 0,
    holesFilled: 0,
    giveUps: 0,
    retransmits: 0,
  };
  private readonly time: StepTime;

  constructor(
    private readonly cfg: LeaderConfig,
    restoredPromise = -1,
  ) {
    this.quorum = quorumOf(cfg.n);
    this.time = new StepTime(`rank ${cfg.me}: leader`);
    this.ledUpTo = restoredPromise;
    this.pipeline = new ImposePipeline(cfg, this.quorum, this.stats, {
      broadcast: (msg, nowUs, out) => this.broadcast(msg, nowUs, out),
      progressed: (nowUs) => this.progressed(nowUs),
    });
  }

  get active(): boolean {
    return this.phase !== "idle";
  }

  /** The round this rank is leading and how far it got (null while it leads none), for status reports. */
  get leading(): { round: number; phase: Exclude<Phase, "idle"> } | null {
    return this.phase === "idle" ? null : { round: this.round, phase: this.phase };
  }

  onInput(input: LeaderIn, nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    switch (input.kind) {
      case "round":
        if (
          input.round > this.round ||
          (input.round === this.round && this.phase === "idle" && this.leads(input.round))
        ) {
          this.patience = input.patience ?? 1;
          this.enterRound(input.round, nowUs, out);
        }
        return;
      case "local":
        this.localCommit = Math.max(this.localCommit, input.commitIndex);
        this.localBacklog = input.backlog;
        return;
      case "net":
        switch (input.msg.t) {
          case "gather":
            return this.onGather(input.msg, nowUs, out);
          case "ack":
            return this.onAck(input.msg, nowUs, out);
          case "offer":
            if (input.msg.round !== this.round || this.phase === "idle") return;
            return this.pipeline.onOffer(input.msg, nowUs, out);
          case "grant":
            if (input.msg.round !== this.round) return;
            return this.pipeline.onGrant(input.msg, nowUs, out);
        }
    }
  }

  onTime(nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    if (this.phase === "idle") return;
    this.tick.arm(nowUs + this.cfg.timeoutUs / 4);
    if (this.phase === "reading") this.tickReading(nowUs, out);
    else if (this.phase === "imposing") this.tickImposing(nowUs, out);
    else this.tickEnding(nowUs, out);
  }

  /** The periodic tick, or sooner the deadline of the phase: a heartbeat or a repeated read or
   * end leaves on time, not at the next tick after it. */
  wakeAt(): number {
    if (this.phase === "idle") return Infinity;
    const byPhase = { reading: this.readAgain, imposing: this.heartbeat, ending: this.endAgain };
    return earliest([this.tick, byPhase[this.phase]]);
  }

  endStep(nowUs: number, out: Effect[]): void {
    this.pipeline.flushImposes(nowUs, out);
    this.pipeline.flushCommits(out);
  }

  private leads(round: number): boolean {
    return leaderOf(round, this.cfg.n) === this.cfg.me && round > this.ledUpTo;
  }

  /** A new leader reads from a majority before it imposes anything (the sync). A seam for the
   * simulator, whose known-bug subclass skips the read to prove the simulator notices. */
  protected readsFirst(): boolean {
    return true;
  }

  private enterRound(round: number, nowUs: number, out: Effect[]): void {
    invariant(
      round >= this.round,
      () => `rank ${this.cfg.me}: leader moved from round ${this.round} back to ${round}`,
    );
    this.pipeline.flushCommits(out);
    this.pipeline.reset(round);
    this.round = round;
    this.phase = "idle";
    this.gathers.clear();
    this.backlogs.clear();
    if (!this.leads(round)) return;
    this.stats.roundsLed++;
    this.phase = "reading";
    this.progressed(nowUs);
    this.tick.arm(nowUs + this.cfg.timeoutUs / 4);
    this.readBase = this.localCommit;
    // Durable before the read leaves: after a restart this rank must never lead this round again
    // (a second read could find a different majority and impose different values in one round).
    out.push({ kind: "persist", record: { r: "promise", round } });
    if (!this.readsFirst()) return this.startImposing(nowUs, out);
    this.broadcast({ t: "read", from: this.cfg.me, round, base: this.readBase }, nowUs, out);
  }

  private onGather(msg: GatherMsg, nowUs: number, out: Effect[]): void {
    if (this.phase !== "reading" || msg.round !== this.round) return;
    this.gathers.set(msg.from, msg);
    this.backlogs.set(msg.from, msg.backlog);
    if (this.gathers.size >= this.quorum) this.startImposing(nowUs, out);
  }

  /** Sync: re-impose, for each open seq, the value accepted in the highest round; fill holes. */
  private startImposing(nowUs: number, out: Effect[]): void {
    const { chosenBelow, maxSeen, best } = syncPlan(this.gathers.values(), this.readBase);
    this.phase = "imposing";
    this.pipeline.allotting = true;
    this.progressed(nowUs);
    this.pipeline.nextSeq = maxSeen + 1;
    this.pipeline.resync(chosenBelow, maxSeen, best, nowUs, out);
    this.pipeline.serveOffers(nowUs, out);
    this.maybeEnd(nowUs, out);
  }

  private onAck(msg: AckMsg, nowUs: number, out: Effect[]): void {
    this.backlogs.set(msg.from, msg.backlog);
    if (msg.round !== this.round || (this.phase !== "imposing" && this.phase !== "ending")) return;
    this.pipeline.onAck(msg, nowUs);
    this.pipeline.serveOffers(nowUs, out);
    this.maybeEnd(nowUs, out);
  }

  /** End the round once the quota is used and everything imposed is committed. */
  private maybeEnd(nowUs: number, out: Effect[]): void {
    if (this.phase !== "imposing" || this.pipeline.busy || !this.pipeline.quotaUsed) return;
    this.pipeline.flushCommits(out);
    this.phase = "ending";
    this.pipeline.allotting = false;
    this.endAgain.arm(nowUs + this.cfg.timeoutUs / 2);
    this.broadcast(this.endMsg(), nowUs, out);
  }

  /** Hand the next round to the first rank after this one that has instances waiting. */
  private endMsg(): WireMsg {
    const { me, n } = this.cfg;
    let skip = 1;
    for (let d = 1; d <= n; d++) {
      const r = (me + d) % n;
      const backlog = r === me ? this.localBacklog : (this.backlogs.get(r) ?? 0);
      if (backlog > 0) {
        skip = d;
        break;
      }
    }
    return { t: "end", from: me, round: this.round, next: this.round + skip };
  }

  private tickReading(nowUs: number, out: Effect[]): void {
    if (this.readAgain.fired(nowUs)) {
      const read: WireMsg = {
        t: "read",
        from: this.cfg.me,
        round: this.round,
        base: this.readBase,
      };
      for (let r = 0; r < this.cfg.n; r++) {
        if (this.gathers.has(r)) continue;
        this.stats.retransmits++;
        out.push({ kind: "send", to: r, msg: read });
      }
      this.sent(nowUs);
    }
    this.maybeGiveUp(nowUs, out);
  }

  private tickImposing(nowUs: number, out: Effect[]): void {
    this.pipeline.retransmit(nowUs, out);
    if (this.heartbeat.fired(nowUs)) {
      // Heartbeat: an empty impose keeps followers from timing out and collects their backlogs.
      this.broadcast(
        { t: "impose", from: this.cfg.me, round: this.round, seq: this.pipeline.nextSeq, ids: [] },
        nowUs,
        out,
      );
    }
    // Only work under way can stall; an idle leader holding its round is not stuck.
    if (this.pipeline.busy) this.maybeGiveUp(nowUs, out);
  }

  private tickEnding(nowUs: number, out: Effect[]): void {
    if (!this.endAgain.fired(nowUs)) return;
    // Our own end (or the resulting round change) was lost: say it again.
    this.endAgain.arm(nowUs + this.cfg.timeoutUs / 2);
    this.broadcast(this.endMsg(), nowUs, out);
  }

  private maybeGiveUp(nowUs: number, out: Effect[]): void {
    if (!this.noProgress.fired(nowUs)) return;
    this.stats.giveUps++;
    this.progressed(nowUs);
    out.push({
      kind: "toMsg",
      msg: { kind: "bump", round: this.round, reason: "giveup", by: "leader" },
    });
  }

  private broadcast(msg: WireMsg, nowUs: number, out: Effect[]): void {
    this.sent(nowUs);
    out.push({ kind: "broadcast", msg });
  }

  /** Something went to every rank (or every silent one): the quiet-time deadlines start again. */
  private sent(nowUs: number): void {
    this.readAgain.arm(nowUs + this.cfg.timeoutUs / 2);
    this.heartbeat.arm(nowUs + this.cfg.timeoutUs / 3);
  }

  private progressed(nowUs: number): void {
    this.noProgress.arm(nowUs + 3 * this.cfg.timeoutUs * this.patience);
  }
}
