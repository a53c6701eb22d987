// leader handler: active only in the rounds this rank leads (round mod N == rank).
// read:   broadcast read(round, base); wait for gathers from a majority.
// sync:   C = the highest floor seen (every seq below it is chosen). For each seq from C to the
//         highest seq reported, re-impose the value accepted in the highest round; fill holes with
//         own instances (exact wants to the consensus handler, which binds them to those seqs).
// impose: ask the consensus handler for own instances (at most -l per round), impose them in
//         batches, pipelined up to a window; on a majority of acks broadcast commit (with values).
// end:    when the quota is used up, or this rank has nothing to propose while another has, and
//         everything imposed is committed: broadcast end; the round moves to the next rank.
// Lost messages are retransmitted; no progress for giveUp time bumps the round.
import { leaderOf, quorumOf, type BugName, type Effect, type LeaderIn, type ProcessorLogic } from "./effects.js";
import type { AckMsg, GatherMsg, WireMsg } from "./messages.js";

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

interface Want {
  seq: number;
  max: number;
  exact: boolean;
  sentUs: number;
  held: boolean;
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
  private inflight = 0;
  private readonly wants = new Map<number, Want>();
  private newImposed = 0;
  private starved = false;
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
      case "grant":
        return this.onGrant(input.round, input.seq, input.ids, nowUs, out);
      case "net":
        if (input.msg.t === "gather") this.onGather(input.msg, nowUs, out);
        else this.onAck(input.msg, nowUs, out);
        return;
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
    if (this.phase !== "idle" && this.round < round) this.dropWants(out);
    this.round = round;
    this.phase = "idle";
    this.gathers.clear();
    this.batches.clear();
    this.wants.clear();
    this.inflight = 0;
    this.newImposed = 0;
    this.starved = false;
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
    let chosenBelow = this.readBase;
    for (const g of this.gathers.values()) chosenBelow = Math.max(chosenBelow, g.floor);
    const best = new Map<number, { round: number; id: string }>();
    let maxSeen = chosenBelow - 1;
    for (const g of this.gathers.values()) {
      for (const [first, round, ids] of g.runs) {
        ids.forEach((id, i) => {
          const seq = first + i;
          if (seq < chosenBelow) return;
          const cur = best.get(seq);
          if (!cur || cur.round < round) best.set(seq, { round, id });
          if (seq > maxSeen) maxSeen = seq;
        });
      }
    }
    this.phase = "imposing";
    this.phaseSinceUs = this.lastProgressUs = nowUs;
    this.nextSeq = maxSeen + 1;
    this.resync(chosenBelow, maxSeen, best, nowUs, out);
    this.maybeWant(nowUs, out);
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
        this.imposeBatch(start, ids, nowUs, out);
      } else {
        while (seq <= to && !best.has(seq)) seq++;
        this.wantHoles(start, seq - start, nowUs, out);
      }
    }
  }

  private wantHoles(seq: number, count: number, nowUs: number, out: Effect[]): void {
    for (let s = seq; s < seq + count; s += this.cfg.batch) {
      const want: Want = { seq: s, max: Math.min(this.cfg.batch, seq + count - s), exact: true, sentUs: nowUs, held: false };
      this.wants.set(s, want);
      this.stats.holesFilled += want.max;
      this.sendWant(want, out);
    }
  }

  private maybeWant(nowUs: number, out: Effect[]): void {
    if (this.phase !== "imposing" || this.newImposed >= this.cfg.maxPerRound || this.inflight >= this.cfg.window) return;
    if (this.wants.has(this.nextSeq)) return;
    // Ask for as much as the free window holds: one grant (one durable bind) fills several frames.
    const max = Math.min(this.cfg.batch * (this.cfg.window - this.inflight), this.cfg.maxPerRound - this.newImposed);
    const want: Want = { seq: this.nextSeq, max, exact: false, sentUs: nowUs, held: false };
    this.wants.set(want.seq, want);
    this.sendWant(want, out);
  }

  private sendWant(w: Want, out: Effect[]): void {
    out.push({ kind: "toConsensus", msg: { kind: "want", round: this.round, seq: w.seq, max: w.max, exact: w.exact } });
  }

  private onGrant(round: number, seq: number, ids: string[], nowUs: number, out: Effect[]): void {
    const want = this.wants.get(seq);
    if (round !== this.round || this.phase !== "imposing" || !want) return;
    if (want.exact) {
      if (ids.length !== want.max) return; // the consensus handler knows this seq is taken: a stale round
      this.wants.delete(seq);
      this.imposeBatch(seq, ids, nowUs, out);
    } else if (ids.length === 0) {
      want.held = true; // nothing to propose now; the consensus handler keeps the want open
      this.starved = true;
    } else {
      this.wants.delete(seq);
      this.starved = false;
      this.newImposed += ids.length;
      this.nextSeq = seq + ids.length;
      for (let i = 0; i < ids.length; i += this.cfg.batch) this.imposeBatch(seq + i, ids.slice(i, i + this.cfg.batch), nowUs, out);
      this.maybeWant(nowUs, out);
    }
    this.maybeEnd(nowUs, out);
  }

  private imposeBatch(seq: number, ids: string[], nowUs: number, out: Effect[]): void {
    const batch: Batch = { seq, ids, acked: new Array<boolean>(this.cfg.n).fill(false), acks: 0, sentUs: nowUs };
    this.batches.set(seq, batch);
    this.inflight++;
    this.broadcast({ t: "impose", from: this.cfg.me, round: this.round, seq, ids }, nowUs, out);
  }

  private onAck(msg: AckMsg, nowUs: number, out: Effect[]): void {
    this.backlogs.set(msg.from, msg.backlog);
    if (msg.round !== this.round || (this.phase !== "imposing" && this.phase !== "ending")) return;
    const b = this.batches.get(msg.seq);
    if (msg.seq < 0 || !b || b.acked[msg.from] || msg.count !== b.ids.length) {
      this.maybeEnd(nowUs, out);
      return;
    }
    b.acked[msg.from] = true;
    b.acks++;
    if (b.acks < this.quorum) return;
    this.batches.delete(b.seq); // later acks for it find nothing and are ignored
    this.inflight--;
    this.stats.committed += b.ids.length;
    this.lastProgressUs = nowUs;
    this.broadcast({ t: "commit", from: this.cfg.me, seq: b.seq, ids: b.ids }, nowUs, out);
    this.maybeWant(nowUs, out);
    this.maybeEnd(nowUs, out);
  }

  /** End the round once everything imposed is committed and either the quota is used or others wait. */
  private maybeEnd(nowUs: number, out: Effect[]): void {
    if (this.phase !== "imposing" || this.inflight > 0) return;
    for (const w of this.wants.values()) if (w.exact || !w.held) return;
    const quotaUsed = this.newImposed >= this.cfg.maxPerRound;
    let othersWait = false;
    for (const [rank, backlog] of this.backlogs) if (rank !== this.cfg.me && backlog > 0) othersWait = true;
    if (!quotaUsed && !(this.starved && othersWait)) return;
    this.dropWants(out);
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

  private dropWants(out: Effect[]): void {
    if (this.wants.size > 0) out.push({ kind: "toConsensus", msg: { kind: "unwant", round: this.round } });
    this.wants.clear();
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
      if (w.held || nowUs - w.sentUs < retransmitUs) continue;
      w.sentUs = nowUs;
      this.sendWant(w, out);
    }
    if (nowUs - this.lastSentUs >= this.cfg.timeoutUs / 3) {
      // Heartbeat: an empty impose keeps followers from timing out and collects their backlogs.
      this.broadcast({ t: "impose", from: this.cfg.me, round: this.round, seq: this.nextSeq, ids: [] }, nowUs, out);
    }
    // Only work under way can stall; an idle leader holding its round is not stuck.
    let waiting = this.inflight > 0;
    for (const w of this.wants.values()) if (!w.held) waiting = true;
    if (waiting) this.maybeGiveUp(nowUs, out);
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
