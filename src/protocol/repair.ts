// Repair: every rank tells the others, every half timeout, how far its log goes (status). A rank
// that stays behind a peer, or has a gap below values it knows chosen, fetches the missing values
// from a rank that has them; every rank serves such fetches from its own log. Status is also how a
// driver outside the protocol (the workload) learns about the other ranks: it carries their notes.
import { Deadline } from "./deadline.js";
import type { Effect } from "./effects.js";
import type { Learner } from "./learning.js";
import {
  BATCH_BYTES,
  withCmds,
  type FetchedMsg,
  type FetchMsg,
  type StatusMsg,
} from "./messages.js";

export interface RepairConfig {
  me: number;
  n: number;
  timeoutUs: number;
  /** Most ids in one fetched reply. */
  fetchMax: number;
}

export interface RepairStats {
  fetchesSent: number;
  fetchedIds: number;
}

/** What this rank says about itself in its status messages. */
export interface OwnProgress {
  backlog: number;
  generated: number;
  note: number;
}

export class Repairer {
  /** The last status heard from each rank (undefined: never heard; own slot unused). */
  readonly peers: (StatusMsg | undefined)[];
  /** The seq the last fetch asked from (-1: none under way). */
  private fetchSeq = -1;
  /** A fetch unanswered for a timeout is sent again (perhaps to another rank). */
  private readonly fetchAgain = new Deadline("fetch-again");
  /** Behind for a quarter timeout: fetch (a commit message may just be late). */
  private readonly fetchWhenStalled = new Deadline("fetch-when-stalled");
  readonly statusDue = new Deadline("status");
  readonly statusEveryUs: number;
  readonly stats: RepairStats = { fetchesSent: 0, fetchedIds: 0 };

  constructor(
    private readonly cfg: RepairConfig,
    private readonly learner: Learner,
  ) {
    this.peers = new Array<StatusMsg | undefined>(cfg.n).fill(undefined);
    this.statusEveryUs = Math.max(1000, cfg.timeoutUs / 2);
    this.statusDue.arm(0);
  }

  onStatus(msg: StatusMsg, nowUs: number, out: Effect[]): void {
    this.peers[msg.from] = msg;
    let minAll = this.learner.commitIndex;
    for (let r = 0; r < this.cfg.n; r++)
      if (r !== this.cfg.me) minAll = Math.min(minAll, this.peers[r]?.commitIndex ?? 0);
    this.learner.maybeCompact(minAll);
    this.maybeFetch(nowUs, out);
  }

  /** Serve a fetch from the log held in memory (a fetch below it is the caller's to answer with
   * the snapshot): at most fetchMax values and BATCH_BYTES of commands (one larger command alone). */
  onFetch(msg: FetchMsg, out: Effect[]): void {
    const log = this.learner.log;
    if (msg.seq >= log.length || msg.seq < log.start) return;
    let end = msg.seq;
    const last = Math.min(log.length, msg.seq + Math.min(msg.max, this.cfg.fetchMax));
    for (let bytes = 0; end < last; end++) {
      const size = log.cmd(end).length;
      if (end > msg.seq && bytes + size > BATCH_BYTES) break;
      bytes += size;
    }
    const values = withCmds(log.slice(msg.seq, end), log.sliceCmds(msg.seq, end));
    const reply: FetchedMsg = { t: "fetched", from: this.cfg.me, seq: msg.seq, ...values };
    out.push({ kind: "send", to: msg.from, msg: reply });
  }

  onFetched(msg: FetchedMsg, nowUs: number, out: Effect[]): void {
    this.stats.fetchedIds += msg.ids.length;
    this.learner.applyChosen(msg.seq, msg.ids, msg.cmds, nowUs, out);
    if (this.fetchSeq >= 0 && msg.ids.length > 0) {
      this.fetchSeq = -1;
      this.fetchAgain.disarm();
    }
    this.maybeFetch(nowUs, out);
  }

  /** If this rank stays behind a peer (or has a gap) for a while, fetch the missing values; once
   * it is not behind any more (new commits closed the distance), stop waiting to. */
  maybeFetch(nowUs: number, out: Effect[]): void {
    if (!this.isBehind()) {
      this.fetchWhenStalled.disarm();
      return;
    }
    const commitIndex = this.learner.commitIndex;
    this.fetchWhenStalled.armIfIdle(nowUs + this.cfg.timeoutUs / 4);
    if (nowUs < this.fetchWhenStalled.at) return; // stays armed: still behind
    if (this.fetchSeq >= commitIndex && nowUs < this.fetchAgain.at) return;
    const source = this.pickSource();
    if (source < 0) return this.fetchWhenStalled.disarm(); // nobody to ask (a cluster of one)
    this.fetchSeq = commitIndex;
    this.fetchAgain.arm(nowUs + this.cfg.timeoutUs);
    this.stats.fetchesSent++;
    out.push({
      kind: "send",
      to: source,
      msg: { t: "fetch", from: this.cfg.me, seq: commitIndex, max: this.cfg.fetchMax },
    });
  }

  /** When the next fetch may go out: a quarter timeout after falling behind, and a timeout after
   * the last fetch for the same seq (Infinity: not behind). */
  nextFetchUs(): number {
    if (!this.fetchWhenStalled.armed) return Infinity;
    const retryUs = this.fetchSeq >= this.learner.commitIndex ? this.fetchAgain.at : -Infinity;
    return Math.max(this.fetchWhenStalled.at, retryUs);
  }

  broadcastStatus(own: OwnProgress, out: Effect[]): void {
    const status: StatusMsg = {
      t: "status",
      from: this.cfg.me,
      commitIndex: this.learner.commitIndex,
      ...own,
    };
    for (let r = 0; r < this.cfg.n; r++)
      if (r !== this.cfg.me) out.push({ kind: "send", to: r, msg: status });
  }

  private isBehind(): boolean {
    if (this.learner.hasGap) return true;
    const commitIndex = this.learner.commitIndex;
    for (const p of this.peers) if (p && p.commitIndex > commitIndex) return true;
    return false;
  }

  /** A peer known to have committed past our commit index (rotating, so a dead one is not stuck on). */
  private pickSource(): number {
    const ahead: number[] = [];
    const commitIndex = this.learner.commitIndex;
    this.peers.forEach((p, r) => {
      if (p && r !== this.cfg.me && p.commitIndex > commitIndex) ahead.push(r);
    });
    if (ahead.length === 0) {
      // Only a gap (commits above a missing seq): ask the others in turn.
      return this.cfg.n > 1
        ? (this.cfg.me + 1 + (this.stats.fetchesSent % (this.cfg.n - 1))) % this.cfg.n
        : -1;
    }
    return ahead[this.stats.fetchesSent % ahead.length] as number;
  }
}
