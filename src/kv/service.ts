// The key-value service over one rank: writes go through the log (Rank.submit: answered once
// committed and applied here), reads wait for a read barrier (read-index: a majority confirmed
// this rank is up to date after the read began) and then read the local state machine. Without a
// majority both simply wait; the caller's timeout decides. Front-ends (client port, text port)
// turn requests into these calls and the answers into replies. Sessions, locks and the master
// are CoordService's (coord_service.ts), watches WatchHub's (watch_hub.ts); both hear what the
// machine applies through its onNotice.
import type { Clock } from "../ports.js";
import type { Rank } from "../rank.js";
import {
  CommandTooLargeError,
  OutcomeUnknownError,
  RankBusyError,
  RankStoppedError,
} from "../rank_waiters.js";
import { encodeCommand, type KvCommand, type KvResult } from "./commands.js";
import { CoordService, type MasterView } from "./coord_service.js";
import type { KvMachine, KvEntry, RangeQuery } from "./kv_machine.js";
import { WatchHub } from "./watch_hub.js";

export type { LeaseView, MasterView } from "./coord_service.js";

/** Why a request got no answer from the log: a front-end maps each to its own error reply. */
export type KvFailure = "too_large" | "busy" | "stopped" | "unknown_outcome";

export class KvServiceError extends Error {
  constructor(
    readonly code: KvFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface KvServiceOptions {
  me: number;
  /** Largest value accepted (the client and text front-ends refuse larger ones before this). */
  maxValueBytes: number;
  /** The master lease of this rank (src/lease). Without one, this rank is master exactly when
   * `actAsMaster` says so (default: rank 0), for tests and single-master setups. */
  lease?: MasterView;
  actAsMaster?: boolean;
}

export interface KvStatus {
  rank: number;
  round: number;
  leader: number;
  commitIndex: number;
  appliedSeq: number;
  stateHash: string;
  keys: number;
  /** Open sessions (in the log's state). */
  sessions: number;
  /** Acquires waiting on this rank for a grant (each answers one client request). */
  waitingAcquires: number;
  /** Watches of this rank's client connections (history being read, or live). */
  watches: number;
}

/** A command as a front-end asks for it; the service stamps it with the time it is submitted. */
export type KvWrite = KvCommand extends infer C
  ? C extends { op: "expire" }
    ? never
    : C extends KvCommand
      ? Omit<C, "atMs">
      : never
  : never;

/** A command whose outcome was lost to a peer's snapshot is submitted again this many times
 * (safe only with a client ref: the machine answers a repeat from its table). */
const RESUBMITS = 3;
/** Expired keys are removed through the log: rank i sends the tick i * STAGGER_MS after they
 * expired, so one rank (rank 0 while it lives) usually does it and the others back it up. */
const TICK_MS = 1000;
const STAGGER_MS = 250;

export class KvService {
  private tickTimer: (() => void) | null = null;
  private stopped = false;
  readonly coord: CoordService;
  readonly watches: WatchHub;

  constructor(
    private readonly rank: Rank,
    readonly machine: KvMachine,
    private readonly clock: Clock,
    readonly opts: KvServiceOptions,
  ) {
    this.coord = new CoordService(this, clock);
    this.watches = new WatchHub(machine);
    // Called synchronously while a command is applied: events before that command's notices.
    machine.onNotice = (n) => {
      if (n.kind === "events") this.watches.onEvents(n.revision, n.events);
      else this.coord.onNotice(n);
    };
  }

  nowMs(): number {
    return Math.floor(this.clock.nowUs() / 1000);
  }

  /** A command through the log (put, cas, delete, and the coordination commands): the state
   * machine's result for it. */
  async write(w: KvWrite): Promise<KvResult> {
    const cmd = { ...w, atMs: this.nowMs() } as KvCommand;
    const bytes = encodeCommand(cmd);
    for (let attempt = 0; ; attempt++) {
      try {
        const { result } = await this.rank.submit(bytes);
        return result as KvResult;
      } catch (e) {
        // Without a client ref a repeat could apply twice: the outcome stays unknown.
        if (e instanceof OutcomeUnknownError && "client" in w && w.client && attempt < RESUBMITS)
          continue;
        throw failure(e);
      }
    }
  }

  /** The value of key as of a linearizable read point (stale: this rank's state, no barrier). */
  async read(key: string, stale = false): Promise<ReturnType<KvMachine["read"]>> {
    if (!stale) await this.barrier();
    return this.machine.read(key, this.nowMs());
  }

  async range(query: RangeQuery, stale = false): Promise<KvEntry[]> {
    if (!stale) await this.barrier();
    return this.machine.range(query, this.nowMs());
  }

  /** Resolves once this rank has applied everything committed anywhere before the call. */
  async barrier(): Promise<void> {
    try {
      await this.rank.readBarrier();
    } catch (e) {
      throw failure(e);
    }
  }

  /** Start removing expired keys through the log (every rank checks once a second), the
   * master's duties (claiming the log's master entry, expiring sessions) and watch progress. */
  startExpiry(): void {
    this.coord.start();
    // Watch progress: one read barrier a second for all of this rank's live watches.
    this.watches.startProgress({
      barrier: () => this.barrier(),
      after: (ms, fn) => this.clock.after(ms, fn),
    });
    const tick = () => {
      if (this.stopped) return;
      void this.expireDue().finally(() => {
        if (!this.stopped) this.tickTimer = this.clock.after(TICK_MS, tick);
      });
    };
    this.tickTimer = this.clock.after(TICK_MS, tick);
  }

  private async expireDue(): Promise<void> {
    const due = this.machine.earliestExpiryMs();
    if (due === undefined || this.nowMs() < due + this.opts.me * STAGGER_MS) return;
    try {
      await this.rank.submit(encodeCommand({ op: "expire", atMs: this.nowMs() }));
    } catch {
      // A stopped or busy rank: the next tick (or another rank) tries again.
    }
  }

  /** For `status` requests and status files: where this rank is and what its state hashes to
   * (equal hashes at equal applied seqs on every rank). */
  status(): KvStatus {
    const st = this.rank.status();
    return {
      rank: this.opts.me,
      round: st.round,
      leader: st.leader,
      commitIndex: st.commitIndex,
      appliedSeq: this.rank.state.appliedSeq,
      stateHash: this.machine.stateHash(),
      keys: this.machine.size,
      sessions: this.machine.sessionIds().length,
      waitingAcquires: this.coord.waiters.size,
      watches: this.watches.count,
    };
  }

  stop(): void {
    this.stopped = true;
    this.tickTimer?.();
    this.coord.stop();
    this.watches.stop();
  }
}

function failure(e: unknown): KvServiceError {
  if (e instanceof KvServiceError) return e;
  if (e instanceof CommandTooLargeError) return new KvServiceError("too_large", e.message);
  if (e instanceof RankBusyError) return new KvServiceError("busy", e.message);
  if (e instanceof RankStoppedError) return new KvServiceError("stopped", e.message);
  if (e instanceof OutcomeUnknownError) return new KvServiceError("unknown_outcome", e.message);
  return new KvServiceError("stopped", e instanceof Error ? e.message : String(e));
}
