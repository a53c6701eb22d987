// Proposing: this rank's own instances on their way to the log. They are proposed (from the
// library API or a paced source such as the background workload), logged as `generate` lines and
// offered to the leader of the current round. The leader allots seqs (want); the owner binds its
// instances to them, durably, and grants them back for imposing.
// Why bindings: an own instance is live at one seq at a time. It returns to the pending queue only
// when its seq was committed with another value, so it can never be committed twice.
import { invariant } from "./assert.js";
import { Deadline } from "./deadline.js";
import { Deque } from "./deque.js";
import { leaderOf, type Effect, type StorageRecord } from "./effects.js";
import { valuesRecord, type Value } from "./leader_plan.js";
import { generateLine, unknownLine } from "./log_lines.js";
import { BATCH_BYTES, NO_OP, type OfferState, type WantMsg } from "./messages.js";

/** Most bytes of commands one grant binds (past it, the rest of the run gets fillers; 16 MiB made
 * fewer fillers with 64 KiB commands, but grants that large overloaded the round: 4 MiB, with the
 * leader's byte window (impose_pipeline.ts WINDOW_BYTES), carried more). */
const GRANT_BYTES = 4 * BATCH_BYTES;

/** A paced producer of own instances (the background workload is one). It is asked at every
 * wake-up, and again right before a want would be filled with made-up instances: a paced producer
 * must hand over what is due by then, or fillers would take the numbers of its instances. Its
 * nextUs is read when the rank's loop computes its wake-up: a source that starts (or moves nextUs
 * earlier) from outside must wake the loop, e.g. with rank.propose(0), as the workload driver does. */
export interface ProposalSource {
  /** How many instances are due by nowUs (they count as proposed); `urgent`: a want is waiting. */
  takeDue(nowUs: number, urgent: boolean): number;
  /** When the next ones fall due (Infinity: none scheduled). */
  readonly nextUs: number;
}

export interface ProposerConfig {
  me: number;
  n: number;
  timeoutUs: number;
  /** When this rank was created: the epoch of its offer counters. */
  createdUs: number;
  source?: ProposalSource;
}

export interface ProposerStats {
  generated: number;
  fillers: number;
  requeued: number;
}

function allOpen(seq: number, count: number, isOpen: (seq: number) => boolean): boolean {
  for (let s = seq; s < seq + count; s++) if (!isOpen(s)) return false;
  return true;
}

/** Pending instances and no allotment for this many timeouts: the leader is not serving us,
 * unless the log moved meanwhile (it serves others first: offers are served in arrival order, and
 * an overloaded leader's window stays full for seconds; bumping then cost every rank a new read
 * each second and nothing got through). STARVED_PERIODS such periods in a row are too many anyway. */
const STARVED_TIMEOUTS = 10;
const STARVED_PERIODS = 10;

export class Proposer {
  private readonly pending = new Deque<Value>();
  private readonly bound = new Map<number, Value>();
  /** Submitted instances, by id: the ticket their commit answers. */
  private readonly tickets = new Map<string, number>();
  /** Instances proposed in this step: one proposal record for all of them, at its end. */
  private proposed: Value[] = [];
  /** The current round, as the msg handler announced it (-1: not yet). */
  private round = -1;
  /** Counters of the pending queue (see OfferState). */
  private enq = 0;
  private deq = 0;
  /** The last offer (or grant, which carries the same state) sent to a leader. */
  private offered = { round: -1, enq: -1, awaiting: false };
  /** Offers are repeated every half timeout: they may be lost, or ignored by a leader with nothing to allot. */
  private readonly offerAgain = new Deadline("offer-again");
  /** Pending instances and no allotment for STARVED_TIMEOUTS: the leader is not serving us. */
  private readonly starved = new Deadline("starved");
  /** Commits seen, and starved periods passed while the log moved, since the last allotment. */
  private commitsSinceStarvedArm = 0;
  private starvedPeriods = 0;
  /** The round's patience (patience.ts): starvation is judged over that many times longer. */
  private patience = 1;
  readonly stats: ProposerStats = { generated: 0, fillers: 0, requeued: 0 };

  constructor(private readonly cfg: ProposerConfig) {
    this.offerAgain.arm(0);
  }

  /** Own instances generated but not yet committed (pending or bound to a seq). */
  get backlog(): number {
    return this.pending.length + this.bound.size;
  }

  /** Restart: own instances not committed (in proposal order) go back to pending, live bindings
   * (at or above the commit index) are kept. */
  restore(generated: number, own: readonly Value[], bindings: ReadonlyMap<number, Value>): void {
    this.stats.generated = generated;
    const boundIds = new Set<string>();
    for (const [seq, v] of bindings) {
      this.bound.set(seq, v);
      boundIds.add(v.id);
    }
    for (const v of own) if (!boundIds.has(v.id)) this.enqueue(v);
  }

