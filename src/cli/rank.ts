// `yasp`: run one rank. Bad input ends in one line on stderr and a non-zero exit, never a stack trace.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { FileLogSink } from "../io/file_log.js";
import { MemoryStorage } from "../io/memory_storage.js";
import { SystemClock } from "../io/system_clock.js";
import { TcpTransport, type PeerAddress } from "../io/tcp_transport.js";
import { DEFAULTS, Rank, type RankConfig } from "../rank.js";
import { checkFlags, loadCluster, loopbackCluster, UsageError } from "./config.js";

function parseArgs(argv: string[]) {
  return yargs(argv)
    .scriptName("yasp")
    .usage("$0 -i <rank> [-o ms] [-l n] [-t s] (--cluster file | -n ranks [--base-port p])\n\nRun one rank of a yasp cluster; it writes <log-dir>/rank-<i>.log.")
    .option("i", { alias: "rank", type: "number", demandOption: "-i <rank> is required", describe: "this rank's id, 0..N-1" })
    .option("o", { alias: "timeout", type: "number", default: DEFAULTS.timeoutMs, describe: "channel read timeout in ms; a silent leader is replaced after it" })
    .option("l", { alias: "max-per-round", type: "number", default: DEFAULTS.maxPerRound, describe: "most new instances a leader imposes in one round before leadership moves on" })
    .option("t", { alias: "time", type: "number", default: DEFAULTS.genSeconds, describe: "seconds of background proposal generation" })
    .option("cluster", { type: "string", describe: 'cluster file: JSON list of "host:port", one per rank' })
    .option("n", { alias: "ranks", type: "number", describe: "number of ranks on loopback (instead of --cluster)" })
    .option("base-port", { type: "number", default: 7000, describe: "with -n: rank i listens on base-port + i" })
    .option("host", { type: "string", default: "127.0.0.1", describe: "with -n: the address every rank uses" })
    .option("rate", { type: "number", default: DEFAULTS.rate, describe: "instances generated per second by this rank" })
    .option("log-dir", { type: "string", default: "logs", describe: "directory of the rank's log file" })
    .option("grace", { type: "number", default: DEFAULTS.graceSeconds, describe: "seconds after generation ends to wait until every rank committed everything" })
    .option("batch", { type: "number", default: DEFAULTS.batch, describe: "most instances in one impose frame" })
    .option("window", { type: "number", default: DEFAULTS.window, describe: "most impose frames a leader has in flight" })
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      // yargs may explain in several lines; the last one is the most specific.
      const text = msg || err?.message || "invalid arguments";
      throw new UsageError(text.split("\n").filter(Boolean).pop() ?? text);
    })
    .parseSync();
}

function clusterOf(args: ReturnType<typeof parseArgs>): PeerAddress[] {
  if (args.cluster !== undefined && args.n !== undefined) throw new UsageError("give either --cluster or -n, not both");
  if (args.cluster !== undefined) return loadCluster(args.cluster);
  if (args.n === undefined) throw new UsageError("say where the ranks are: --cluster <file> or -n <ranks>");
  if (!Number.isInteger(args.n) || args.n < 1 || args.n > 64) throw new UsageError("-n must be a whole number from 1 to 64");
  const base = args["base-port"];
  if (!Number.isInteger(base) || base < 1) throw new UsageError("--base-port must be a port number");
  return loopbackCluster(args.n, base, args.host);
}

function openLog(dir: string, rank: number): FileLogSink {
  const path = join(dir, `rank-${rank}.log`);
  try {
    mkdirSync(dir, { recursive: true });
    return new FileLogSink(path);
  } catch (e) {
    throw new UsageError(`cannot write log ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

async function main(): Promise<number> {
  const args = parseArgs(hideBin(process.argv));
  const flags = checkFlags(args);
  const cluster = clusterOf(args);
  if (flags.i >= cluster.length) throw new UsageError(`-i ${flags.i} is outside the cluster (ranks 0..${cluster.length - 1})`);
  const logSink = openLog(args["log-dir"], flags.i);
  const transport = new TcpTransport(flags.i, cluster);
  const me = cluster[flags.i] as PeerAddress;
  try {
    await transport.listen();
  } catch (e) {
    await logSink.close();
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new UsageError(`rank ${flags.i}: cannot listen on ${me.host}:${me.port}: ${why}`);
  }
  const cfg: RankConfig = {
    ...DEFAULTS,
    me: flags.i,
    n: cluster.length,
    timeoutMs: flags.o,
    maxPerRound: flags.l,
    genSeconds: flags.t,
    rate: flags.rate,
    graceSeconds: flags.grace,
    batch: flags.batch,
    window: flags.window,
  };
  const clock = new SystemClock();
  const started = clock.nowUs();
  const rank = await Rank.create(cfg, { clock, transport, storage: new MemoryStorage(), logSink });
  const onSignal = () => void rank.stop().then(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  rank.start();
  const converged = await rank.finished;
  await rank.stop();
  const s = rank.summary();
  const secs = ((clock.nowUs() - started) / 1e6).toFixed(1);
  const state = converged ? "converged" : "grace period ended before every rank committed everything";
  process.stdout.write(`rank ${s.rank}: ${state}; generated ${s.generated}, committed ${s.committed} in ${secs} s; round ${s.rounds}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`yasp: ${e.message}\n`);
    else process.stderr.write(`yasp: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
