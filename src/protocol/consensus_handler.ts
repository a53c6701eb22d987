// consensus handler: owns the rank's log. It generates its own instances (writing `generate`
// lines) and offers them to the leader of the current round (any rank's, its own included). The
// leader allots seqs (want); the owner binds its instances to them, durably, and grants them back
// for imposing. It applies chosen values (commit / fetched messages) in seq order (`commit` lines).
// Why bindings: an own instance is live at one seq at a time. It returns to the pending queue only
// when its seq was committed with another value, so it can never be committed twice.
// It also repairs the log (fetch from a rank that is ahead) and decides when the run is over.
import { CommitLog } from "./commit_log.js";
import { Deque } from "./deque.js";
import { GenerationSchedule, type GenerationInfo } from "./generation.js";
import type { BugName, ConsensusIn, Effect, ProcessorLogic, StorageRecord } from "./effects.js";
import { leaderOf } from "./effects.js";
import type { OfferState, StatusMsg, WantMsg } from "./messages.js";
import type { RecoveredLog } from "./recovery.js";

export interface ConsensusConfig {
  me: number;
  n: number;
  timeoutUs: number;
  /** Background generation: instances per second for genSeconds, from the moment a majority of
   * ranks is known to be up (so a slow start of the cluster is not counted as latency). */
  rate: number;
  genSeconds: number;
  /** When this rank was created: without a majority for graceUs after it, the run is given up. */
  createdUs: number;
  /** After generation ends, give up waiting for convergence after this long. */
  graceUs: number;
  /** Most ids in one fetched reply. */
  fetchMax: number;
  /** Emit a `committed` effect per commit (library users iterate commits). */
  emitCommits: boolean;
  /** Simulator only: known bugs to switch on. */
  bugs?: readonly BugName[];
}

export interface ConsensusStats {
  generated: number;
  fillers: number;
  committed: number;
  requeued: number;
  fetchesSent: number;
  fetchedIds: number;
  conflicts: number;
}

const COMPACT_EVERY = 65_536;
const COMPACT_MARGIN = 1024;
/** Pending instances and no allotment for this many timeouts: the leader is not serving us. */
const STARVED_TIMEOUTS = 10;

export class ConsensusHandler implements ProcessorLogic<ConsensusIn> {
  private readonly log = new CommitLog();
  private readonly pending = new Map<number, string>();
  private readonly ownPending = new Deque<string>();
  private readonly ownBound = new Map<number, string>();
  /** The current round, as the msg handler announced it (-1: not yet). */
  private round = -1;
  /** Counters of the pending queue (see OfferState). */
  private enq = 0;
  private deq = 0;
  /** The last offer (or grant, which carries the same state) sent to a leader. */
  private offered = { round: -1, enq: -1, atUs: -Infinity, awaiting: false };
  private lastWantUs = 0;
  private readonly peers: (StatusMsg | undefined)[];
  private fetch: { seq: number; sentUs: number } | null = null;
  private stalledSinceUs: number | null = null;
  private nextStatusUs = 0;
  private readonly gen: GenerationSchedule;
  private convergedSinceUs: number | null = null;
  private finished = false;
  private notified = { commitIndex: -1, backlog: -1 };
  private readonly statusEveryUs: number;
  readonly stats: ConsensusStats = { generated: 0, fillers: 0, committed: 0, requeued: 0, fetchesSent: 0, fetchedIds: 0, conflicts: 0 };

  constructor(private readonly cfg: ConsensusConfig) {
    this.peers = new Array<StatusMsg | undefined>(cfg.n).fill(undefined);
    this.statusEveryUs = Math.max(1000, cfg.timeoutUs / 2);
    this.gen = new GenerationSchedule(cfg.rate, cfg.genSeconds, cfg.n, cfg.timeoutUs);
  }

  get commitIndex(): number {
    return this.log.length;
  }

  get backlog(): number {
    return this.ownPending.length + this.ownBound.size;
  }

  generation(): GenerationInfo | null {
    return this.gen.info();
  }

  /** Committed ids still held in memory, from seq `from`. */
  committedIds(from = 0): string[] {
    return this.log.slice(from, this.log.length);
  }

  /** Restart: commits and own instances from the log file, bindings from the write-ahead log. */
  restore(recovered: RecoveredLog, records: readonly StorageRecord[]): void {
    for (const id of recovered.commits) this.log.push(id);
    this.stats.generated = recovered.generated;
    const committed = new Set(recovered.commits);
    const boundAt = new Map<string, number>(); // latest binding of each instance wins
    for (const rec of records) if (rec.r === "bind") rec.ids.forEach((id, i) => boundAt.set(id, rec.seq + i));
    for (const [id, seq] of boundAt) if (!committed.has(id) && seq >= this.log.length) this.ownBound.set(seq, id);
    for (const id of recovered.uncommitted) if (!this.isBound(id, boundAt)) this.enqueue(id);
  }

