// One Bayou process (a server or a client), started by the master. Its first stdin line says which
// it is; then each line is one of the master's commands ({n, ctl}) and each answer is one stdout
// line ({n, reply}). It listens on a port the OS chooses and says so ({ready, addr}). It exits when
// its stdin closes, so a master that dies leaves nothing running.
import { createInterface } from "node:readline";
import { z } from "zod";
import { SystemClock } from "../../io/system_clock.js";
import { BayouClientNode } from "../node/client_node.js";
import { controlLineSchema, type Control, type Reply } from "../node/control.js";
import { BayouServerNode } from "../node/server_node.js";
import { TcpPeers } from "../node/tcp_peers.js";

const roleSchema = z.object({
  role: z.enum(["server", "client"]),
  node: z.number().int().min(0).max(1_000_000),
  gossipMs: z.number().min(0).max(3_600_000),
  verbose: z.boolean(),
});

interface Node {
  control(ctl: Control): Promise<Reply>;
  stop(): Promise<void>;
}

function numbered(line: string): number | null {
  try {
    const n = (JSON.parse(line) as { n?: unknown } | null)?.n;
    return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

function say(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function start(line: string): Promise<{ node: Node; peers: TcpPeers }> {
  const role = roleSchema.parse(JSON.parse(line));
  const note = role.verbose
    ? (m: string) => process.stderr.write(`[${role.role} ${role.node}] ${m}\n`)
    : () => {};
  const peers = await TcpPeers.open(role.node, role.role === "server", note);
  const ports = { clock: new SystemClock(), random: { next: Math.random }, transport: peers, note };
  const node: Node =
    role.role === "server"
      ? new BayouServerNode(role.node, ports, { gossipMs: role.gossipMs })
      : new BayouClientNode(role.node, ports);
  say({ ready: String(peers.port) });
  return { node, peers };
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let running: { node: Node; peers: TcpPeers } | null = null;
  for await (const line of lines) {
    if (running === null) {
      try {
        running = await start(line);
      } catch (e) {
        process.stderr.write(`bayou node: bad start line: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      continue;
    }
    const { node, peers } = running;
    let parsed: ReturnType<typeof controlLineSchema.safeParse>;
    try {
      parsed = controlLineSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = controlLineSchema.safeParse(null);
    }
    if (!parsed.success) {
      // Answer it if it is numbered, so the master never waits for a command this refused.
      const n = numbered(line);
      process.stderr.write(`bayou node: ignored a malformed command line\n`);
      if (n !== null) say({ n, reply: { ok: false, error: "malformed command" } });
      continue;
    }
    const { n, ctl } = parsed.data;
    if (ctl.c === "peers") peers.setAddresses(ctl.peers);
    // Commands run concurrently (a round must not hold up a printLog); answers carry n.
    void node.control(ctl).then((reply) => say({ n, reply }));
  }
  if (running !== null) {
    await running.node.stop();
    await running.peers.close();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`bayou node: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
