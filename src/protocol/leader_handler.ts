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
import { leaderOf, quorumOf, type BugName, type Effect, type LeaderIn, type ProcessorLogic } from "./effects.js";
import { mergeRuns, OfferBook, syncPlan } from "./leader_plan.js";
import { LIMITS, type AckMsg, type GatherMsg, type GrantMsg, type WireMsg } from "./messages.js";

export interface LeaderConfig {
  me: number;
  n: number;
  /** -l: most new instances imposed in one round. */
  maxPerRound: number;
  /** Most instances in one impose frame. */
  batch: number;
  /** Most uncommitted impose batches at once. */
  window: number;
  /** -o in µs: the read timeout everything else is derived from. */
  timeoutUs: number;
  /** Simulator only: known bugs to switch on. */
  bugs?: readonly BugName[];
}

interface Batch {
  seq: number;
  ids: string[];
  acked: boolean[];
  acks: number;
  sentUs: number;
}

/** A run of seqs allotted to a rank, waiting for its grant. */
interface Want {
  seq: number;
  max: number;
  to: number;
  /** A hole found by the sync (not an answer to an offer). */
  hole: boolean;
  firstUs: number;
  sentUs: number;
}

type Phase = "idle" | "reading" | "imposing" | "ending";

export interface LeaderStats {
  roundsLed: number;
  committed: number;
  reimposed: number;
  holesFilled: number;
  giveUps: number;
  retransmits: number;
}

export class LeaderHandler implements ProcessorLogic<LeaderIn> {
  private round = 0;
  private phase: Phase = "idle";
  private phaseSinceUs = 0;
  private lastSentUs = 0;
  private lastProgressUs = 0;
  private nextTickUs = Infinity;
  private readBase = 0;
  private readonly gathers = new Map<number, GatherMsg>();
  private nextSeq = 0;
  /** Rounds up to this one may have been led by this rank before a restart: never lead them again. */
  private readonly ledUpTo: number;
  /** Impose batches not yet committed, by first seq. */
  private readonly batches = new Map<number, Batch>();
  /** Batches made in this step and not yet sent; batches chosen in this step, not yet announced. */
  private unsent: Batch[] = [];
  private toCommit: Batch[] = [];
  private readonly wants = new Map<number, Want>();
  private readonly offers = new OfferBook();
  /** Seqs allotted or imposed and not yet committed (bounded by batch * window). */
  private openIds = 0;
  private newImposed = 0;
  private readonly backlogs = new Map<number, number>();
  private localCommit = 0;
  private localBacklog = 0;
  private readonly quorum: number;
  readonly stats: LeaderStats = { roundsLed: 0, committed: 0, reimposed: 0, holesFilled: 0, giveUps: 0, retransmits: 0 };

  constructor(
    private readonly cfg: LeaderConfig,
    restoredPromise = -1,
  ) {
    this.quorum = quorumOf(cfg.n);
    this.ledUpTo = restoredPromise;
  }

  get active(): boolean {
    return this.phase !== "idle";
  }

  /** The round this rank is leading and how far it got (null while it leads none), for status reports. */
  get leading(): { round: number; phase: Exclude<Phase, "idle"> } | null {
    return this.phase === "idle" ? null : { round: this.round, phase: this.phase };
  }

  onInput(input: LeaderIn, nowUs: number, out: Effect[]): void {
    switch (input.kind) {
      case "round":
        if (input.round > this.round || (input.round === this.round && this.phase === "idle" && this.leads(input.round))) {
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
            this.offers.learn(input.msg.from, input.msg.state);
            this.offers.ready.add(input.msg.from);
            return this.serveOffers(nowUs, out);
          case "grant":
            return this.onGrant(input.msg, nowUs, out);
        }
    }
  }

  onTime(nowUs: number, out: Effect[]): void {
    if (this.phase === "idle") return;
    this.nextTickUs = nowUs + this.cfg.timeoutUs / 4;
    if (this.phase === "reading") this.tickReading(nowUs, out);
    else if (this.phase === "imposing") this.tickImposing(nowUs, out);
    else this.tickEnding(nowUs, out);
  }

  wakeAt(): number {
    return this.phase === "idle" ? Infinity : this.nextTickUs;
  }

  private leads(round: number): boolean {
    return leaderOf(round, this.cfg.n) === this.cfg.me && round > this.ledUpTo;
  }

