// The leader's impose pipeline for one round: it allots free seqs to ranks with offers (want),
// imposes what they grant (and what the sync re-imposes) in batches, pipelined up to a window,
// counts acks, and announces chosen batches (commit, with values). Lost wants and imposes are
// sent again; an owner that stays silent has its run taken over by the leader's own instances.
// The phases around it (read, sync, end, giving up) are the leader handler's.
import type { Effect } from "./effects.js";
import { cmdBytes, cutRuns, mergeRuns, OfferBook, type Value } from "./leader_plan.js";
import {
  BATCH_BYTES,
  cmdAt,
  LIMITS,
  type AckMsg,
  type GrantMsg,
  type OfferMsg,
  type WireMsg,
} from "./messages.js";

/** Most bytes of commands imposed and not yet chosen before the leader allots more seqs. */
export const WINDOW_BYTES = 32 * BATCH_BYTES;

export interface PipelineConfig {
  me: number;
  n: number;
  /** -l: most new instances imposed in one round. */
  maxPerRound: number;
  /** Most instances in one impose frame. */
  batch: number;
  /** Most uncommitted impose batches at once. */
  window: number;
  timeoutUs: number;
}

export interface PipelineStats {
  committed: number;
  reimposed: number;
  holesFilled: number;
  retransmits: number;
}

/** What the pipeline needs from the leader around it. */
export interface PipelineHooks {
  /** A frame to every rank (the leader's quiet-time deadlines restart). */
  broadcast(msg: WireMsg, nowUs: number, out: Effect[]): void;
  /** A batch was chosen: the round makes progress. */
  progressed(nowUs: number): void;
}

interface Batch {
  seq: number;
  ids: string[];
  /** Absent: every command a no-op. */
  cmds?: Uint8Array[];
  acked: boolean[];
  acks: number;
  firstUs: number;
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

export class ImposePipeline {
  private round = 0;
  /** The next free seq to allot. */
  nextSeq = 0;
  /** Allotting to offers (the imposing phase); an ending round only finishes what it started. */
  allotting = false;
  /** Impose batches not yet committed, by first seq. */
  private readonly batches = new Map<number, Batch>();
  /** Batches made in this step and not yet sent; batches chosen in this step, not yet announced. */
  private unsent: Batch[] = [];
  private toCommit: Batch[] = [];
  private readonly wants = new Map<number, Want>();
  private readonly offers = new OfferBook();
  /** Seqs allotted or imposed and not yet committed (bounded by batch * window). */
  private openIds = 0;
  /** Bytes of commands imposed and not yet committed: no new allotment past WINDOW_BYTES (with
   * 64 KiB commands a window counted in seqs alone let 128 MiB into flight, and rounds gave up
   * one after another: 262 rounds and 602 commits in 69 s at 450 commands/s on 3 ranks). */
  private openBytes = 0;
  private newImposed = 0;
  /** Smoothed time from a want to its grant and from an impose to its majority of acks (0: none
   * seen yet). Kept across rounds. Under load it is far above -o (a 1 MiB impose waits for
   * fdatasyncs queued behind others): resending after half a timeout then only doubled the
   * load on busy disks, and taking over an owner's run after one timeout threw its binding away. */
  private roundTripUs = 0;

  constructor(
    private readonly cfg: PipelineConfig,
    private readonly quorum: number,
    readonly stats: PipelineStats,
    private readonly hooks: PipelineHooks,
  ) {}

  /** Work under way: batches not yet chosen or runs not yet granted. */
  get busy(): boolean {
    return this.batches.size > 0 || this.wants.size > 0;
  }

  /** The round's quota of new instances is used up. */
  get quotaUsed(): boolean {
    return this.newImposed >= this.cfg.maxPerRound;
  }

  /** A new round: everything of the old one is forgotten (announce its chosen batches first). */
  reset(round: number): void {
    this.round = round;
    this.allotting = false;
    this.unsent = [];
    this.batches.clear();
    this.wants.clear();
    this.offers.clear();
    this.openIds = 0;
    this.openBytes = 0;
    this.newImposed = 0;
  }

  /** Sync: re-impose best[seq] for the seqs that have one in [from, to]; want own instances for the holes. */
  resync(from: number, to: number, best: Map<number, Value>, nowUs: number, out: Effect[]): void {
    let seq = from;
    while (seq <= to) {
      const start = seq;
      if (best.has(seq)) {
        const values: Value[] = [];
        for (let v = best.get(seq); v && seq <= to; v = best.get(++seq)) values.push(v);
        this.stats.reimposed += values.length;
        this.openIds += values.length;
        for (const run of cutRuns(start, values, this.cfg.batch)) this.imposeBatch(run, nowUs);
      } else {
        while (seq <= to && !best.has(seq)) seq++;
        this.wantHoles(start, seq - start, nowUs, out);
      }
    }
  }

  onOffer(msg: OfferMsg, nowUs: number, out: Effect[]): void {
    this.offers.learn(msg.from, msg.state);
    this.offers.ready.add(msg.from);
    this.serveOffers(nowUs, out);
  }

  /** Allot free seqs to the ranks with offers, in arrival order, within the quota and the window. */
  serveOffers(nowUs: number, out: Effect[]): void {
    if (!this.allotting || this.openBytes >= WINDOW_BYTES) return;
    const cap = this.cfg.batch * this.cfg.window;
    for (const rank of this.offers.ready) {
      const room = Math.min(
        cap - this.openIds,
        this.cfg.maxPerRound - this.newImposed,
        LIMITS.maxIdsPerFrame,
      );
      if (room <= 0) return;
      this.offers.ready.delete(rank);
      if (this.offers.allotted.has(rank)) continue; // its grant brings its next offer
      const k = Math.min(room, this.offers.allotment(rank, this.nextSeq));
      if (k <= 0) continue;
      this.sendWant(
        { seq: this.nextSeq, max: k, to: rank, hole: false, firstUs: nowUs, sentUs: nowUs },
        out,
      );
      this.offers.allotted.add(rank);
      this.nextSeq += k;
      this.newImposed += k;
    }
  }

