// `npm run jepsen [-- --long] [--ranks 3,5] [--seconds s] [--workers c] [--seed n] [--keep]`:
// a real yasp-kv cluster, concurrent clients doing random put/get/cas/delete on a few keys while
// faults play (kill -9 and restart, SIGSTOP, partitions through the partition file; every frame
// between ranks may be dropped or duplicated, and every acceptor refuses 5% of its promise and
// accept requests, the Paxos KV seed's --fail-rate), then three verdicts: yasp-lincheck on the recorded
// history, equal state hashes on every rank at the same applied seq, and yasp-check on the ranks'
// audit logs. Exit 0 only if every run passes all three.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../client/index.js";
import { KvCluster } from "../cli/kv_launch.js";
import { finalReads, nowMs, runWorkload, type HistoryOp } from "./jepsen_workload.js";
import { Nemesis } from "./jepsen_nemesis.js";

interface Settings {
  ranks: number[];
  seconds: number;
  workers: number;
  keys: number;
  seed: number;
  keep: boolean;
  staleReads: boolean;
}

function settings(argv: string[]): Settings {
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const long = argv.includes("--long");
  const s: Settings = {
    ranks: (value("--ranks") ?? "3,5").split(",").map(Number),
    seconds: Number(value("--seconds") ?? (long ? 120 : 15)),
    workers: Number(value("--workers") ?? 8),
    keys: Number(value("--keys") ?? 4),
    seed: Number(value("--seed") ?? Date.now() % 100_000),
    keep: argv.includes("--keep"),
    staleReads: argv.includes("--stale-reads"),
  };
  if (s.ranks.some((n) => !Number.isInteger(n) || n < 1 || n > 9) || !(s.seconds > 0))
    throw new Error(
      "usage: jepsen [--long] [--ranks 3,5] [--seconds s] [--workers c] [--keys k] [--seed n] [--keep]",
    );
  return s;
}

const dist = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Run a shipped checker on files: [passed, its output]. */
function runChecker(script: string, args: string[]): [boolean, string] {
  try {
    return [
      true,
      execFileSync(process.execPath, [dist(script), ...args], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      }),
    ];
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return [false, `${err.stdout ?? ""}${err.stderr ?? ""}`];
  }
}

/** Wait until every rank applied the same seq, then compare their state hashes. */
async function sameState(cluster: KvCluster): Promise<[boolean, string]> {
  const clients = cluster.endpoints.map((e) => connect({ endpoints: [e], timeoutMs: 5000 }));
  try {
    let last = "";
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const all = await Promise.all(clients.map((c) => c.status().catch(() => null)));
      const seen = all.map((s) => (s ? `${String(s.appliedSeq)}/${String(s.stateHash)}` : "down"));
      last = seen.join(" ");
      if (
        all.every(
          (s) =>
            s && s.appliedSeq === all[0]?.appliedSeq && all[0] && s.stateHash === all[0].stateHash,
        )
      )
        return [
          true,
          `every rank at seq ${String(all[0]?.appliedSeq)}, hash ${String(all[0]?.stateHash)}`,
        ];
      await new Promise((r) => setTimeout(r, 500));
    }
    return [false, `ranks differ after 30 s: ${last}`];
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function runOne(n: number, s: Settings, dir: string): Promise<boolean> {
  rmSync(dir, { recursive: true, force: true });
  const cluster = await KvCluster.start({
    n,
    dir,
    audit: true,
    partitionFile: true,
    rankArgs: ["--drop", "0.02", "--dup", "0.02", "--fail-rate", "0.05", "--seed", String(s.seed)],
  });
  let history: HistoryOp[];
  const nemesis = new Nemesis(cluster, s.seed);
  try {
    const opts = {
      endpoints: cluster.endpoints,
      workers: s.workers,
      keys: s.keys,
      untilMs: nowMs() + s.seconds * 1000,
      timeoutMs: 2000,
      seed: s.seed,
      staleReads: s.staleReads,
    };
    const faults = nemesis.run(opts.untilMs);
    history = await runWorkload(opts);
    await faults;
    await nemesis.healAll();
    await finalReads(opts, history);
    const file = join(dir, "history.jsonl");
    writeFileSync(file, history.map((h) => JSON.stringify(h)).join("\n") + "\n");
    const [linearizable, linOut] = runChecker("../../checker/lincheck_cli.js", [file]);
    const [same, sameOut] = await sameState(cluster);
    await cluster.stop();
    const logs = Array.from({ length: n }, (_, r) => join(dir, "audit", `rank-${r}.log`));
    const [logsOk, logOut] = runChecker("../../checker/cli.js", logs);
    const counts = { ok: 0, fail: 0, unknown: 0 };
    for (const h of history) counts[h.status]++;
    process.stdout.write(
      `${n} ranks, ${s.seconds} s, seed ${s.seed}: ${history.length} operations (ok ${counts.ok}, fail ${counts.fail}, unknown ${counts.unknown}); faults: ${nemesis.summary()}\n` +
        `  history: ${linearizable ? "linearizable" : `NOT LINEARIZABLE\n${linOut}`}\n` +
        `  state: ${same ? sameOut : `DIFFERENT: ${sameOut}`}\n` +
        `  audit logs (yasp-check): ${logsOk ? "pass" : `FAIL\n${logOut.split("\n").slice(0, 20).join("\n")}`}\n`,
    );
    return linearizable && same && logsOk && counts.ok > 0;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2));
  const root = join("logs", "jepsen");
  mkdirSync(root, { recursive: true });
  let ok = true;
  for (const n of s.ranks) {
    const dir = join(root, `${n}-ranks`);
    const passed = await runOne(n, s, dir);
    ok &&= passed;
    if (passed && !s.keep) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`  files kept in ${dir}\n`);
  }
  process.stdout.write(ok ? "jepsen: pass\n" : "jepsen: FAIL\n");
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`jepsen: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
