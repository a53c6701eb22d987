// `npm run attack`: the four attacks of the issue on what an unauthenticated connection may cost,
// at its sizes, on a fresh 3-rank yasp-kv (cluster secret, client token, text port, default
// limits). For each: the attacked rank's RSS before and at its peak, its descriptors at their
// peak, how long until it had closed every attacking connection, and how long an honest request
// took meanwhile. Exit 1 if any attack grew the rank by 100 MB or more, kept a connection open,
// or stopped the honest request.
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvCluster } from "../cli/kv_launch.js";
import { connect } from "../client/index.js";
import { startAttack, watchRss, type AttackKind, type AttackOptions } from "./attack.js";

const MIB = 1024 * 1024;
const TOKEN = "attack-cli-token";
const CLOSE_WAIT_MS = 60_000;

interface Row {
  name: string;
  kind: AttackKind;
  port: "peer" | "client" | "text";
  options: Omit<AttackOptions, "host" | "port">;
}

const ROWS: Row[] = [
  {
    name: "peer port: 8 frames declared at 64 MiB, all but the last byte sent",
    kind: "peer-frame",
    port: "peer",
    options: { connections: 8, declaredBytes: 64 * MIB },
  },
  {
    name: "peer port: 20,000 connections that say nothing",
    kind: "peer-silent",
    port: "peer",
    options: { connections: 20_000 },
  },
  {
    name: "client port: 200 hellos declared at 2.1 MiB, all but the last byte sent",
    kind: "client-hello",
    port: "client",
    options: { connections: 200, declaredBytes: Math.floor(2.1 * MIB) },
  },
  {
    name: "text port: 300 sets of 1 MiB values, all but the last byte sent",
    kind: "text-set",
    port: "text",
    options: { connections: 300, declaredBytes: MIB },
  },
];

async function honestPut(cluster: KvCluster, key: string): Promise<number> {
  const t0 = performance.now();
  const kv = connect({ endpoints: [cluster.ranks[1]?.client as string], token: TOKEN });
  try {
    await kv.put(key, "v");
    return performance.now() - t0;
  } finally {
    await kv.close();
  }
}

function honestTextSet(at: string): Promise<number> {
  const [host, port] = at.split(":");
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: host as string, port: Number(port) }, () =>
      s.write("set honest 0 2\r\nok\r\n"),
    );
    s.on("data", (d: Buffer) => {
      s.destroy();
      if (d.toString("latin1").startsWith("OK")) resolve(performance.now() - t0);
      else reject(new Error(`text set answered ${d.toString("latin1").trim()}`));
    });
    s.on("error", reject);
  });
}

async function run(cluster: KvCluster, row: Row): Promise<boolean> {
  const pid = cluster.pid(1) as number;
  const fds = () => readdirSync(`/proc/${pid}/fd`).length;
  const rss = watchRss(pid);
  const base = rss.peak();
  let fdPeak = fds();
  const fdWatch = setInterval(() => (fdPeak = Math.max(fdPeak, fds())), 25);
  const at = cluster.ranks[1]?.[row.port] as string;
  const [host, port] = at.split(":");
  const t0 = performance.now();
  const attack = startAttack(row.kind, {
    host: host as string,
    port: Number(port),
    ...row.options,
  });
  let honestMs = -1;
  try {
    honestMs = await (row.port === "text"
      ? honestTextSet(at)
      : honestPut(cluster, `honest-${row.kind}`));
  } catch (e) {
    process.stdout.write(`  honest request failed: ${(e as Error).message}\n`);
  }
  const want = row.options.connections;
  while (attack.closedByRank < want && performance.now() - t0 < CLOSE_WAIT_MS)
    await new Promise((r) => setTimeout(r, 50));
  const closeMs = performance.now() - t0;
  clearInterval(fdWatch);
  rss.stop();
  const growth = rss.peak() - base;
  await attack.stop();
  const ok = growth < 100 * 1e6 && attack.closedByRank === want && honestMs >= 0;
  process.stdout.write(
    `${ok ? "ok  " : "FAIL"} ${row.name}\n` +
      `     RSS ${(base / MIB).toFixed(0)} MiB -> peak ${(rss.peak() / MIB).toFixed(0)} MiB (+${(growth / MIB).toFixed(1)}); ` +
      `descriptors at most ${fdPeak}; closed ${attack.closedByRank}/${want} in ${(closeMs / 1000).toFixed(1)} s; ` +
      `honest request ${honestMs >= 0 ? `${honestMs.toFixed(0)} ms` : "failed"}\n`,
  );
  return ok;
}

async function main(): Promise<number> {
  const dir = join(tmpdir(), `yasp-attack-${process.pid}`);
  writeFileSync(join(tmpdir(), `yasp-attack-${process.pid}.token`), TOKEN + "\n");
  const cluster = await KvCluster.start({
    n: 3,
    dir,
    text: true,
    rankArgs: ["--auth-token-file", join(tmpdir(), `yasp-attack-${process.pid}.token`)],
  });
  let failed = 0;
  try {
    await honestPut(cluster, "warm-up");
    for (const row of ROWS) if (!(await run(cluster, row))) failed += 1;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), `yasp-attack-${process.pid}.token`), { force: true });
  }
  process.stdout.write(`${ROWS.length - failed} of ${ROWS.length} attacks held\n`);
  return failed === 0 ? 0 : 1;
}

void main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`attack: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
