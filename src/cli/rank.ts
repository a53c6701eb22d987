// `yasp`: run one rank. Bad input ends in one line on stderr and a non-zero exit, never a stack trace.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { hideBin } from "yargs/helpers";
import { FileLogSink } from "../io/file_log.js";
import { SystemClock } from "../io/system_clock.js";
import { TcpTransport, type PeerAddress } from "../io/tcp_transport.js";
import { FileSnapshotStore, SnapshotCorruptError, snapshotPath } from "../io/snapshot_store.js";
import { WalCorruptError, WalStorage } from "../io/wal.js";
import type { Transport } from "../ports.js";
import { Rank } from "../rank.js";
import { DEFAULTS, type RankConfig } from "../rank_types.js";
import { InvariantError } from "../protocol/assert.js";
import { DigestMachine, DigestSnapshotError } from "../workload/digest_machine.js";
import { BackgroundWorkload } from "../workload/driver.js";
import { checkFlags, loadCluster, loopbackCluster, peerSecret, UsageError } from "./config.js";
import type { FaultyTransport } from "../faults/faulty_transport.js";
import { faultSpec, watchPartition, withFaults, type FaultSpec } from "./faults.js";
import { parseRankArgs, type RankArgs } from "./options.js";
import { statusObject, summaryLine } from "./rank_report.js";
import { startStatusFile } from "./status_file.js";

const warn = (line: string) => void process.stderr.write(line + "\n");

function clusterOf(args: RankArgs): PeerAddress[] {
  if (args.cluster !== undefined && args.n !== undefined)
    throw new UsageError("give either --cluster or -n, not both");
  if (args.cluster !== undefined) return loadCluster(args.cluster);
  if (args.n === undefined)
    throw new UsageError("say where the ranks are: --cluster <file> or -n <ranks>");
  if (!Number.isInteger(args.n) || args.n < 1 || args.n > 64)
    throw new UsageError("-n must be a whole number from 1 to 64");
  const base = args["base-port"];
  if (!Number.isInteger(base) || base < 1)
    throw new UsageError("--base-port must be a port number");
  return loopbackCluster(args.n, base, args.host);
}

