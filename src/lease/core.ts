// PaxosLease between the ranks of one cluster, as a pure state machine: inputs (a message, the
// time passing, start, stop) with the current monotonic time in µs, effects out (messages to send,
// lease-log lines, view changes); the shell (node.ts) runs it on real timers and sockets. Every
// rank is an acceptor (acceptor.ts) and a proposer:
//
// - A candidate prepares with a fresh ballot; on a majority of promises none of which reports an
//   unexpired lease of another rank, it proposes a lease of leaseMs for itself; on a majority of
//   accepts it holds the lease until  prepareSentUs + leaseMs·(1 − drift) − margin  on its clock,
//   timed from BEFORE its prepare, while every acceptor times it from when it received the
//   propose: the holder always believes its lease ends before any acceptor lets it go.
// - The holder renews every leaseMs/4 with a new ballot (a promise reporting its own lease counts
//   as free: PaxosLease's extension); it keeps the term. Reaching its end without a renewal ends it.
// - A rank that starts waits out the longest lease (leaseMs + margin) before it answers or
//   proposes: it forgot what it promised and accepted in its last life.
// - Candidates try only when their own acceptor sees no lease, after a delay that grows with their
//   place in the priority order (--priority, then rank), so the highest-priority live rank wins.
// - Acceptors answer every rank (not only the proposer), so every rank learns the others'
//   priorities and ballots, and from its own acceptor who the master is.
import { invariant, StepTime } from "../protocol/assert.js";
import {
  compareBallots,
  type Ballot,
  type LeaseBody,
  type LeaseMsg,
} from "../protocol/lease_messages.js";
import type { Random } from "../ports.js";
import { LeaseAcceptor } from "./acceptor.js";
import { believedUs, leaseConfigProblem, type LeaseConfig } from "./config.js";
import { endedLine, heldLine, startLine } from "./lines.js";

export interface LeaseView {
  iAmMaster: boolean;
  /** The master as this rank knows it (itself, or the owner of the lease its acceptor holds). */
  master: number | null;
  /** The master's term (0 when there is none): unique per acquisition by that rank. */
  term: number;
  /** Only on the master: when its lease ends, on its monotonic clock (µs). */
  untilUs?: number;
}

export type LeaseEffect =
  | { kind: "send"; to: number; msg: LeaseMsg }
  /** Append to the lease log, durably before any effect after it (a held line before the view). */
  | { kind: "line"; line: string }
  | { kind: "view"; view: LeaseView };

interface Attempt {
  b: Ballot;
  phase: "prepare" | "propose";
  /** When the prepare went out: the lease is timed from here. */
  sentUs: number;
  deadlineUs: number;
  /** When the phase's message goes again to the ranks that have not answered (a lost frame
   * costs a resend interval, not the whole phase). */
  resendAtUs: number;
  votes: Set<number>;
  term: number;
}

interface Held {
  term: number;
  untilUs: number;
  renewAtUs: number;
}

const NO_VIEW: LeaseView = { iAmMaster: false, master: null, term: 0 };

export class LeaseCore {
  private readonly acceptor: LeaseAcceptor;
  private readonly time = new StepTime("lease");
  /** The time of the last step. */
  private lastUs = -Infinity;
  private readonly priorities: number[];
  private readonly majority: number;
  private counter: number;
  private readyAtUs = Infinity;
  private stopped = false;
  private attempt: Attempt | null = null;
  private held: Held | null = null;
  /** The highest ballot this rank proposed with (a release names it). */
  private lastBallot: Ballot | null = null;
  private nextTryUs: number | null = null;
  /** Another rank is trying: give its attempt time to finish rather than duel with it. */
  private quietUntilUs = -Infinity;
  /** The last owner its acceptor saw: probably dead once its lease ran out (not counted ahead). */
  private lastOwner: number | null = null;
  private shown: LeaseView = NO_VIEW;
  /** Messages to itself, handled before the step ends (never through the network). */
  private readonly local: LeaseMsg[] = [];

