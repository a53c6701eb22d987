// What a scenario's script does to its ranks, and the record of it: start (or restart with the same
// command), kill -9, SIGSTOP/SIGCONT, a partition file, a late start, each noted with its time for
// the checks (scenario_checks.ts). Each rank writes a status file that is read every POLL_STATUS_MS
// into a history: it names the real leader for the scenarios that kill it, and with the logs and
// the summary lines it proves that every fault the script played took effect.
import type { ChildProcess } from "node:child_process";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SystemClock } from "../io/system_clock.js";
import { eachLogLine } from "../protocol/log_lines.js";
import {
  logPath,
  spawnRank,
  statusPath,
  waitExit,
  type ClusterFiles,
  type RankOutcome,
} from "../cli/launch.js";
import { emptyRecord, type FaultRecord } from "./scenario_checks.js";
import { parseStatus, type StatusSnapshot } from "./scenario_evidence.js";
import { pickLeader } from "./scenario_leader.js";

export interface Scenario {
  name: string;
  n: number;
  /** Flags for every rank (besides -i, --cluster, --cluster-secret, --log-dir, --partition-file,
   * --status-file). */
  args: string[];
  /** Flags for some ranks instead of args (a flag given twice would be a list to yargs). */
  rankArgs?: Record<number, string[]>;
  /** Ranks not started at the beginning (the script starts them). */
  lateRanks?: number[];
  script(ctx: ScenarioCtx): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Now in µs on the ranks' clock (SystemClock: wall time at process start plus a monotonic clock). */
const clock = new SystemClock();
export const nowUs = () => clock.nowUs();

/** How often the runner reads every rank's status file into its history (ranks write every 100 ms). */
const POLL_STATUS_MS = 40;

export class ScenarioCtx {
  readonly children: (ChildProcess | null)[];
  readonly exits: Promise<RankOutcome>[] = [];
  readonly problems: string[] = [];
  /** What the script did to the ranks, and when: confirmed against the logs and statuses at the end. */
  readonly record: FaultRecord = emptyRecord();
  /** Every distinct status each rank wrote (as read every POLL_STATUS_MS), in order. */
  readonly histories: StatusSnapshot[][];
  faultAtUs: number | null = null;
  private readonly partitionFile: string;
  private readonly started = new Set<number>();
  /** Late ranks to be started once the others committed this many (set by startLate). */
  private readonly lateAfter = new Map<number, number>();
  private poller: NodeJS.Timeout | null = null;

  constructor(
    readonly s: Scenario,
    readonly dir: string,
    /** The cluster file and the run's secret: every start (and restart) uses both. */
    readonly files: ClusterFiles,
  ) {
    this.children = new Array<ChildProcess | null>(s.n).fill(null);
    this.histories = Array.from({ length: s.n }, () => []);
    this.partitionFile = join(dir, "partition.json");
  }

  /** Start the rank (again: with the same command), with extra flags (e.g. --rejoin). Its WAL
   * and snapshot go to a data directory of its own (dataDir), so that wipe() can delete them and
   * keep its log. */
  start(rank: number, extra: string[] = []): void {
    const at = nowUs();
    const down = this.record.kills.find((k) => k.rank === rank && k.restartUs === null);
    if (down) down.restartUs = at;
    const wiped = this.record.wipes.find((w) => w.rank === rank && w.restartUs === null);
    if (wiped) wiped.restartUs = at;
    if (!this.started.has(rank) && this.s.lateRanks?.includes(rank))
      this.record.lateStarts.push({ rank, atUs: at, afterCommits: this.lateAfter.get(rank) ?? 1 });
    this.started.add(rank);
    const flags = [
      ...(this.s.rankArgs?.[rank] ?? this.s.args),
      ...extra,
      "--data-dir",
      this.dataDir(rank),
      "--partition-file",
      this.partitionFile,
      "--status-file",
      statusPath(this.dir, rank),
    ];
    const child = spawnRank(rank, this.files, this.dir, flags);
    this.children[rank] = child;
    this.exits.push(waitExit(child, rank));
  }

  /**
   * Start a rank held back by lateRanks once every running rank has logged afterCommits commits;
   * the check then confirms that each of the others had committed that many before it started.
   * (A late rank started with start() is only required to start after some commit.)
   */
  async startLate(rank: number, afterCommits: number): Promise<void> {
    await this.waitCommits(afterCommits);
    this.lateAfter.set(rank, afterCommits);
    this.start(rank);
  }

  /** kill -9: no chance to flush or say goodbye. Resolves once the process is gone, when its last
   * status is read (the proof of what it was doing). leaderRound: it was killed as that round's leader. */
  kill(rank: number, leaderRound: number | null = null): Promise<void> {
    const child = this.children[rank];
    if (!child) {
      this.fail(`rank ${rank} is not running: cannot kill it`);
      return Promise.resolve();
    }
    child.kill("SIGKILL");
    this.children[rank] = null;
    const entry = {
      rank,
      atUs: nowUs(),
      restartUs: null,
      lastStatus: null as StatusSnapshot | null,
      leaderRound,
    };
    this.record.kills.push(entry);
    return exited(child).then(() => {
      entry.lastStatus = this.statusOf(rank);
    });
  }