  /** Durable records describing the own instances still to commit (for a write-ahead log
   * checkpoint): the counter, the pending ones, the live bindings. */
  ownRecords(): StorageRecord[] {
    const recs: StorageRecord[] = [{ r: "gen", next: this.stats.generated }];
    const pending = this.pending.toArray();
    if (pending.length > 0) recs.push({ r: "propose", ...valuesRecord(pending) });
    for (const [seq, v] of this.bound) recs.push({ r: "bind", seq, ...valuesRecord([v]) });
    return recs;
  }

  /** A command from the library API: a new own instance whose commit answers ticket. */
  submit(ticket: number, cmd: Uint8Array, nowUs: number, out: Effect[]): void {
    const v = { id: this.newInstance(nowUs, out), cmd };
    this.tickets.set(v.id, ticket);
    this.enqueue(v);
    this.proposed.push(v);
  }

  /** The step's proposals as one record (a binding in the same step names them itself). */
  flushProposals(out: Effect[]): void {
    if (this.proposed.length === 0) return;
    out.push({ kind: "persist", record: { r: "propose", ...valuesRecord(this.proposed) } });
    this.proposed = [];
  }

  /** Forget bindings at seqs below from (a snapshot installed past them: whether they were
   * chosen there is unknown, so they are neither proposed again nor waited for). */
  dropBoundBelow(from: number, nowUs: number, out: Effect[]): void {
    let dropped = 0;
    for (const [seq, v] of this.bound) {
      if (seq >= from) continue;
      this.bound.delete(seq);
      dropped++;
      const ticket = this.tickets.get(v.id);
      this.tickets.delete(v.id);
      out.push({ kind: "log", line: unknownLine(v.id, seq, nowUs), afterPersist: true });
      if (ticket !== undefined) out.push({ kind: "submitUnknown", ticket });
    }
    if (dropped > 0)
      out.push({
        kind: "warn",
        line: `rank ${this.cfg.me}: ${dropped} own instances were bound to seqs an installed snapshot covers: their outcome is unknown (unknown lines in the log)`,
      });
  }

  onRound(round: number, nowUs: number, patience = 1): void {
    if (round <= this.round) return;
    this.round = round;
    this.patience = patience;
    this.armStarved(nowUs);
  }

  private armStarved(nowUs: number, periods = 0): void {
    this.starved.arm(nowUs + STARVED_TIMEOUTS * this.cfg.timeoutUs * this.patience);
    this.commitsSinceStarvedArm = 0;
    this.starvedPeriods = periods;
  }

  /** count new own instances with no-op commands (durable before they can be bound). */
  propose(count: number, nowUs: number, out: Effect[]): void {
    for (let i = 0; i < count; i++) {
      const v = { id: this.newInstance(nowUs, out), cmd: NO_OP };
      this.enqueue(v);
      this.proposed.push(v);
    }
  }

  /** Generate what the paced source has due up to now. */
  takeDue(nowUs: number, out: Effect[], urgent = false): void {
    const source = this.cfg.source;
    if (source) this.propose(source.takeDue(nowUs, urgent), nowUs, out);
  }

  /** When this part needs a wake-up: the source's next instances, or the next offer retry. */
  wakeAt(): number {
    const offerUs = this.round >= 0 && this.hasWork() ? this.offerAgain.at : Infinity;
    return Math.min(this.cfg.source?.nextUs ?? Infinity, offerUs);
  }

  /** Bind own instances to the allotted seqs [seq, seq+max) and grant them to the leader. Every seq
   * is filled: an instance already bound there, else a pending one, else a fresh filler.
   * `isOpen(s)`: s is neither committed nor known chosen here (else the leader's round is stale). */
  onWant(want: WantMsg, isOpen: (seq: number) => boolean, nowUs: number, out: Effect[]): void {
    this.armStarved(nowUs);
    this.takeDue(nowUs, out, true); // every instance due now comes before any filler
    const values: Value[] = [];
    let firstNew = -1;
    let bytes = 0;
    // A seq of the run known chosen: the asking round is stale and could not impose a short grant
    // anyway, so bind nothing (no instance tied up, no filler made) and grant nothing.
    const stale = !allOpen(want.seq, want.max, isOpen);
    for (let s = want.seq; !stale && values.length < want.max; s++) {
      let v = this.bound.get(s);
      if (v === undefined) {
        v = this.nextToBind(bytes, nowUs, out);
        this.bind(s, v);
        if (firstNew < 0) firstNew = s;
      }
      bytes += v.cmd.length;
      values.push(v);
    }
    // Bindings are durable before the grant reveals them (a restart must not propose them elsewhere).
    if (firstNew >= 0)
      out.push({
        kind: "persist",
        record: { r: "bind", seq: firstNew, ...valuesRecord(values.slice(firstNew - want.seq)) },
      });
    out.push({
      kind: "send",
      to: want.from,
      msg: {
        t: "grant",
        from: this.cfg.me,
        round: want.round,
        seq: want.seq,
        ...valuesRecord(values),
        state: this.offerState(),
      },
    });
    if (want.round === this.round) this.noteOffered(nowUs);
  }