  constructor(
    private readonly cfg: LeaseConfig,
    private readonly random: Random,
  ) {
    const problem = leaseConfigProblem(cfg);
    if (problem !== null) throw new RangeError(`lease: ${problem}`);
    this.acceptor = new LeaseAcceptor(cfg.leaseMs);
    this.priorities = Array.from({ length: cfg.n }, () => 0);
    this.priorities[cfg.me] = cfg.priority;
    this.majority = Math.floor(cfg.n / 2) + 1;
    this.counter = cfg.startCounter;
  }

  /** Begin: silent for the longest lease (a restart forgot its promises), then a candidate. */
  start(nowUs: number, out: LeaseEffect[]): void {
    this.enter(nowUs);
    invariant(this.readyAtUs === Infinity && !this.stopped, () => "lease: started twice");
    this.readyAtUs = nowUs + this.cfg.leaseMs * 1000 + this.cfg.marginUs;
    out.push({ kind: "line", line: startLine(this.cfg.me, nowUs) });
    // A release at ballot 0 releases nothing (every proposal's ballot is above it): it only tells
    // the others this rank's priority before anyone tries (answers tell it from then on).
    this.broadcast({ k: "release", b: { n: 0, r: this.cfg.me } }, out);
    this.settle(nowUs, out);
  }

  /** Stop for good: a holder ends its lease now (logged first), then tells the acceptors. */
  stop(nowUs: number, out: LeaseEffect[]): void {
    this.enter(nowUs);
    if (this.stopped) return;
    const held = this.held;
    if (held !== null && nowUs < held.untilUs) {
      out.push({ kind: "line", line: endedLine(this.cfg.me, held.term, nowUs) });
    }
    this.held = null;
    this.attempt = null;
    this.stopped = true;
    this.showView(nowUs, out);
    if (held !== null && this.lastBallot !== null)
      this.broadcast({ k: "release", b: this.lastBallot }, out);
    this.local.length = 0;
  }

  onMessage(msg: LeaseMsg, nowUs: number, out: LeaseEffect[]): void {
    this.enter(nowUs);
    if (this.stopped) return;
    this.handle(msg, nowUs, out);
    this.settle(nowUs, out);
  }

  onTime(nowUs: number, out: LeaseEffect[]): void {
    this.enter(nowUs);
    if (this.stopped) return;
    this.settle(nowUs, out);
  }

  private enter(nowUs: number): void {
    this.time.enter(nowUs);
    this.lastUs = nowUs;
  }

  /** When onTime next has something to do (Infinity: never, until a message comes). Everything
   * due at the last step's time was done in it (settle), so only later times count. */
  wakeAtUs(): number {
    if (this.stopped || this.readyAtUs === Infinity) return Infinity;
    const due = [this.readyAtUs, this.nextTryUs ?? Infinity, this.acceptor.accepted?.expiresUs];
    if (this.attempt !== null) due.push(this.attempt.deadlineUs, this.attempt.resendAtUs);
    if (this.held !== null) due.push(this.held.untilUs, this.held.renewAtUs);
    let at = Infinity;
    for (const t of due) if (t !== undefined && t > this.lastUs && t < at) at = t;
    return at;
  }

  view(nowUs: number): LeaseView {
    if (this.stopped) return NO_VIEW;
    const held = this.held;
    if (held !== null && nowUs < held.untilUs)
      return { iAmMaster: true, master: this.cfg.me, term: held.term, untilUs: held.untilUs };
    const seen = this.acceptor.current(nowUs);
    if (seen === null || seen.owner === this.cfg.me) return NO_VIEW;
    return { iAmMaster: false, master: seen.owner, term: seen.term };
  }

  /** After every input: lapse, renew or try as the time says; drain messages to itself; show. */
  private settle(nowUs: number, out: LeaseEffect[]): void {
    for (let guard = 0; ; guard++) {
      invariant(guard < 64, () => "lease: messages to itself do not settle");
      this.timeStep(nowUs, out);
      const msg = this.local.shift();
      if (msg === undefined) break;
      this.handle(msg, nowUs, out);
    }
    this.showView(nowUs, out);
  }

