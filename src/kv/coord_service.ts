// The service side of sessions, locks and the master. What is decided goes through the log
// (session open/close/expire, acquire, release, cancel_wait, the master entry); what is not:
// keepalives. The master (the lease holder) keeps each session's deadline on its monotonic clock
// and, every 100 ms, submits the sessions past it as one session_expire carrying the log's master
// epoch, which the machine refuses from any master but the latest.
//
// A rank that wins the lease is active at once: every open session's deadline restarts at now +
// TTL (a failover never expires a session that was being kept alive elsewhere), and keepalives
// are answered. It also submits {op: "master", rank, term}; only once that entry is applied (the
// log's master is this rank with its current term; its revision is the epoch) does it expire
// sessions. Answering keepalives before that is safe: the old master lost its lease before this
// one began, and whatever expiry it sent before then concerns a session whose client had already
// given it up (the client's deadline runs out before the master's). Without a lease
// (KvServiceOptions.lease undefined) the rank is master for good when `actAsMaster` (default: rank
// 0), with a term taken from its start time, so a restarted rank 0 claims a new epoch.
import type { Clock } from "../ports.js";
import {
  MAX_SESSIONS_PER_EXPIRE,
  type ClientRef,
  type KvCommand,
  type KvResult,
} from "./commands.js";
import { LockWaiters } from "./coord_service_locks.js";
import type { CoordNotice, KvMachine } from "./kv_machine.js";

/** What the coordination half needs of the service (KvService is one): a way through the log
 * (the service stamps atMs), a read barrier, the machine and the rank's options. */
export interface CoordHost {
  readonly machine: KvMachine;
  readonly opts: { me: number; lease?: MasterView; actAsMaster?: boolean };
  write(w: CoordWrite): Promise<KvResult>;
  barrier(): Promise<void>;
}
type CoordWrite = KvCommand extends infer C
  ? C extends { op: "master" | "session_expire" | "acquire" | "cancel_wait" }
    ? Omit<C, "atMs">
    : never
  : never;

/** What a rank knows of the master lease (src/lease's LeaseNode gives it). */
export interface LeaseView {
  iAmMaster: boolean;
  /** The master as this rank knows it. */
  master: number | null;
  /** The master's term: unique per acquisition of the lease by a rank. */
  term: number;
  /** On the master: when its lease ends, on its monotonic clock (µs). */
  untilUs?: number;
}
export interface MasterView {
  view(): LeaseView;
  onChange(cb: (v: LeaseView) => void): void;
}

export type KeepaliveAnswer =
  { ttlMs: number } | { error: "not_master"; master: number | undefined } | { error: "no_session" };

/** How often the master looks for sessions past their deadline. */
const EXPIRY_TICK_MS = 100;
/** Acquires waiting on one rank at most (past it: busy). */
export const MAX_WAITING_ACQUIRES = 10_000;

const NO_SESSION: KvResult = { kind: "error", code: "no_session" };

export class CoordService {
  /** Set while this rank is the log's master with its current lease term. */
  /** Set while this rank holds the lease: it answers keepalives from then on. epoch: the
   * revision of its master entry once the log has it (null before: no expiries until then). */
  private active: { term: number; epoch: number | null } | null = null;
  /** Session -> deadline (clock µs); only while active. */
  private readonly deadlines = new Map<number, number>();
  /** The lease term a master entry was submitted for (null: none in flight or done). */
  private claimed: number | null = null;
  private expiring = false;
  private timer: (() => void) | null = null;
  private stopped = false;
  private readonly fallbackTerm: number;
  readonly waiters = new LockWaiters(MAX_WAITING_ACQUIRES);

  constructor(
    private readonly service: CoordHost,
    private readonly clock: Clock,
  ) {
    this.fallbackTerm = Math.floor(clock.nowUs() / 1000);
  }

  private get me(): number {
    return this.service.opts.me;
  }

  private get machine(): KvMachine {
    return this.service.machine;
  }

  /** The lease as this rank sees it (or the fallback without a lease; see the file's head). */
  view(): LeaseView {
    const lease = this.service.opts.lease;
    if (lease) return lease.view();
    if (this.service.opts.actAsMaster ?? this.me === 0)
      return { iAmMaster: true, master: this.me, term: this.fallbackTerm };
    return { iAmMaster: false, master: this.machine.master?.rank ?? null, term: 0 };
  }

  /** True while this rank answers keepalives and expires sessions. */
  get isActive(): boolean {
    return this.active !== null;
  }