function inDir<T>(dir: string, file: string, what: string, make: (path: string) => T): T {
  const path = join(dir, file);
  try {
    mkdirSync(dir, { recursive: true });
    return make(path);
  } catch (e) {
    throw new UsageError(
      `cannot write ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

async function listen(transport: TcpTransport, me: PeerAddress, rank: number): Promise<void> {
  try {
    await transport.listen();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new UsageError(`rank ${rank}: cannot listen on ${me.host}:${me.port}: ${why}`);
  }
}

/** The rank's log file, its write-ahead log and its snapshot store, their directories made if
 * need be. The snapshot lives beside the WAL: a checkpoint drops what the snapshot covers from
 * the WAL, so without a durable snapshot a restart would lose those commits. */
function openFiles(
  args: RankArgs,
  rank: number,
): { logSink: FileLogSink; storage: WalStorage; snapshots: FileSnapshotStore } {
  const logSink = inDir(args["log-dir"], `rank-${rank}.log`, "log", (p) => new FileLogSink(p));
  const dataDir = args["data-dir"] ?? args["log-dir"];
  const storage = inDir(
    dataDir,
    `rank-${rank}.wal`,
    "write-ahead log",
    (p) => new WalStorage(p, { fsync: args.fsync, warn }),
  );
  const snapshots = new FileSnapshotStore(snapshotPath(dataDir, rank), { fsync: args.fsync, warn });
  return { logSink, storage, snapshots };
}

/**
 * Fault injection, on when any of --drop, --dup, --delay or --partition-file asks for it: the
 * transport wrapped, and the partition file watched. Returns a no-op stopWatch when off.
 */
function injectFaults(
  tcp: TcpTransport,
  faults: FaultSpec,
  partitionFile: string | undefined,
  flags: { i: number; seed: number },
  clock: SystemClock,
): { faulty: FaultyTransport | null; stopWatch: () => void } {
  const faulty =
    faults.drop > 0 || faults.dup > 0 || faults.maxDelayMs > 0 || partitionFile !== undefined
      ? withFaults(tcp, flags.i, faults, flags.seed, clock)
      : null;
  const stopWatch =
    faulty && partitionFile !== undefined ? watchPartition(partitionFile, faulty, warn) : () => {};
  return { faulty, stopWatch };
}

/** YASP_STATS=1: the protocol counters and the peer port's frame counters (frames in and out,
 * and those dropped: malformed, oversized, unknown, unauthenticated), one JSON line on stderr. */
function printStats(rank: Rank, tcp: TcpTransport): void {
  const s = rank.summary();
  process.stderr.write(
    JSON.stringify({
      rank: s.rank,
      refused: s.refusedWrites,
      consensus: s.consensus,
      ...s.protocol,
      frames: { ...tcp.stats },
    }) + "\n",
  );
}

async function main(): Promise<number> {
  const args = parseRankArgs(hideBin(process.argv));
  const flags = checkFlags(args);
  const cluster = clusterOf(args);
  if (flags.i >= cluster.length)
    throw new UsageError(`-i ${flags.i} is outside the cluster (ranks 0..${cluster.length - 1})`);
  const secret = peerSecret(cluster, args["cluster-secret"], args.insecure);
  const faults = faultSpec(flags.drop, flags.dup, args.delay);
  const { logSink, storage, snapshots } = openFiles(args, flags.i);
  const clock = new SystemClock();
  const tcp = new TcpTransport(flags.i, cluster, warn, secret ? { secret } : {});
  await listen(tcp, cluster[flags.i] as PeerAddress, flags.i);
  const { faulty, stopWatch } = injectFaults(tcp, faults, args["partition-file"], flags, clock);
  const transport: Transport = faulty ?? tcp;
  const cfg: RankConfig = {
    ...DEFAULTS,
    me: flags.i,
    n: cluster.length,
    timeoutMs: flags.o,
    maxPerRound: flags.l,
    batch: flags.batch,
    window: flags.window,
    checkpointBytes: flags["checkpoint-bytes"],
  };
  const started = clock.nowUs();
  // The YASP run is a workload driving the rank from outside: -t seconds at --rate, then convergence.
  const workload = new BackgroundWorkload(
    cfg,
    {
      genSeconds: flags.t,
      rate: flags.rate,
      graceSeconds: flags.grace,
      payload: flags.payload,
      seed: commandSeed(flags.seed, flags.i),
      warn,
    },
    clock,
  );
  const machine = new DigestMachine();
  const rank = await Rank.create(
    cfg,
    { clock, transport, storage, logSink, snapshots },
    { warn, source: workload.source, stateMachine: machine, rejoin: args.rejoin },
  );
  const parts = { rank, machine, workload, tcp, storage, faulty };
  const onSignal = () => void rank.stop().then(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  rank.start();
  workload.start(rank);
  const stopStatus =
    args["status-file"] !== undefined
      ? startStatusFile(args["status-file"], () => statusObject(parts, clock.nowUs()), warn)
      : () => {};
  const converged = await Promise.race([workload.finished, rank.failed]);
  workload.stop();
  stopWatch();
  await rank.stop();
  stopStatus();
  if (process.env.YASP_STATS) printStats(rank, tcp);
  process.stdout.write(summaryLine(parts, converged, (clock.nowUs() - started) / 1e6));
  return 0;
}

/** The seed of this rank's commands (--payload): a stream of its own, apart from the fault
 * injection's streams of the same --seed. */
function commandSeed(seed: number, rank: number): number {
  return (seed * 1_000_003 + rank) ^ 0x5eed_c0de;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`yasp: ${e.message}\n`);
    else if (e instanceof InvariantError)
      process.stderr.write(`yasp: stopped: invariant broken: ${e.message}\n`);
    else if (
      e instanceof WalCorruptError ||
      e instanceof SnapshotCorruptError ||
      e instanceof DigestSnapshotError
    )
      process.stderr.write(`yasp: cannot recover: ${e.message}\n`);
    else
      process.stderr.write(`yasp: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