  private timeStep(nowUs: number, out: LeaseEffect[]): void {
    if (nowUs < this.readyAtUs) return;
    if (this.attempt !== null && nowUs >= this.attempt.deadlineUs) this.abandon(nowUs);
    const held = this.held;
    if (held !== null && nowUs >= held.untilUs) this.held = null; // ran out: its line said until when
    const seen = this.acceptor.current(nowUs);
    if (seen !== null && seen.owner !== this.cfg.me) this.lastOwner = seen.owner;
    if (this.attempt !== null) return this.resendDue(this.attempt, nowUs, out);
    if (this.held !== null) {
      if (nowUs >= this.held.renewAtUs) this.begin(nowUs, out);
      return;
    }
    if (seen !== null) {
      this.nextTryUs = null; // someone holds it: wait for it to run out
      return;
    }
    this.nextTryUs ??= Math.max(nowUs, this.quietUntilUs) + this.placeDelayUs() + this.jitterUs();
    if (nowUs >= this.nextTryUs) this.begin(nowUs, out);
  }

  /** Phase 1 of an acquisition or a renewal, with a ballot above any seen. */
  private begin(nowUs: number, out: LeaseEffect[]): void {
    this.counter += 1;
    const b = { n: this.counter, r: this.cfg.me };
    const term = this.held?.term ?? b.n;
    this.attempt = {
      b,
      phase: "prepare",
      sentUs: nowUs,
      deadlineUs: nowUs + this.phaseUs(),
      resendAtUs: nowUs + this.resendUs(),
      votes: new Set(),
      term,
    };
    this.lastBallot = b;
    this.nextTryUs = null;
    this.broadcast({ k: "prepare", b }, out);
  }

  private handle(msg: LeaseMsg, nowUs: number, out: LeaseEffect[]): void {
    const body = msg.lease;
    this.priorities[msg.from] = msg.p;
    this.learn(body.b);
    if (body.k === "reject") this.learn(body.higher);
    const ready = nowUs >= this.readyAtUs;
    switch (body.k) {
      case "prepare": {
        if (msg.from !== this.cfg.me) this.deferTo(nowUs);
        const answer = this.acceptor.onPrepare(body.b, nowUs);
        if (ready) this.broadcast(answer, out);
        return;
      }
      case "propose": {
        const answer = this.acceptor.onPropose(msg.from, body.b, body.ms, body.term, nowUs);
        if (ready && answer !== null) this.broadcast(answer, out);
        return;
      }
      case "release":
        return this.acceptor.onRelease(msg.from, body.b);
      default:
        return this.onAnswer(msg.from, body, nowUs, out);
    }
  }

  /** A promise, accept or reject: counts only for the attempt in progress with that ballot. */
  private onAnswer(from: number, body: LeaseBody, nowUs: number, out: LeaseEffect[]): void {
    const a = this.attempt;
    if (a === null || compareBallots(body.b, a.b) !== 0) return;
    if (body.k === "reject") return this.abandon(nowUs);
    if (a.phase === "prepare" && body.k === "promise") {
      // PaxosLease: a lease of another rank still running at that acceptor: not free.
      if (body.owner !== null && body.owner !== this.cfg.me) return this.abandon(nowUs);
      a.votes.add(from);
      if (a.votes.size < this.majority) return;
      a.phase = "propose";
      a.votes = new Set();
      a.deadlineUs = nowUs + this.phaseUs();
      a.resendAtUs = nowUs + this.resendUs();
      this.broadcast(this.phaseBody(a), out);
    } else if (a.phase === "propose" && body.k === "accepted") {
      a.votes.add(from);
      if (a.votes.size >= this.majority) this.won(a, nowUs, out);
    }
  }

  private phaseBody(a: Attempt): LeaseBody {
    return a.phase === "prepare"
      ? { k: "prepare", b: a.b }
      : { k: "propose", b: a.b, ms: this.cfg.leaseMs, term: a.term };
  }

