// What the `yasp` command tells about its rank: the summary line at exit and the status file's
// object (--status-file). Both read the rank through the library API, the transport's and the
// WAL's counters, the workload and the state machine.
import type { FaultyTransport } from "../faults/faulty_transport.js";
import type { TcpTransport } from "../io/tcp_transport.js";
import type { WalStorage } from "../io/wal.js";
import type { Rank } from "../rank.js";
import type { DigestMachine } from "../workload/digest_machine.js";
import type { BackgroundWorkload } from "../workload/driver.js";

/** What the report reads: the rank and what it runs over. */
export interface RankParts {
  rank: Rank;
  machine: DigestMachine;
  workload: BackgroundWorkload;
  tcp: TcpTransport;
  storage: WalStorage;
  faulty: FaultyTransport | null;
}

/** The one line a rank prints when its run is over. */
export function summaryLine(p: RankParts, converged: boolean, secs: number): string {
  const s = p.rank.summary();
  const state = converged
    ? "converged"
    : "grace period ended before every rank committed everything";
  const restart =
    p.rank.recoveredCommits > 0 ? ` (restarted at seq ${p.rank.recoveredCommits})` : "";
  const cpu = process.cpuUsage();
  const usage = `cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, peak rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
  const { tcp, storage, faulty } = p;
  const io = `frames in ${tcp.stats.framesIn} out ${tcp.stats.framesOut}, wal syncs ${storage.syncs} (avg ${(storage.syncUs / Math.max(1, storage.syncs) / 1000).toFixed(2)} ms)`;
  // With --payload, what the submissions came to; without it the line is unchanged.
  const sub = p.workload.submitStats();
  const submits = sub
    ? `; submitted ${sub.submitted}, resolved ${sub.resolved}, waited ${sub.waits} times at the in-flight bound`
    : "";
  // With fault injection on (including --partition-file), the fault counters end the line; without
  // it the line is unchanged.
  const injected = faulty
    ? `; faults dropped ${faulty.stats.dropped}, duplicated ${faulty.stats.duplicated}, delayed ${faulty.stats.delayed}, cut ${faulty.stats.cut}`
    : "";
  return `rank ${s.rank}: ${state}; generated ${s.generated}, committed ${s.committed} in ${secs.toFixed(1)} s; round ${s.rounds}${restart}; ${usage}; ${io}${submits}${injected}\n`;
}

/** --status-file: the rank's status, what it applied (seq, state hash, snapshot), its generation
 * schedule, its submissions (with --payload) and its fault counters. */
export function statusObject(p: RankParts, nowUs: number): object {
  const { rank, machine, workload, faulty } = p;
  const submits = workload.submitStats();
  return {
    ...rank.status(),
    backlog: rank.progress().backlog,
    appliedSeq: rank.state.appliedSeq,
    snapshotSeq: rank.state.snapshotSeq,
    stateHash: machine.stateHash(),
    commands: machine.count,
    generation: workload.info(),
    ...(submits ? { submits } : {}),
    atUs: nowUs,
    pid: process.pid,
    ...(faulty ? { faults: { ...faulty.stats }, partition: faulty.groups } : {}),
  };
}
