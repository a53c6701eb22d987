// The README's example: three ranks of a replicated counter service in one process, over TCP on
// 127.0.0.1, each with its own write-ahead log and snapshot file. Every rank submits a few
// commands; each submit resolves once its command is committed and applied here, with what the
// state machine answered. Then a read barrier on each rank reads a linearizable value.
//   npm run build && node dist/src/examples/counter_cluster.js [data directory]
import { mkdirSync, mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULTS,
  FileLogSink,
  FileSnapshotStore,
  Rank,
  snapshotPath,
  SystemClock,
  TcpTransport,
  WalStorage,
} from "../index.js";
import { CounterMachine, encodeCounterCommand } from "./counter.js";

/** Ports nobody listens on now (the OS picks them). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  await Promise.all(servers.map((s) => new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok))));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

async function startRank(me: number, dir: string, peers: { host: string; port: number }[]) {
  mkdirSync(dir, { recursive: true });
  const transport = new TcpTransport(me, peers);
  await transport.listen();
  const warn = (line: string) => process.stderr.write(`${line}\n`);
  const ports = {
    clock: new SystemClock(),
    transport,
    storage: new WalStorage(join(dir, `rank-${me}.wal`), { fsync: true, warn }),
    logSink: new FileLogSink(join(dir, `rank-${me}.log`)),
    snapshots: new FileSnapshotStore(snapshotPath(dir, me)),
  };
  const machine = new CounterMachine();
  const rank = await Rank.create({ ...DEFAULTS, me, n: peers.length }, ports, {
    stateMachine: machine,
    warn,
  });
  rank.start();
  return { rank, machine };
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "yasp-counter-"));
  const peers = (await freePorts(3)).map((port) => ({ host: "127.0.0.1", port }));
  const ranks = await Promise.all(peers.map((_, me) => startRank(me, join(dir, `${me}`), peers)));
  try {
    const adds = ranks.flatMap(({ rank }, me) =>
      [1, 2, 3].map(async (delta) => {
        const cmd = encodeCounterCommand({ op: "add", name: "visits", delta });
        const { seq, result } = await rank.submit(cmd);
        console.log(`rank ${me}: add visits ${delta} -> ${String(result)} (seq ${seq})`);
      }),
    );
    await Promise.all(adds);
    for (const [me, { rank, machine }] of ranks.entries()) {
      const at = await rank.readBarrier(); // everything committed before this call is applied here
      console.log(`rank ${me}: visits = ${machine.value("visits")} (read at seq ${at})`);
    }
    console.log(`logs, write-ahead logs and snapshots: ${dir}`);
  } finally {
    await Promise.all(ranks.map(({ rank }) => rank.stop()));
  }
}

main().catch((e: unknown) => {
  console.error(`counter example: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