  onGrant(msg: GrantMsg, nowUs: number, out: Effect[]): void {
    if (!this.allotting) return;
    this.offers.learn(msg.from, msg.state);
    const want = this.wants.get(msg.seq);
    // A grant from a rank the run was taken from, or a short one (that rank knows these seqs are
    // chosen: this round is stale) is not imposed.
    if (!want || want.to !== msg.from || msg.ids.length !== want.max) return;
    this.wants.delete(msg.seq);
    this.sampleRoundTrip(nowUs - want.firstUs);
    if (!want.hole) this.offers.allotted.delete(msg.from);
    const values = msg.ids.map((id, i) => ({ id, cmd: cmdAt(msg.cmds, i) }));
    for (const run of cutRuns(msg.seq, values, this.cfg.batch)) this.imposeBatch(run, nowUs);
    this.offers.ready.add(msg.from);
    this.serveOffers(nowUs, out);
  }

  /** An ack covers [seq, seq+count): every batch wholly inside it (a follower acks a merged
   * frame, or several, at once). */
  onAck(msg: AckMsg, nowUs: number): void {
    if (msg.count <= 0) return;
    const end = msg.seq + msg.count;
    for (const b of this.batches.values()) {
      if (b.seq < msg.seq || b.seq + b.ids.length > end || b.acked[msg.from]) continue;
      b.acked[msg.from] = true;
      if (++b.acks === this.quorum) this.chosen(b, nowUs);
    }
  }

  /** Send again what was not acked or granted within half a timeout, or twice the usual round
   * trip if that is longer. */
  retransmit(nowUs: number, out: Effect[]): void {
    const retransmitUs = Math.max(this.cfg.timeoutUs / 2, 2 * this.roundTripUs);
    const silentUs = Math.max(this.cfg.timeoutUs, 4 * this.roundTripUs);
    for (const b of this.batches.values()) {
      if (nowUs - b.sentUs < retransmitUs) continue;
      const impose: WireMsg = {
        t: "impose",
        from: this.cfg.me,
        round: this.round,
        seq: b.seq,
        ids: b.ids,
        ...(b.cmds ? { cmds: b.cmds } : {}),
      };
      for (let r = 0; r < this.cfg.n; r++) {
        if (b.acked[r]) continue;
        this.stats.retransmits++;
        out.push({ kind: "send", to: r, msg: impose });
      }
      b.sentUs = nowUs;
    }
    for (const w of this.wants.values()) {
      if (nowUs - w.sentUs < retransmitUs) continue;
      if (w.to !== this.cfg.me && nowUs - w.firstUs >= silentUs) {
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
  }

  flushImposes(nowUs: number, out: Effect[]): void {
    for (const run of mergeRuns(this.unsent))
      this.hooks.broadcast(
        { t: "impose", from: this.cfg.me, round: this.round, ...run },
        nowUs,
        out,
      );
    this.unsent = [];
  }

  /** Chosen values are facts whatever the round: they always leave, before an end or a new round. */
  flushCommits(out: Effect[]): void {
    for (const run of mergeRuns(this.toCommit))
      out.push({ kind: "broadcast", msg: { t: "commit", from: this.cfg.me, ...run } });
    this.toCommit = [];
  }

  private wantHoles(seq: number, count: number, nowUs: number, out: Effect[]): void {
    for (let s = seq; s < seq + count; s += this.cfg.batch) {
      const max = Math.min(this.cfg.batch, seq + count - s);
      this.stats.holesFilled += max;
      this.sendWant(
        { seq: s, max, to: this.cfg.me, hole: true, firstUs: nowUs, sentUs: nowUs },
        out,
      );
    }
  }

  private sendWant(w: Want, out: Effect[]): void {
    if (!this.wants.has(w.seq)) this.openIds += w.max;
    this.wants.set(w.seq, w);
    out.push({
      kind: "send",
      to: w.to,
      msg: { t: "want", from: this.cfg.me, round: this.round, seq: w.seq, max: w.max },
    });
  }

  /** A batch is tracked (acks, retransmission) on its own, but leaves at the end of the step,
   * merged with the adjacent batches of the same step into one frame. */
  private imposeBatch(
    run: { seq: number; ids: string[]; cmds?: Uint8Array[] },
    nowUs: number,
  ): void {
    const { seq } = run;
    this.openBytes += cmdBytes(run.cmds);
    const batch: Batch = {
      ...run,
      acked: new Array<boolean>(this.cfg.n).fill(false),
      acks: 0,
      firstUs: nowUs,
      sentUs: nowUs,
    };
    this.batches.set(seq, batch);
    this.unsent.push(batch);
  }

  private chosen(b: Batch, nowUs: number): void {
    this.batches.delete(b.seq); // later acks for it find nothing and are ignored
    this.openIds -= b.ids.length;
    this.openBytes -= cmdBytes(b.cmds);
    this.stats.committed += b.ids.length;
    this.sampleRoundTrip(nowUs - b.firstUs);
    this.hooks.progressed(nowUs);
    this.toCommit.push(b);
  }

  private sampleRoundTrip(us: number): void {
    this.roundTripUs = this.roundTripUs === 0 ? us : this.roundTripUs + (us - this.roundTripUs) / 8;
  }
}
