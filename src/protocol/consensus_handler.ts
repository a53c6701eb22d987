// consensus handler: owns the rank's log. It generates its own instances (writing `generate`
// lines), hands them to the leader handler on request, binding each to the seq it will be imposed
// at, and applies chosen values (commit / fetched messages) in seq order (writing `commit` lines).
// Why bindings: an own instance is live at one seq at a time. It returns to the pending queue only
// when its seq was committed with another value, so it can never be committed twice.
// It also repairs the log (fetch from a rank that is ahead) and decides when the run is over.
import { CommitLog } from "./commit_log.js";
import { Deque } from "./deque.js";
import type { ConsensusIn, Effect, ProcessorLogic, StorageRecord } from "./effects.js";
import type { StatusMsg } from "./messages.js";
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

const GEN_TICK_US = 1000;
const COMPACT_EVERY = 65_536;
const COMPACT_MARGIN = 1024;

export class ConsensusHandler implements ProcessorLogic<ConsensusIn> {
  private readonly log = new CommitLog();
  private readonly pending = new Map<number, string>();
  private readonly ownPending = new Deque<string>();
  private readonly ownBound = new Map<number, string>();
  private heldWant: { round: number; seq: number; max: number } | null = null;
  private readonly peers: (StatusMsg | undefined)[];
  private fetch: { seq: number; sentUs: number } | null = null;
  private stalledSinceUs: number | null = null;
  private nextStatusUs = 0;
  private nextGenUs = Infinity;
  private genStartUs = Infinity;
  private genEndUs = Infinity;
  private majoritySinceUs: number | null = null;
  private convergedSinceUs: number | null = null;
  private finished = false;
  private notified = { commitIndex: -1, backlog: -1 };
  private readonly statusEveryUs: number;
  readonly stats: ConsensusStats = { generated: 0, fillers: 0, committed: 0, requeued: 0, fetchesSent: 0, fetchedIds: 0, conflicts: 0 };

  constructor(private readonly cfg: ConsensusConfig) {
    this.peers = new Array<StatusMsg | undefined>(cfg.n).fill(undefined);
    this.statusEveryUs = Math.max(1000, cfg.timeoutUs / 2);
  }

  get commitIndex(): number {
    return this.log.length;
  }

  get backlog(): number {
    return this.ownPending.length + this.ownBound.size;
  }

  /** Committed ids still held in memory, from seq `from`. */
  committedIds(from = 0): string[] {
    return this.log.slice(from, this.log.length);
  }

  /** The lowest committed seq still held in memory (below it, every rank has committed). */
  get compactedBelow(): number {
    return this.log.start;
  }