  private isBound(id: string, boundAt: Map<string, number>): boolean {
    const seq = boundAt.get(id);
    return seq !== undefined && this.ownBound.get(seq) === id;
  }

  /** Durable records describing the live bindings (for a write-ahead log checkpoint). */
  bindRecords(): StorageRecord[] {
    return [...this.ownBound].map(([seq, id]) => ({ r: "bind", seq, ids: [id] }));
  }

  onInput(input: ConsensusIn, nowUs: number, out: Effect[]): void {
    switch (input.kind) {
      case "round":
        if (input.round > this.round) {
          this.round = input.round;
          this.lastWantUs = nowUs;
        }
        break;
      case "propose":
        for (let i = 0; i < input.count; i++) this.enqueue(this.newInstance(nowUs, out));
        break;
      case "net":
        if (input.msg.t === "want") this.onWant(input.msg, nowUs, out);
        else this.onNet(input.msg, nowUs, out);
        break;
    }
    this.maybeOffer(nowUs, out);
    this.notifyLocal(out);
  }

  onTime(nowUs: number, out: Effect[]): void {
    this.gen.maybeStart(nowUs, 1 + this.peers.filter((p, r) => p !== undefined && r !== this.cfg.me).length, this.stats.generated);
    this.generateDue(nowUs, out);
    this.maybeFetch(nowUs, out);
    if (nowUs >= this.nextStatusUs) {
      this.nextStatusUs = nowUs + this.statusEveryUs;
      this.broadcastStatus(nowUs, out);
      this.notified.commitIndex = -1; // repeat the local notes too: they are lossy
    }
    this.checkFinished(nowUs, out);
    this.maybeOffer(nowUs, out);
    this.notifyLocal(out);
  }

  wakeAt(): number {
    // Offers are repeated every half timeout; the starvation check rides on the same wake-ups.
    const offerUs = this.round >= 0 && this.hasWork() ? this.offered.atUs + this.cfg.timeoutUs / 2 : Infinity;
    return Math.min(this.gen.nextUs, this.nextStatusUs, offerUs);
  }

  private onNet(msg: Extract<ConsensusIn, { kind: "net" }>["msg"], nowUs: number, out: Effect[]): void {
    switch (msg.t) {
      case "commit":
        return this.applyChosen(msg.seq, msg.ids, nowUs, out);
      case "fetched":
        this.stats.fetchedIds += msg.ids.length;
        this.applyChosen(msg.seq, msg.ids, nowUs, out);
        if (this.fetch && msg.ids.length > 0) this.fetch = null;
        return this.maybeFetch(nowUs, out);
      case "status":
        this.peers[msg.from] = msg;
        this.maybeCompact();
        return this.maybeFetch(nowUs, out);
      case "fetch":
        if (msg.seq < this.log.length && msg.seq >= this.log.start) {
          const ids = this.log.slice(msg.seq, msg.seq + Math.min(msg.max, this.cfg.fetchMax));
          out.push({ kind: "send", to: msg.from, msg: { t: "fetched", from: this.cfg.me, seq: msg.seq, ids } });
        }
        return;
    }
  }

  /** Generate what the background rate asks for up to now. */
  private generateDue(nowUs: number, out: Effect[], catchUp = false): void {
    for (let due = this.gen.takeDue(nowUs, catchUp); due > 0; due--) this.enqueue(this.newInstance(nowUs, out));
  }

  private enqueue(id: string): void {
    this.ownPending.push(id);
    this.enq++;
  }

  private newInstance(nowUs: number, out: Effect[]): string {
    const seq = this.stats.generated++;
    const id = `${this.cfg.me}-${seq}`;
    out.push({ kind: "log", line: `generate Instance[${id}] in seq ${seq} at ${Math.floor(nowUs)}\n` });
    return id;
  }

  /** Bind own instances to the allotted seqs [seq, seq+max) and grant them to the leader. Every seq
   * is filled: an instance already bound there, else a pending one, else a fresh filler. */
  private onWant(want: WantMsg, nowUs: number, out: Effect[]): void {
    this.lastWantUs = nowUs;
    this.generateDue(nowUs, out, true); // every instance due now comes before any filler
    const ids: string[] = [];
    let firstNew = -1;
    for (let s = want.seq; ids.length < want.max; s++) {
      if (s < this.log.length || this.pending.has(s)) break; // chosen already: the leader's round is stale
      const bound = this.ownBound.get(s);
      if (bound !== undefined) {
        ids.push(bound);
        continue;
      }
      let next = this.ownPending.shift();
      if (next !== undefined) this.deq++;
      else {
        next = this.newInstance(nowUs, out);
        this.stats.fillers++;
      }
      this.ownBound.set(s, next);
      if (firstNew < 0) firstNew = s;
      ids.push(next);
    }
    // Bindings are durable before the grant reveals them (a restart must not propose them elsewhere).
    if (firstNew >= 0 && !this.cfg.bugs?.includes("forget-bindings")) out.push({ kind: "persist", record: { r: "bind", seq: firstNew, ids: ids.slice(firstNew - want.seq) } });
    out.push({ kind: "send", to: want.from, msg: { t: "grant", from: this.cfg.me, round: want.round, seq: want.seq, ids, state: this.offerState() } });
    if (want.round === this.round) this.noteOffered(nowUs);
  }

