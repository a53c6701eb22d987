// The rank command's flags (yargs). Validation of values happens in config.ts (zod).
import yargs, { type Options } from "yargs";
import { DEFAULTS } from "../rank_types.js";
import { BACKGROUND_DEFAULTS } from "../workload/driver.js";
import { UsageError } from "./config.js";

/** The rank, the cluster and the run. */
const RUN_OPTIONS = {
  i: {
    alias: "rank",
    type: "number",
    demandOption: "-i <rank> is required",
    describe: "this rank's id, 0..N-1",
  },
  o: {
    alias: "timeout",
    type: "number",
    default: DEFAULTS.timeoutMs,
    describe: "channel read timeout in ms; a silent leader is replaced after it",
  },
  l: {
    alias: "max-per-round",
    type: "number",
    default: DEFAULTS.maxPerRound,
    describe: "most new instances a leader imposes in one round before leadership moves on",
  },
  t: {
    alias: "time",
    type: "number",
    default: BACKGROUND_DEFAULTS.genSeconds,
    describe: "seconds of background proposal generation",
  },
  cluster: {
    type: "string",
    describe: 'cluster file: JSON list of "host:port", one per rank',
  },
  n: {
    alias: "ranks",
    type: "number",
    describe: "number of ranks on loopback (instead of --cluster)",
  },
  "base-port": {
    type: "number",
    default: 7000,
    describe: "with -n: rank i listens on base-port + i",
  },
  host: {
    type: "string",
    default: "127.0.0.1",
    describe: "with -n: the address every rank uses",
  },
  rate: {
    type: "number",
    default: BACKGROUND_DEFAULTS.rate,
    describe: "instances generated per second by this rank",
  },
  "log-dir": {
    type: "string",
    default: "logs",
    describe: "directory of the rank's log file",
  },
  "data-dir": {
    type: "string",
    describe:
      "directory of the rank's write-ahead log, rank-<i>.wal (default: the log directory); a restart with the same command recovers from it",
  },
  fsync: {
    type: "boolean",
    default: true,
    describe:
      "fsync the write-ahead log (--no-fsync: faster, for benchmarks only: a machine crash may then lose acknowledged state)",
  },
  grace: {
    type: "number",
    default: BACKGROUND_DEFAULTS.graceSeconds,
    describe: "seconds after generation ends to wait until every rank committed everything",
  },
  batch: {
    type: "number",
    default: DEFAULTS.batch,
    describe: "most instances in one impose frame",
  },
  window: {
    type: "number",
    default: DEFAULTS.window,
    describe: "most impose frames a leader has in flight",
  },
  "status-file": {
    type: "string",
    describe:
      "write this rank's status (round, leader, commits, applied seq, state hash, snapshot seq, generation schedule, submissions, fault counters) as JSON to this file every 100 ms",
  },
  payload: {
    type: "number",
    default: 0,
    describe:
      "bytes of each generated command (0..1048576): with N > 0 the rank submits commands of N random bytes at --rate instead of generating no-op instances",
  },
  "checkpoint-bytes": {
    type: "number",
    default: DEFAULTS.checkpointBytes,
    describe:
      "past this many bytes of write-ahead log, snapshot the state and rewrite the log (also how many bytes of commands the rank keeps for peers before only the snapshot covers them)",
  },
  rejoin: {
    type: "boolean",
    default: false,
    describe:
      "this rank's data directory was wiped (disk lost): rejoin the running cluster, voting only once caught up. Never for the ranks of a new cluster: none of them would ever vote",
  },
} satisfies Record<string, Options>;

/** Peer authentication. */
export const AUTH_OPTIONS = {
  "cluster-secret": {
    type: "string",
    describe:
      "file holding the cluster's secret (at least 16 bytes; e.g. head -c 32 /dev/urandom > secret): every peer frame is authenticated with it; every rank needs the same one",
  },
  insecure: {
    type: "boolean",
    default: false,
    describe:
      "run without --cluster-secret although the cluster names a non-loopback address: anyone who reaches the peer port can then forge frames",
  },
} satisfies Record<string, Options>;

/** Fault injection (off by default). */
export const FAULT_OPTIONS = {
  drop: {
    type: "number",
    default: 0,
    describe: "fault injection: drop each outgoing frame with this probability (0..1)",
  },
  dup: {
    type: "number",
    default: 0,
    describe: "fault injection: deliver each outgoing frame twice with this probability (0..1)",
  },
  delay: {
    type: "string",
    describe:
      "fault injection: delay each outgoing frame by min-max ms (e.g. 1-30; frames reorder)",
  },
  seed: {
    type: "number",
    default: 1,
    describe: "seed of all fault-injection randomness (same seed, same decisions)",
  },
  "partition-file": {
    type: "string",
    describe:
      "fault injection: a JSON file polled every 50 ms, e.g. [[0,1,2],[3,4]]: ranks talk only within their group; missing or [] heals",
  },
} satisfies Record<string, Options>;

/** yargs' failure handler for every command: one line, the most specific (yargs may explain in
 * several lines; the last is the one that says what is wrong). */
export function failAsUsageError(msg: string, err: Error | undefined): never {
  const text = msg || err?.message || "invalid arguments";
  throw new UsageError(text.split("\n").filter(Boolean).pop() ?? text);
}

export function parseRankArgs(argv: string[]) {
  return yargs(argv)
    .scriptName("yasp")
    .usage(
      "$0 -i <rank> [-o ms] [-l n] [-t s] (--cluster file | -n ranks [--base-port p])\n\nRun one rank of a yasp cluster; it writes <log-dir>/rank-<i>.log.",
    )
    .options(RUN_OPTIONS)
    .options(AUTH_OPTIONS)
    .options(FAULT_OPTIONS)
    .group(["cluster-secret", "insecure"], "Peer authentication (optional on loopback):")
    .group(["drop", "dup", "delay", "seed", "partition-file"], "Fault injection (off by default):")
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail(failAsUsageError)
    .parseSync();
}

export type RankArgs = ReturnType<typeof parseRankArgs>;