  /** Restart: commits and own instances from the log file, bindings from the write-ahead log. */
  restore(recovered: RecoveredLog, records: readonly StorageRecord[]): void {
    for (const id of recovered.commits) this.log.push(id);
    this.stats.generated = recovered.generated;
    const committed = new Set(recovered.commits);
    const boundAt = new Map<string, number>(); // latest binding of each instance wins
    for (const rec of records) if (rec.r === "bind") rec.ids.forEach((id, i) => boundAt.set(id, rec.seq + i));
    for (const [id, seq] of boundAt) if (!committed.has(id) && seq >= this.log.length) this.ownBound.set(seq, id);
    for (const id of recovered.uncommitted) if (!this.isBound(id, boundAt)) this.ownPending.push(id);
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
      case "want":
        this.onWant(input.round, input.seq, input.max, input.exact, nowUs, out);
        break;
      case "unwant":
        if (this.heldWant?.round === input.round) this.heldWant = null;
        break;
      case "propose":
        for (let i = 0; i < input.count; i++) this.ownPending.push(this.newInstance(nowUs, out));
        this.grantHeld(nowUs, out);
        break;
      case "net":
        this.onNet(input.msg, nowUs, out);
        break;
    }
    this.notifyLocal(out);
  }

  onTime(nowUs: number, out: Effect[]): void {
    this.maybeStartGenerating(nowUs);
    this.generateDue(nowUs, out);
    this.maybeFetch(nowUs, out);
    if (nowUs >= this.nextStatusUs) {
      this.nextStatusUs = nowUs + this.statusEveryUs;
      this.broadcastStatus(nowUs, out);
      this.notified.commitIndex = -1; // repeat the local notes too: they are lossy
    }
    this.checkFinished(nowUs, out);
    this.notifyLocal(out);
  }

  wakeAt(): number {
    return Math.min(this.nextGenUs, this.nextStatusUs);
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

  /** Generation starts once every rank is heard from, or a majority has been for 10 timeouts
   * (a rank that is down or late must not hold the others back, but a cluster that is still
   * starting up should not count its own start-up as latency). */
  private maybeStartGenerating(nowUs: number): void {
    if (this.genStartUs !== Infinity) return;
    let up = 1;
    this.peers.forEach((p, r) => {
      if (p && r !== this.cfg.me) up++;
    });
    if (up < Math.floor(this.cfg.n / 2) + 1) return;
    this.majoritySinceUs ??= nowUs;
    if (up < this.cfg.n && nowUs - this.majoritySinceUs < 10 * this.cfg.timeoutUs) return;
    this.genStartUs = nowUs;
    this.genEndUs = nowUs + this.cfg.genSeconds * 1e6;
    if (this.cfg.rate > 0 && this.cfg.genSeconds > 0) this.nextGenUs = nowUs;
  }

  /** Generate what the background rate asks for up to now. */
  private generateDue(nowUs: number, out: Effect[]): void {
    if (this.cfg.rate <= 0 || nowUs < this.nextGenUs) return;
    const until = Math.min(nowUs, this.genEndUs);
    const target = Math.floor(((until - this.genStartUs) * this.cfg.rate) / 1e6);
    const before = this.ownPending.length;
    while (this.stats.generated - this.stats.fillers < target) this.ownPending.push(this.newInstance(nowUs, out));
    this.nextGenUs = nowUs >= this.genEndUs ? Infinity : Math.max(nowUs + GEN_TICK_US, this.genStartUs + ((target + 1) * 1e6) / this.cfg.rate);
    if (this.ownPending.length > before) this.grantHeld(nowUs, out);
  }

  private newInstance(nowUs: number, out: Effect[]): string {
    const seq = this.stats.generated++;
    const id = `${this.cfg.me}-${seq}`;
    out.push({ kind: "log", line: `generate Instance[${id}] in seq ${seq} at ${Math.floor(nowUs)}\n` });
    return id;
  }

  /** Bind own instances to seqs [seq, seq+max) for the leader handler's round and grant them. */
  private onWant(round: number, seq: number, max: number, exact: boolean, nowUs: number, out: Effect[]): void {
    // A new want for new instances replaces the held one; an exact want (holes) leaves it alone.
    if (!exact) this.heldWant = null;
    this.generateDue(nowUs, out);
    const maxBound = exact ? -1 : this.maxBoundSeq();
    const ids: string[] = [];
    let firstNew = -1;
    for (let s = seq; ids.length < max; s++) {
      if (s < this.log.length || this.pending.has(s)) break; // chosen already: the leader's round is stale
      const bound = this.ownBound.get(s);
      if (bound !== undefined) {
        ids.push(bound);
        continue;
      }
      // Past the pending queue, fill up to an instance already bound further on (it must be
      // imposed at its own seq), or every seq of an exact want (holes), with fresh fillers.
      let next = this.ownPending.shift();
      if (next === undefined && (exact || s < maxBound)) {
        next = this.newInstance(nowUs, out);
        this.stats.fillers++;
      }
      if (next === undefined) break;
      this.ownBound.set(s, next);
      if (firstNew < 0) firstNew = s;
      ids.push(next);
    }
    if (ids.length === 0 && !exact) this.heldWant = { round, seq, max };
    // Bindings are durable before the grant reveals them (a restart must not propose them elsewhere).
    if (firstNew >= 0) out.push({ kind: "persist", record: { r: "bind", seq: firstNew, ids: ids.slice(firstNew - seq) } });
    out.push({ kind: "toLeader", msg: { kind: "grant", round, seq, ids } });
  }

  private grantHeld(nowUs: number, out: Effect[]): void {
    const w = this.heldWant;
    if (w) this.onWant(w.round, w.seq, w.max, false, nowUs, out);
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
    if (this.heldWant && this.ownPending.length > 0) this.grantHeld(nowUs, out); // requeued instances
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
      genDone: nowUs >= this.genEndUs,
      done: this.convergedSinceUs !== null,
    };
    for (let r = 0; r < this.cfg.n; r++) if (r !== this.cfg.me) out.push({ kind: "send", to: r, msg: status });
  }

  /** The run is over when every rank has stopped generating and committed everything (or grace ran out). */
  private checkFinished(nowUs: number, out: Effect[]): void {
    if (this.finished) return;
    if (this.genStartUs === Infinity && nowUs >= this.cfg.createdUs + this.cfg.graceUs) return this.finish(false, out);
    if (nowUs < this.genEndUs) return;
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
      if (nowUs >= this.genEndUs + this.cfg.graceUs) this.finish(false, out);
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