  start(): void {
    this.service.opts.lease?.onChange(() => this.check());
    const tick = () => {
      if (this.stopped) return;
      this.check();
      this.expireDue();
      this.timer = this.clock.after(EXPIRY_TICK_MS, tick);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.();
    this.waiters.clear();
  }

  /** Activates as soon as the lease is won (keepalives are answered from then on; a log that is
   * slow to take the master entry, after its leader died with the old master, delays only the
   * expiries), claims the log's master entry for the term, and steps down when the lease goes. */
  private check(): void {
    const v = this.view();
    if (this.active && (!v.iAmMaster || v.term !== this.active.term)) this.deactivate();
    if (!v.iAmMaster || this.stopped) return;
    const m = this.machine.master;
    const mine = m !== null && m.rank === this.me && m.term === v.term;
    if (!this.active) this.activate(mine ? m.epoch : null, v.term);
    else if (mine) this.active.epoch = m.epoch;
    if (!mine && this.claimed !== v.term) this.claim(v.term);
  }

  private claim(term: number): void {
    this.claimed = term;
    this.service.write({ op: "master", rank: this.me, term }).then(
      () => this.check(),
      () => {
        if (this.claimed === term) this.claimed = null; // the next tick tries again
      },
    );
  }

  private activate(epoch: number | null, term: number): void {
    this.active = { term, epoch };
    this.deadlines.clear();
    const now = this.clock.nowUs();
    for (const id of this.machine.sessionIds()) {
      const s = this.machine.session(id);
      if (s) this.deadlines.set(id, now + s.ttlMs * 1000);
    }
  }

  private deactivate(): void {
    this.active = null;
    this.claimed = null;
    this.deadlines.clear();
  }

  /** What the machine applied (called synchronously during apply). */
  onNotice(n: CoordNotice): void {
    switch (n.kind) {
      case "master": {
        const v = this.view();
        const mine = n.rank === this.me && v.iAmMaster && n.term === v.term;
        if (mine && !this.active) this.activate(n.epoch, n.term);
        else if (mine && this.active) this.active.epoch = n.epoch;
        else if (this.active) {
          // A later entry of another master (one that lost its lease before ours began): our
          // expiries would be refused; claim the log again, keep answering keepalives.
          this.active.epoch = null;
          this.claimed = null;
        }
        break;
      }
      case "session_opened":
        if (this.active) this.deadlines.set(n.session, this.clock.nowUs() + n.ttlMs * 1000);
        break;
      case "session_ended":
        this.deadlines.delete(n.session);
        this.waiters.sessionEnded(n.session);
        break;
      case "granted":
        this.waiters.granted(n.lock, n.session, n.token);
        break;
      case "released":
        break;
    }
  }

  /** Submits one session_expire for the sessions past their deadline (one at a time). */
  private expireDue(): void {
    const active = this.active;
    if (!active || active.epoch === null || this.expiring) return;
    const now = this.clock.nowUs();
    const due: number[] = [];
    for (const [id, at] of this.deadlines) {
      if (at > now) continue;
      due.push(id);
      if (due.length >= MAX_SESSIONS_PER_EXPIRE) break;
    }
    if (due.length === 0) return;
    this.expiring = true;
    this.service
      .write({ op: "session_expire", sessions: due, epoch: active.epoch })
      .then(
        (r) => {
          if (r.kind === "error" && r.code === "not_master" && this.active === active) {
            active.epoch = null; // another master's entry came later: claim the log again
            this.claimed = null;
          }
        },
        () => {}, // a busy or stopped rank: the next tick tries again
      )
      .finally(() => {
        this.expiring = false;
      });
  }

  /** Restarts a session's TTL; only the active master answers. */
  async keepalive(session: number): Promise<KeepaliveAnswer> {
    if (!this.serving()) return this.notMaster();
    let s = this.machine.session(session);
    if (!s) {
      // The open may have been applied elsewhere and not yet here: catch up before saying no.
      await this.service.barrier();
      if (!this.serving()) return this.notMaster();
      s = this.machine.session(session);
    }
    if (!s) return { error: "no_session" };
    this.deadlines.set(session, this.clock.nowUs() + s.ttlMs * 1000);
    return { ttlMs: s.ttlMs };
  }

  private serving(): boolean {
    const v = this.view();
    return this.active !== null && v.iAmMaster && v.term === this.active.term;
  }

  private notMaster(): KeepaliveAnswer {
    return { error: "not_master", master: this.view().master ?? undefined };
  }

  /** The master's rank and the epoch of its log entry (0: not known here yet), or null. */
  masterInfo(): { rank: number; epoch: number } | null {
    const v = this.view();
    if (v.master === null) return null;
    if (v.master === this.me) return { rank: this.me, epoch: this.active?.epoch ?? 0 };
    const m = this.machine.master;
    return { rank: v.master, epoch: m !== null && m.rank === v.master ? m.epoch : 0 };
  }

  /** acquire through the log; with wait, answered once the lock is granted to the session.
   * `closed`: the client's connection is gone (the answer is then dropped). */
  async acquire(
    a: { lock: string; session: number; wait: boolean; client: ClientRef },
    closed?: AbortSignal,
  ): Promise<KvResult> {
    if (a.wait && this.waiters.full) return { kind: "error", code: "limit" };
    const r = await this.service.write({ op: "acquire", ...a });
    if (r.kind !== "queued") return r;
    // Queued (or a resent acquire answered queued from the client table): the grant may already
    // have been applied between that answer and now.
    const holder = this.machine.lock(a.lock)?.holder;
    if (holder && holder.session === a.session) return { kind: "granted", token: holder.token };
    if (!this.machine.session(a.session)) return NO_SESSION;
    return this.waiters.wait(a.lock, a.session, closed);
  }

  /** cancel_wait through the log; answers granted when the session holds the lock after all
   * (the grant came first: the client releases it). */
  async cancelWait(c: { lock: string; session: number; client: ClientRef }): Promise<KvResult> {
    const r = await this.service.write({ op: "cancel_wait", ...c });
    if (r.kind !== "cancelled") return r;
    this.waiters.cancelled(c.lock, c.session);
    const holder = this.machine.lock(c.lock)?.holder;
    if (holder && holder.session === c.session) return { kind: "granted", token: holder.token };
    return r;
  }
}