  /** Seq was committed with id: a binding there is settled; if another value won it, our instance
   * can no longer be chosen there, so it is proposed again. */
  onCommitted(seq: number, id: string): number | undefined {
    this.commitsSinceStarvedArm++;
    const ticket = this.tickets.get(id);
    if (ticket !== undefined) this.tickets.delete(id);
    const bound = this.bound.get(seq);
    if (bound === undefined) return ticket;
    this.bound.delete(seq);
    if (bound.id === id) return ticket;
    this.stats.requeued++;
    this.pending.unshift(bound);
    this.enq++;
    // Proposed again, durably: after a restart its old binding (perhaps under a snapshot by then)
    // must not make it look bound or of unknown outcome (recovery.ts).
    this.proposed.push(bound);
    return ticket;
  }

  /** Tell the current leader what waits here: at once in a new round or when instances appear while
   * no want is expected, and again every half timeout. A leader that allots nothing for long is replaced. */
  maybeOffer(nowUs: number, out: Effect[]): void {
    if (this.round < 0 || !this.hasWork()) return;
    if (this.pending.length > 0 && this.starved.fired(nowUs)) {
      const served = this.commitsSinceStarvedArm > 0 && this.starvedPeriods + 1 < STARVED_PERIODS;
      this.armStarved(nowUs, served ? this.starvedPeriods + 1 : 0);
      if (!served)
        out.push({
          kind: "toMsg",
          msg: { kind: "bump", round: this.round, reason: "giveup", by: "consensus" },
        });
    }
    const o = this.offered;
    const fresh = o.round !== this.round || (this.enq > o.enq && !o.awaiting);
    if (!fresh && !this.offerAgain.fired(nowUs)) return;
    const leader = leaderOf(this.round, this.cfg.n);
    out.push({
      kind: "send",
      to: leader,
      msg: { t: "offer", from: this.cfg.me, round: this.round, state: this.offerState() },
    });
    this.noteOffered(nowUs);
  }

  /** The next pending instance for a seq of a want, or a filler: when none is pending, or when
   * the grant already carries GRANT_BYTES of commands (the frame stays bounded). */
  private nextToBind(bytesSoFar: number, nowUs: number, out: Effect[]): Value {
    const next = this.pending.peek();
    if (next !== undefined && (bytesSoFar === 0 || bytesSoFar + next.cmd.length <= GRANT_BYTES)) {
      this.pending.shift();
      this.deq++;
      return next;
    }
    this.stats.fillers++;
    return { id: this.newInstance(nowUs, out), cmd: NO_OP };
  }

  private bind(seq: number, v: Value): void {
    invariant(
      !this.bound.has(seq),
      () =>
        `rank ${this.cfg.me}: seq ${seq} bound to ${this.bound.get(seq)?.id} would be rebound to ${v.id}`,
    );
    this.bound.set(seq, v);
  }

  private enqueue(v: Value): void {
    this.pending.push(v);
    this.enq++;
  }

  private newInstance(nowUs: number, out: Effect[]): string {
    const seq = this.stats.generated++;
    const id = `${this.cfg.me}-${seq}`;
    out.push({ kind: "log", line: generateLine(id, seq, nowUs) });
    return id;
  }

  private hasWork(): boolean {
    return this.pending.length > 0 || this.bound.size > 0;
  }

  private offerState(): OfferState {
    // Bound instances matter to the leader only when nothing is pending (see OfferBook.allotment).
    const upTo = this.pending.length > 0 ? -1 : this.maxBoundSeq();
    return { epoch: Math.floor(this.cfg.createdUs), enq: this.enq, deq: this.deq, upTo };
  }

  private noteOffered(nowUs: number): void {
    this.offered = { round: this.round, enq: this.enq, awaiting: this.pending.length > 0 };
    this.offerAgain.arm(nowUs + this.cfg.timeoutUs / 2);
  }

  private maxBoundSeq(): number {
    let max = -1;
    for (const s of this.bound.keys()) if (s > max) max = s;
    return max;
  }
}