  private hasWork(): boolean {
    return this.ownPending.length > 0 || this.ownBound.size > 0;
  }

  private offerState(): OfferState {
    // Bound instances matter to the leader only when nothing is pending (see LeaderHandler.allotment).
    const upTo = this.ownPending.length > 0 ? -1 : this.maxBoundSeq();
    return { epoch: Math.floor(this.cfg.createdUs), enq: this.enq, deq: this.deq, upTo };
  }

  private noteOffered(nowUs: number): void {
    this.offered = { round: this.round, enq: this.enq, atUs: nowUs, awaiting: this.ownPending.length > 0 };
  }

  /** Tell the current leader what waits here: at once in a new round or when instances appear while
   * no want is expected, and again every half timeout (offers may be lost, or ignored by a leader
   * with nothing to allot). A leader that allots nothing for long is replaced. */
  private maybeOffer(nowUs: number, out: Effect[]): void {
    if (this.round < 0 || !this.hasWork()) return;
    if (this.ownPending.length > 0 && nowUs - this.lastWantUs >= STARVED_TIMEOUTS * this.cfg.timeoutUs) {
      this.lastWantUs = nowUs;
      out.push({ kind: "toMsg", msg: { kind: "bump", round: this.round, reason: "giveup", by: "consensus" } });
    }
    const o = this.offered;
    const fresh = o.round !== this.round || (this.enq > o.enq && !o.awaiting);
    if (!fresh && nowUs - o.atUs < this.cfg.timeoutUs / 2) return;
    const leader = leaderOf(this.round, this.cfg.n);
    out.push({ kind: "send", to: leader, msg: { t: "offer", from: this.cfg.me, round: this.round, state: this.offerState() } });
    this.noteOffered(nowUs);
  }

  private maxBoundSeq(): number {
    let max = -1;
    for (const s of this.ownBound.keys()) if (s > max) max = s;
    return max;
  }

  /** Values chosen at seq, seq+1, ...: apply them in order; later ones wait for the gap to fill. */
  private applyChosen(seq: number, ids: readonly string[], nowUs: number, out: Effect[]): void {
    for (let i = 0; i < ids.length; i++) {
      const s = seq + i;
      const id = ids[i] as string;
      if (s < this.log.length) {
        const known = this.log.get(s);
        if (known !== undefined && known !== id) this.conflict(s, known, id, out);
      } else if (s === this.log.length && this.pending.size === 0) this.commitOne(s, id, nowUs, out);
      else {
        const known = this.pending.get(s);
        if (known !== undefined && known !== id) this.conflict(s, known, id, out);
        else this.pending.set(s, id);
      }
    }
    for (let next = this.pending.get(this.log.length); next !== undefined; next = this.pending.get(this.log.length)) {
      this.pending.delete(this.log.length);
      this.commitOne(this.log.length, next, nowUs, out);
    }
    if (this.stalledSinceUs !== null && !this.isBehind()) this.stalledSinceUs = null;
  }

  /** Two values chosen for one seq: a safety bug. It must never happen; if it does, say so loudly. */
  private conflict(seq: number, kept: string, other: string, out: Effect[]): void {
    this.stats.conflicts++;
    if (this.stats.conflicts <= 3) out.push({ kind: "warn", line: `rank ${this.cfg.me}: SAFETY VIOLATION: seq ${seq} committed as ${kept}, then offered as ${other}` });
  }

  private commitOne(seq: number, id: string, nowUs: number, out: Effect[]): void {
    this.log.push(id);
    this.stats.committed++;
    out.push({ kind: "log", line: `commit Instance[${id}] in seq ${seq} at ${Math.floor(nowUs)}\n` });
    if (this.cfg.emitCommits) out.push({ kind: "committed", seq, id });
    const bound = this.ownBound.get(seq);
    if (bound === undefined) return;
    this.ownBound.delete(seq);
    if (bound !== id) {
      // Another value won this seq: our instance can no longer be chosen there, so propose it again.
      this.stats.requeued++;
      this.ownPending.unshift(bound);
      this.enq++;
    }
  }

