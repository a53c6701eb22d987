// One simulated Bayou run: a random master script (joins, retirements, partitions of server and
// client links, pause/start, writes, reads, stabilizes) played by the real master against simulated
// nodes, then every link restored and a last stabilize. Asserted, naming the seed: after every
// stabilize the stable logs are prefixes of each other and every DB is its log's replay; at the
// end every server holds the same log, all of it stable, with one primary, and every put a client
// was told is written is in it.
import { BayouMaster } from "../bayou/master/master.js";
import type { ServerState } from "../bayou/node/control.js";
import type { Command } from "../bayou/script.js";
import { Prng } from "../faults/prng.js";
import { SimBayouCluster } from "./bayou_cluster.js";
import { CALM, type NetFaults } from "./network.js";

export interface BayouSimOptions {
  seed: number;
  steps: number;
  /** Background anti-entropy (virtual ms); 0: only the master's stabilize and retirements. */
  gossipMs: number;
  faults?: NetFaults;
}

export interface BayouSimResult {
  seed: number;
  commands: Command[];
  output: string[];
  /** The first broken invariant, or null. */
  problem: string | null;
  virtualMs: number;
  finalWrites: number;
}

/** A command must finish within this much virtual time. */
const COMMAND_VIRTUAL_MS = 120_000;

/** A random script: ids 0.. for servers, 100.. for clients. */
export function randomScript(seed: number, steps: number): Command[] {
  const rng = new Prng(seed ^ 0x5bd1e995);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rng.next() * xs.length)];
  const servers: string[] = [];
  const clients: string[] = [];
  let nextServer = 0;
  let nextClient = 100;
  const out: Command[] = [{ kind: "joinServer", id: String(nextServer++) }];
  servers.push("0");
  for (let i = 0; i < steps; i += 1) {
    const r = rng.next();
    const s = pick(servers) ?? "0";
    const c = pick(clients);
    const key = `k${Math.floor(rng.next() * 4)}`;
    if (r < 0.08 && servers.length < 6) {
      const id = String(nextServer++);
      servers.push(id);
      out.push({ kind: "joinServer", id });
    } else if (r < 0.11 && servers.length > 1) {
      servers.splice(servers.indexOf(s), 1);
      out.push({ kind: "retireServer", id: s });
    } else if (r < 0.17) {
      const id = String(nextClient++);
      clients.push(id);
      out.push({ kind: "joinClient", client: id, server: s });
    } else if (r < 0.3) {
      const other = rng.next() < 0.7 ? pick(servers) : c;
      if (other !== undefined) out.push({ kind: "breakConnection", a: s, b: other });
    } else if (r < 0.4) {
      const other = rng.next() < 0.7 ? pick(servers) : c;
      if (other !== undefined) out.push({ kind: "restoreConnection", a: s, b: other });
    } else if (r < 0.43) out.push({ kind: rng.next() < 0.5 ? "pause" : "start" });
    else if (r < 0.53) out.push({ kind: "stabilize" });
    else if (r < 0.56) out.push({ kind: "printLog", id: s });
    else if (c === undefined) continue;
    else if (r < 0.78) out.push({ kind: "put", client: c, song: key, url: `v${i}` });
    else if (r < 0.85) out.push({ kind: "delete", client: c, song: key });
    else out.push({ kind: "get", client: c, song: key });
  }
  return out;
}

/** The end of every script: all server links restored, anti-entropy on, one last stabilize. */
function healAll(ids: readonly string[]): Command[] {
  const out: Command[] = [];
  for (const a of ids)
    for (const b of ids) if (a < b) out.push({ kind: "restoreConnection", a, b });
  out.push({ kind: "start" }, { kind: "stabilize" });
  return out;
}

export async function runBayouSim(o: BayouSimOptions): Promise<BayouSimResult> {
  const cluster = new SimBayouCluster(o.seed, o.gossipMs, o.faults ?? CALM);
  const output: string[] = [];
  let problem: string | null = null;
  const master = new BayouMaster(
    cluster,
    { line: (l) => output.push(l), warn: (m) => (problem ??= `master: ${m}`), note: () => {} },
    o.gossipMs > 0,
  );
  const commands = randomScript(o.seed, o.steps);
  const run = async (c: Command) => cluster.drive(master.apply(c), COMMAND_VIRTUAL_MS);
  let finalWrites = 0;
  try {
    for (const c of commands) {
      await run(c);
      if (c.kind === "stabilize") problem ??= check(await states(master, cluster), false);
    }
    for (const c of healAll(master.liveServerIds())) await run(c);
    const end = await states(master, cluster);
    problem ??= check(end, true);
    const final = new Set(end[0]?.writes.map((w) => w.op) ?? []);
    const lost = cluster.ackedPuts.filter((p) => !final.has(p));
    if (end.length > 0 && lost.length > 0)
      problem ??= `acknowledged writes lost: ${lost.join(", ")}`;
    finalWrites = end[0]?.writes.length ?? 0;
  } catch (e) {
    problem ??= (e as Error).message;
  } finally {
    await cluster.stopAll();
  }
  const virtualMs = (cluster.clock.nowUs() - 1_700_000_000_000_000) / 1000;
  return { seed: o.seed, commands, output, problem, virtualMs, finalWrites };
}

async function states(master: BayouMaster, cluster: SimBayouCluster): Promise<ServerState[]> {
  const out: ServerState[] = [];
  for (const h of master.liveServers()) {
    const r = await cluster.drive(h.call({ c: "state" }), COMMAND_VIRTUAL_MS);
    if (r.ok && "state" in r) out.push(r.state);
  }
  return out;
}

/** The invariants over the live servers' states; `final`: after the last heal and stabilize. */
export function check(states: readonly ServerState[], final: boolean): string | null {
  const ids = (s: ServerState) => s.writes.map((w) => `${w.stamp}@${w.server}:${w.csn ?? "-"}`);
  const stable = states.map((s) => ids(s).filter((w) => !w.endsWith(":-")));
  const longest = stable.reduce((a, b) => (b.length > a.length ? b : a), []);
  for (const [i, l] of stable.entries()) {
    if (l.some((w, j) => longest[j] !== w))
      return `server ${states[i]!.name}: its stable log is not a prefix of the longest`;
  }
  for (const s of states) if (!s.consistent) return `server ${s.name}: DB is not its log's replay`;
  if (states.filter((s) => s.primary).length > 1) return "more than one primary";
  if (!final) return null;
  const first = states[0] === undefined ? [] : ids(states[0]);
  for (const s of states) {
    if (ids(s).join() !== first.join()) return `server ${s.name}: its final log differs`;
  }
  if (states.some((s) => s.primary) && first.some((w) => w.endsWith(":-")))
    return "writes still tentative after the last stabilize";
  return null;
}