  /** The phase's message again to every other rank that has not answered it yet. An acceptor
   * answers the same ballot again alike (a repeated propose restarts its lease timer from the
   * later receipt, which only makes it hold longer than the proposer believes). */
  private resendDue(a: Attempt, nowUs: number, out: LeaseEffect[]): void {
    if (nowUs < a.resendAtUs) return;
    a.resendAtUs = nowUs + this.resendUs();
    const msg: LeaseMsg = {
      t: "lease",
      from: this.cfg.me,
      p: this.cfg.priority,
      lease: this.phaseBody(a),
    };
    for (let to = 0; to < this.cfg.n; to++) {
      if (to !== this.cfg.me && !a.votes.has(to)) out.push({ kind: "send", to, msg });
    }
  }

  /** A majority accepted: hold (or keep holding) until what the clock allows, logged first. */
  private won(a: Attempt, nowUs: number, out: LeaseEffect[]): void {
    this.attempt = null;
    this.nextTryUs = null;
    const untilUs = a.sentUs + believedUs(this.cfg);
    if (untilUs <= nowUs) return this.abandon(nowUs); // took longer than the lease: worthless
    // A renewal keeps the term; one that comes after the lease ran out is a new acquisition.
    const term = this.held !== null ? a.term : a.b.n;
    const renewAtUs = nowUs + this.renewEveryUs();
    this.held = { term, untilUs, renewAtUs: Math.min(renewAtUs, untilUs - this.phaseUs() * 2) };
    out.push({ kind: "line", line: heldLine(this.cfg.me, term, nowUs, untilUs) });
  }

  /** The attempt failed (refused, busy or silent): a holder retries soon, a candidate later. */
  private abandon(nowUs: number): void {
    this.attempt = null;
    if (this.held !== null) this.held.renewAtUs = nowUs + this.jitterUs() / 2;
    else this.nextTryUs = nowUs + this.cfg.retryUs + this.placeDelayUs() + this.jitterUs();
  }

  /** Another rank prepares: a candidate waits for that attempt's two phases before it tries. */
  private deferTo(nowUs: number): void {
    this.quietUntilUs = nowUs + 2 * this.phaseUs();
    if (this.held === null && this.attempt === null) this.nextTryUs = null;
  }

  /** Move the ballot counter past any ballot seen, so this rank's next one is higher. */
  private learn(b: Ballot): void {
    if (b.n > this.counter) this.counter = b.n;
  }

  /** Extra wait for the ranks ahead of this one in the priority order (the last master, which
   * probably died, is not counted). */
  private placeDelayUs(): number {
    const me = this.cfg.me;
    const mine = this.priorities[me] ?? 0;
    let place = 0;
    for (let r = 0; r < this.cfg.n; r++) {
      if (r === me || r === this.lastOwner) continue;
      const p = this.priorities[r] ?? 0;
      if (p > mine || (p === mine && r < me)) place++;
    }
    return place * this.cfg.placeDelayUs;
  }

  private jitterUs(): number {
    return Math.floor(this.random.next() * this.cfg.jitterUs);
  }

  private phaseUs(): number {
    return Math.floor((this.cfg.leaseMs * 1000) / 8);
  }

  /** A phase resends to silent ranks this often (5 tries per phase). */
  private resendUs(): number {
    return Math.floor(this.phaseUs() / 5);
  }

  private renewEveryUs(): number {
    return Math.floor((this.cfg.leaseMs * 1000) / 4);
  }

  private broadcast(body: LeaseBody, out: LeaseEffect[]): void {
    const msg: LeaseMsg = { t: "lease", from: this.cfg.me, p: this.cfg.priority, lease: body };
    for (let to = 0; to < this.cfg.n; to++) {
      if (to === this.cfg.me) this.local.push(msg);
      else out.push({ kind: "send", to, msg });
    }
  }

  private showView(nowUs: number, out: LeaseEffect[]): void {
    const v = this.view(nowUs);
    const s = this.shown;
    if (v.iAmMaster === s.iAmMaster && v.master === s.master && v.term === s.term) return;
    this.shown = v;
    out.push({ kind: "view", view: v });
  }
}