  /** Forget committed seqs that every rank has committed (keeping a margin for stragglers). */
  private maybeCompact(): void {
    let minAll = this.log.length;
    for (let r = 0; r < this.cfg.n; r++) {
      if (r === this.cfg.me) continue;
      minAll = Math.min(minAll, this.peers[r]?.commitIndex ?? 0);
    }
    if (minAll - this.log.start >= COMPACT_EVERY) this.log.compact(minAll - COMPACT_MARGIN);
  }

  private isBehind(): boolean {
    if (this.pending.size > 0) return true;
    for (const p of this.peers) if (p && p.commitIndex > this.log.length) return true;
    return false;
  }

  /** If this rank stays behind a peer (or has a gap) for a while, fetch the missing values. */
  private maybeFetch(nowUs: number, out: Effect[]): void {
    if (!this.isBehind()) {
      this.stalledSinceUs = null;
      return;
    }
    if (this.stalledSinceUs === null) this.stalledSinceUs = nowUs;
    if (nowUs - this.stalledSinceUs < this.cfg.timeoutUs / 4) return;
    if (this.fetch && this.fetch.seq >= this.log.length && nowUs - this.fetch.sentUs < this.cfg.timeoutUs) return;
    const source = this.pickSource();
    if (source < 0) return;
    this.fetch = { seq: this.log.length, sentUs: nowUs };
    this.stats.fetchesSent++;
    out.push({ kind: "send", to: source, msg: { t: "fetch", from: this.cfg.me, seq: this.log.length, max: this.cfg.fetchMax } });
  }

  /** A peer known to have committed past our commit index (rotating, so a dead one is not stuck on). */
  private pickSource(): number {
    const ahead: number[] = [];
    this.peers.forEach((p, r) => {
      if (p && r !== this.cfg.me && p.commitIndex > this.log.length) ahead.push(r);
    });
    if (ahead.length === 0) {
      // Only a gap (commits above a missing seq): ask whoever sent us the most recent status.
      return this.cfg.n > 1 ? (this.cfg.me + 1 + (this.stats.fetchesSent % (this.cfg.n - 1))) % this.cfg.n : -1;
    }
    return ahead[this.stats.fetchesSent % ahead.length] as number;
  }

  private broadcastStatus(nowUs: number, out: Effect[]): void {
    const status: StatusMsg = {
      t: "status",
      from: this.cfg.me,
      commitIndex: this.log.length,
      backlog: this.backlog,
      generated: this.stats.generated,
      genDone: nowUs >= this.gen.endUs,
      done: this.convergedSinceUs !== null,
    };
    for (let r = 0; r < this.cfg.n; r++) if (r !== this.cfg.me) out.push({ kind: "send", to: r, msg: status });
  }

  /** The run is over when every rank has stopped generating and committed everything (or grace ran out). */
  private checkFinished(nowUs: number, out: Effect[]): void {
    if (this.finished) return;
    if (!this.gen.started && nowUs >= this.cfg.createdUs + this.cfg.graceUs) return this.finish(false, out);
    if (nowUs < this.gen.endUs) return;
    if (this.isConverged()) {
      if (this.convergedSinceUs === null) {
        this.convergedSinceUs = nowUs;
        this.broadcastStatus(nowUs, out); // tell the others at once
      }
      // Linger until every peer said it sees the same (then everyone has heard enough), or for 20
      // status rounds at most: status messages may be lost, and a peer that left cannot repeat itself.
      const allDone = this.peers.every((p, r) => r === this.cfg.me || p?.done === true);
      const lingered = nowUs - this.convergedSinceUs;
      if ((allDone && lingered >= this.statusEveryUs) || lingered >= 20 * this.statusEveryUs) this.finish(true, out);
    } else {
      this.convergedSinceUs = null;
      if (nowUs >= this.gen.endUs + this.cfg.graceUs) this.finish(false, out);
    }
  }

  private isConverged(): boolean {
    if (this.backlog > 0 || this.pending.size > 0) return false;
    return this.peers.every((p, r) => r === this.cfg.me || (p !== undefined && p.genDone && p.backlog === 0 && p.commitIndex === this.log.length));
  }

  private finish(converged: boolean, out: Effect[]): void {
    this.finished = true;
    out.push({ kind: "finished", converged });
  }

  private notifyLocal(out: Effect[]): void {
    const commitIndex = this.log.length;
    const backlog = this.backlog;
    if (commitIndex === this.notified.commitIndex && backlog === this.notified.backlog) return;
    this.notified = { commitIndex, backlog };
    const note = { kind: "local" as const, commitIndex, backlog };
    out.push({ kind: "toLeader", msg: note }, { kind: "toFollower", msg: note });
  }
}
