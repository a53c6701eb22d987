// The background workload with payloads (--payload N > 0): instead of letting the rank take no-op
// instances from the schedule, submit a command of N random bytes through the public
// Rank.submit() for every instance the schedule has due, at its pace. The rank writes the
// generate line of each submitted command, so the logs look as they did without payloads. A
// bounded number of submissions is kept in flight: past it the submitter waits for one to settle
// (and counts how often it had to), owing the commands that fell due meanwhile.
import { Prng } from "../faults/prng.js";
import type { Clock } from "../ports.js";
import type { ProposalSource } from "../protocol/proposing.js";
import { LatencyBook } from "./latency.js";
import type { GenerationInfo } from "./schedule.js";
import type { Submitted } from "../rank_types.js";
import { OutcomeUnknownError, RankStoppedError } from "../rank_waiters.js";

/** Most submissions the submitter has in the rank at once (the rank's own bound is 65536). */
export const MAX_IN_FLIGHT = 4096;
/** The largest --payload: the rank's default command limit. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** The part of the library API the submitter uses. */
export interface SubmittingRank {
  submit(command: Uint8Array): Promise<Submitted>;
}

/** What the submitter did (in the status file). */
export interface SubmitStats {
  /** Commands handed to submit(). */
  submitted: number;
  /** Submits that resolved: committed and applied on this rank. */
  resolved: number;
  /** The highest seq a resolved submit was committed at (-1: none). */
  maxResolvedSeq: number;
  /** Times the submitter found MAX_IN_FLIGHT submissions unsettled and had to wait (a wait
   * lasts until it owes nothing again). */
  waits: number;
  /** Rejected because a peer's snapshot covered the seq (committed or not: unknown). */
  unknown: number;
  /** Rejected for any other reason than the rank stopping (should stay 0). */
  failed: number;
}

/** The schedule the submitter follows: what is due, and when each instance k (1, 2, ...) was due. */
export type SubmitSchedule = ProposalSource & { info(): GenerationInfo | null };

export class CommandSubmitter {
  /** Latency of every resolved command from the moment the schedule made it due (not from the
   * submit call: time spent waiting for room counts), by second of schedule. */
  readonly latency = new LatencyBook();
  /** Commands taken from the schedule so far (the next one is instance taken + 1). */
  private taken = 0;
  readonly stats: SubmitStats = {
    submitted: 0,
    resolved: 0,
    maxResolvedSeq: -1,
    waits: 0,
    unknown: 0,
    failed: 0,
  };
  private inFlight = 0;
  /** Due by the schedule, not yet submitted (the in-flight bound was reached). */
  private owed = 0;
  /** A settled submission is to pump again (the in-flight bound was reached). */
  private waiting = false;
  /** Commands are owed since the bound was last reached (one wait, in the stats). */
  private blocked = false;
  private stopped = false;
  private rank: SubmittingRank | null = null;
  private cancelTimer: () => void = () => {};
  private readonly rng: Prng;

  constructor(
    private readonly schedule: SubmitSchedule,
    private readonly payload: number,
    seed: number,
    private readonly clock: Clock,
    private readonly warn: (line: string) => void,
    private readonly maxInFlight = MAX_IN_FLIGHT,
  ) {
    this.rng = new Prng(seed);
  }

  /** Commands due and not yet settled (owed or in flight): work this rank still has. */
  get queued(): number {
    return this.owed + this.inFlight;
  }

  /** Submit from now on whatever the schedule has due (call once generation has started). */
  start(rank: SubmittingRank): void {
    this.rank = rank;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private pump(): void {
    const rank = this.rank;
    if (this.stopped || !rank) return;
    this.owed += this.schedule.takeDue(this.clock.nowUs(), false);
    while (this.owed > 0 && this.inFlight < this.maxInFlight) {
      this.owed--;
      this.submit(rank, this.command());
    }
    // One wait lasts until nothing is owed any more, however many settlements it takes.
    if (this.owed > 0 && !this.waiting) {
      if (!this.blocked) this.stats.waits++;
      this.blocked = this.waiting = true; // the next settled submission pumps again
    } else if (this.owed === 0) this.blocked = false;
    this.cancelTimer();
    const next = this.schedule.nextUs;
    if (next !== Infinity) {
      const ms = Math.max(1, (next - this.clock.nowUs()) / 1000);
      this.cancelTimer = this.clock.after(ms, () => this.pump());
    }
  }

  private submit(rank: SubmittingRank, cmd: Uint8Array): void {
    this.inFlight++;
    this.stats.submitted++;
    const info = this.schedule.info();
    const k = ++this.taken;
    const dueUs = info ? info.startUs + (k * 1e6) / info.ratePerS : this.clock.nowUs();
    rank.submit(cmd).then(
      ({ seq }) => {
        this.stats.resolved++;
        if (seq > this.stats.maxResolvedSeq) this.stats.maxResolvedSeq = seq;
        if (info) {
          const second = Math.floor((dueUs - info.startUs) / 1e6);
          this.latency.record(second, this.clock.nowUs() - dueUs);
        }
        this.settled();
      },
      (e: unknown) => {
        if (e instanceof OutcomeUnknownError) this.stats.unknown++;
        else if (!(e instanceof RankStoppedError)) {
          if (this.stats.failed === 0)
            this.warn(`submit failed: ${e instanceof Error ? e.message : String(e)}`);
          this.stats.failed++;
        }
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inFlight--;
    if (!this.waiting) return;
    this.waiting = false;
    this.pump();
  }

  /** payload random bytes, four from each draw. */
  private command(): Uint8Array {
    const out = new Uint8Array(this.payload);
    let i = 0;
    for (; i + 4 <= out.length; i += 4) {
      const x = Math.floor(this.rng.next() * 4294967296);
      out[i] = x >>> 24;
      out[i + 1] = (x >>> 16) & 0xff;
      out[i + 2] = (x >>> 8) & 0xff;
      out[i + 3] = x & 0xff;
    }
    for (; i < out.length; i++) out[i] = this.rng.int(0, 255);
    return out;
  }
}