  /** Delete a killed rank's data directory (its WAL and snapshot: a lost disk), keeping its log
   * and status file. committedBefore: the highest seq its log shows committed (it must come back
   * by a snapshot covering it). */
  wipe(rank: number): void {
    if (this.children[rank]) return this.fail(`rank ${rank} is running: not wiping its disk`);
    rmSync(this.dataDir(rank), { recursive: true, force: true });
    const committedBefore = maxCommitSeq(this.logPath(rank));
    this.record.wipes.push({ rank, atUs: nowUs(), restartUs: null, committedBefore });
  }

  /** The run must end with every rank in the same state (checked from the status files). */
  expectSameState(): void {
    this.record.sameState = true;
  }

  /** Wait until ready() holds (read every 50 ms); after timeoutMs, fail with what was awaited. */
  async waitUntil(ready: () => boolean, what: string, timeoutMs = 30_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!ready()) {
      if (Date.now() > until) {
        this.fail(`${what}: not within ${timeoutMs / 1000} s`);
        return false;
      }
      await sleep(50);
    }
    return true;
  }

  /**
   * The rank leading the cluster now (see pickLeader), read from the status files; while there is
   * no clear leader, read again every 50 ms; after timeoutMs, fail the scenario and return null.
   */
  async findLeader(timeoutMs = 5000): Promise<{ rank: number; round: number } | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const latest = this.children.map((c, r) => (c ? this.statusOf(r) : null));
      const pick = pickLeader(latest, this.s.n, nowUs());
      if ("rank" in pick) return pick;
      if (Date.now() > until) {
        this.fail(`no clear leader in ${timeoutMs / 1000} s: ${pick.problem}`);
        return null;
      }
      await sleep(50);
    }
  }

  pause(rank: number): void {
    const child = this.children[rank];
    if (!child) return this.fail(`rank ${rank} is not running: cannot pause it`);
    child.kill("SIGSTOP");
    this.record.pauses.push({ rank, atUs: nowUs(), resumeUs: null });
  }

  resume(rank: number): void {
    const p = this.record.pauses.find((e) => e.rank === rank && e.resumeUs === null);
    if (p) p.resumeUs = nowUs();
    this.children[rank]?.kill("SIGCONT");
  }

  partition(groups: number[][]): void {
    this.record.partitions.push({ groups, atUs: nowUs(), healUs: null });
    const tmp = `${this.partitionFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(groups));
    renameSync(tmp, this.partitionFile);
  }

  heal(): void {
    const p = this.record.partitions.find((e) => e.healUs === null);
    if (p) p.healUs = nowUs();
    rmSync(this.partitionFile, { force: true });
  }

  /**
   * These ranks must commit nothing new from fromUs to toUs (they have no majority). heldUntilRestart:
   * they must also have generated work in that window that is committed only after the ranks killed
   * before it are restarted (the quiet is not for want of work).
   */
  expectQuiet(
    ranks: number[],
    fromUs: number,
    toUs: number,
    why: string,
    heldUntilRestart = false,
  ): void {
    this.record.quiet.push({ ranks, fromUs, toUs, why, heldUntilRestart });
  }

  /** Wait until every running rank has logged at least count commits (the cluster is at work). */
  async waitCommits(count: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const running = this.children.flatMap((c, r) => (c ? [r] : []));
      if (running.every((r) => countCommits(this.logPath(r)) >= count)) return;
      if (Date.now() > until)
        return this.fail(`the cluster did not reach ${count} commits in ${timeoutMs / 1000} s`);
      await sleep(50);
    }
  }

  /** Remember now as the moment of the fault whose recovery time is reported. */
  markFault(): void {
    this.faultAtUs = nowUs();
    writeFileSync(join(this.dir, "fault-at-us.txt"), `${this.faultAtUs}\n`);
  }

  /** The rank's status file as it is now (null: missing or unreadable). */
  statusOf(rank: number): StatusSnapshot | null {
    try {
      return parseStatus(readFileSync(statusPath(this.dir, rank), "utf8"));
    } catch {
      return null;
    }
  }

  /** Read every status file now; keep what is new. */
  pollStatuses(): void {
    for (let r = 0; r < this.s.n; r++) {
      const s = this.statusOf(r);
      const h = this.histories[r] as StatusSnapshot[];
      const last = h[h.length - 1];
      if (s && (!last || s.atUs !== last.atUs || s.pid !== last.pid)) h.push(s);
    }
  }

  startPolling(): void {
    this.poller = setInterval(() => this.pollStatuses(), POLL_STATUS_MS);
  }

  stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  logPath(rank: number): string {
    return logPath(this.dir, rank);
  }

  dataDir(rank: number): string {
    return join(this.dir, `data-${rank}`);
  }

  /** The highest seq the rank's log shows committed (-1: none). */
  maxCommitSeq(rank: number): number {
    return maxCommitSeq(this.logPath(rank));
  }

  fail(problem: string): void {
    this.problems.push(problem);
  }

  stopAll(): void {
    for (const c of this.children) {
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      c.kill("SIGCONT");
      c.kill("SIGKILL");
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function maxCommitSeq(path: string): number {
  try {
    let max = -1;
    eachLogLine(readFileSync(path, "utf8"), "commit", (_id, seq) => (max = Math.max(max, seq)));
    return max;
  } catch {
    return -1;
  }
}

function countCommits(path: string): number {
  try {
    return readFileSync(path, "utf8").split("\ncommit ").length - 1;
  } catch {
    return 0;
  }
}