  private enterRound(round: number, nowUs: number, out: Effect[]): void {
    this.flushCommits(out);
    this.unsent = [];
    this.round = round;
    this.phase = "idle";
    this.gathers.clear();
    this.batches.clear();
    this.wants.clear();
    this.offers.clear();
    this.openIds = 0;
    this.newImposed = 0;
    this.backlogs.clear();
    if (!this.leads(round)) return;
    this.stats.roundsLed++;
    this.phase = "reading";
    this.phaseSinceUs = this.lastProgressUs = nowUs;
    this.nextTickUs = nowUs + this.cfg.timeoutUs / 4;
    this.readBase = this.localCommit;
    // Durable before the read leaves: after a restart this rank must never lead this round again
    // (a second read could find a different majority and impose different values in one round).
    out.push({ kind: "persist", record: { r: "promise", round } });
    if (this.cfg.bugs?.includes("skip-read")) return this.startImposing(nowUs, out); // BUG: no read
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
    this.phaseSinceUs = this.lastProgressUs = nowUs;
    this.nextSeq = maxSeen + 1;
    this.resync(chosenBelow, maxSeen, best, nowUs, out);
    this.serveOffers(nowUs, out);
    this.maybeEnd(nowUs, out);
  }

  private resync(from: number, to: number, best: Map<number, { round: number; id: string }>, nowUs: number, out: Effect[]): void {
    let seq = from;
    while (seq <= to) {
      const start = seq;
      if (best.has(seq)) {
        const ids: string[] = [];
        for (let v = best.get(seq); v && seq <= to && ids.length < this.cfg.batch; v = best.get(++seq)) ids.push(v.id);
        this.stats.reimposed += ids.length;
        this.openIds += ids.length;
        this.imposeBatch(start, ids, nowUs);
      } else {
        while (seq <= to && !best.has(seq)) seq++;
        this.wantHoles(start, seq - start, nowUs, out);
      }
    }
  }

  private wantHoles(seq: number, count: number, nowUs: number, out: Effect[]): void {
    for (let s = seq; s < seq + count; s += this.cfg.batch) {
      const max = Math.min(this.cfg.batch, seq + count - s);
      this.stats.holesFilled += max;
      this.sendWant({ seq: s, max, to: this.cfg.me, hole: true, firstUs: nowUs, sentUs: nowUs }, out);
    }
  }

  /** Allot free seqs to the ranks with offers, in arrival order, within the quota and the window. */
  private serveOffers(nowUs: number, out: Effect[]): void {
    if (this.phase !== "imposing") return;
    const cap = this.cfg.batch * this.cfg.window;
    for (const rank of this.offers.ready) {
      const room = Math.min(cap - this.openIds, this.cfg.maxPerRound - this.newImposed, LIMITS.maxIdsPerFrame);
      if (room <= 0) return;
      this.offers.ready.delete(rank);
      if (this.offers.allotted.has(rank)) continue; // its grant brings its next offer
      const k = Math.min(room, this.offers.allotment(rank, this.nextSeq));
      if (k <= 0) continue;
      this.sendWant({ seq: this.nextSeq, max: k, to: rank, hole: false, firstUs: nowUs, sentUs: nowUs }, out);
      this.offers.allotted.add(rank);
      this.nextSeq += k;
      this.newImposed += k;
    }
  }

  private sendWant(w: Want, out: Effect[]): void {
    if (!this.wants.has(w.seq)) this.openIds += w.max;
    this.wants.set(w.seq, w);
    out.push({ kind: "send", to: w.to, msg: { t: "want", from: this.cfg.me, round: this.round, seq: w.seq, max: w.max } });
  }

  private onGrant(msg: GrantMsg, nowUs: number, out: Effect[]): void {
    if (msg.round !== this.round || this.phase !== "imposing") return;
    this.offers.learn(msg.from, msg.state);
    const want = this.wants.get(msg.seq);
    // A grant from a rank the run was taken from, or a short one (that rank knows these seqs are
    // chosen: this round is stale) is not imposed.
    if (!want || want.to !== msg.from || msg.ids.length !== want.max) return;
    this.wants.delete(msg.seq);
    if (!want.hole) this.offers.allotted.delete(msg.from);
    for (let i = 0; i < msg.ids.length; i += this.cfg.batch) this.imposeBatch(msg.seq + i, msg.ids.slice(i, i + this.cfg.batch), nowUs);
    this.offers.ready.add(msg.from);
    this.serveOffers(nowUs, out);
  }

  /** A batch is tracked (acks, retransmission) on its own, but leaves at the end of the step,
   * merged with the adjacent batches of the same step into one frame. */
  private imposeBatch(seq: number, ids: string[], nowUs: number): void {
    const batch: Batch = { seq, ids, acked: new Array<boolean>(this.cfg.n).fill(false), acks: 0, sentUs: nowUs };
    this.batches.set(seq, batch);
    this.unsent.push(batch);
  }

  /** An ack covers [seq, seq+count): every batch wholly inside it (a follower acks a merged
   * frame, or several, at once). */
  private onAck(msg: AckMsg, nowUs: number, out: Effect[]): void {
    this.backlogs.set(msg.from, msg.backlog);
    if (msg.round !== this.round || (this.phase !== "imposing" && this.phase !== "ending")) return;
    const end = msg.seq + msg.count;
    if (msg.count > 0) {
      for (const b of this.batches.values()) {
        if (b.seq < msg.seq || b.seq + b.ids.length > end || b.acked[msg.from]) continue;
        b.acked[msg.from] = true;
        if (++b.acks === this.quorum) this.chosen(b, nowUs);
      }
    }
    this.serveOffers(nowUs, out);
    this.maybeEnd(nowUs, out);
  }

  private chosen(b: Batch, nowUs: number): void {
    this.batches.delete(b.seq); // later acks for it find nothing and are ignored
    this.openIds -= b.ids.length;
    this.stats.committed += b.ids.length;
    this.lastProgressUs = nowUs;
    this.toCommit.push(b);
  }

  endStep(nowUs: number, out: Effect[]): void {
    this.flushImposes(nowUs, out);
    this.flushCommits(out);
  }

  private flushImposes(nowUs: number, out: Effect[]): void {
    for (const [seq, ids] of mergeRuns(this.unsent)) this.broadcast({ t: "impose", from: this.cfg.me, round: this.round, seq, ids }, nowUs, out);
    this.unsent = [];
  }

  /** Chosen values are facts whatever the round: they always leave, before an end or a new round. */
  private flushCommits(out: Effect[]): void {
    for (const [seq, ids] of mergeRuns(this.toCommit)) out.push({ kind: "broadcast", msg: { t: "commit", from: this.cfg.me, seq, ids } });
    this.toCommit = [];
  }

  /** End the round once the quota is used and everything imposed is committed. */
  private maybeEnd(nowUs: number, out: Effect[]): void {
    if (this.phase !== "imposing" || this.batches.size > 0 || this.wants.size > 0) return;
    if (this.newImposed < this.cfg.maxPerRound) return;
    this.flushCommits(out);
    this.phase = "ending";
    this.phaseSinceUs = nowUs;
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
    if (nowUs - this.lastSentUs >= this.cfg.timeoutUs / 2) {
      const read: WireMsg = { t: "read", from: this.cfg.me, round: this.round, base: this.readBase };
      for (let r = 0; r < this.cfg.n; r++) if (!this.gathers.has(r)) this.resend(r, read, out);
      this.lastSentUs = nowUs;
    }
    this.maybeGiveUp(nowUs, out);
  }

  private tickImposing(nowUs: number, out: Effect[]): void {
    const retransmitUs = this.cfg.timeoutUs / 2;
    for (const b of this.batches.values()) {
      if (nowUs - b.sentUs < retransmitUs) continue;
      const impose: WireMsg = { t: "impose", from: this.cfg.me, round: this.round, seq: b.seq, ids: b.ids };
      for (let r = 0; r < this.cfg.n; r++) if (!b.acked[r]) this.resend(r, impose, out);
      b.sentUs = nowUs;
    }
    for (const w of this.wants.values()) {
      if (nowUs - w.sentUs < retransmitUs) continue;
      if (w.to !== this.cfg.me && nowUs - w.firstUs >= this.cfg.timeoutUs) {
        // The owner is silent (down, or its grant lost twice): fill its run with our own instances.
        // If its grant comes after all, it is ignored, and its instances go back to its queue
        // once these seqs commit with ours.
        this.offers.allotted.delete(w.to);
        w.to = this.cfg.me;
      }
      w.sentUs = nowUs;
      this.stats.retransmits++;
      this.sendWant(w, out);
    }
    if (nowUs - this.lastSentUs >= this.cfg.timeoutUs / 3) {
      // Heartbeat: an empty impose keeps followers from timing out and collects their backlogs.
      this.broadcast({ t: "impose", from: this.cfg.me, round: this.round, seq: this.nextSeq, ids: [] }, nowUs, out);
    }
    // Only work under way can stall; an idle leader holding its round is not stuck.
    if (this.batches.size > 0 || this.wants.size > 0) this.maybeGiveUp(nowUs, out);
  }

  private tickEnding(nowUs: number, out: Effect[]): void {
    if (nowUs - this.phaseSinceUs < this.cfg.timeoutUs / 2) return;
    // Our own end (or the resulting round change) was lost: say it again.
    this.phaseSinceUs = nowUs;
    this.broadcast(this.endMsg(), nowUs, out);
  }

  private maybeGiveUp(nowUs: number, out: Effect[]): void {
    if (nowUs - this.lastProgressUs < 3 * this.cfg.timeoutUs) return;
    this.stats.giveUps++;
    this.lastProgressUs = nowUs;
    out.push({ kind: "toMsg", msg: { kind: "bump", round: this.round, reason: "giveup", by: "leader" } });
  }

  private broadcast(msg: WireMsg, nowUs: number, out: Effect[]): void {
    this.lastSentUs = nowUs;
    out.push({ kind: "broadcast", msg });
  }

  private resend(to: number, msg: WireMsg, out: Effect[]): void {
    this.stats.retransmits++;
    out.push({ kind: "send", to, msg });
  }
}
