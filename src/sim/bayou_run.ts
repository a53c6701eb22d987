// One simulated Bayou run: a random master script (joins, retirements, partitions of server and
// client links, pause/start, writes, reads, stabilizes) played by the real master against simulated
// nodes, then every link restored. Asserted, naming the seed (bayou_checks.ts):
// - after every stabilize the stable logs are prefixes of each other, every DB is its log's
//   replay, and there is at most one primary;
// - after every restoreConnection (not paused) both servers hold what the other held just before
//   (committed, if either is the primary), and a client's new server holds what its linked
//   servers held;
// - with background gossip, writes made after the heal reach every server and become stable
//   without a stabilize;
// - at the end every server holds the same log, all of it stable, and every put a client was told
//   is written is in it.
import { BayouMaster } from "../bayou/master/master.js";
import type { ServerState } from "../bayou/node/control.js";
import type { Command, Id } from "../bayou/script.js";
import { Prng } from "../faults/prng.js";
import { SimBayouCluster } from "./bayou_cluster.js";
import { check, checkCaughtUp, checkReconciled } from "./bayou_checks.js";
import { CALM, type NetFaults } from "./network.js";

export { check } from "./bayou_checks.js";

export interface BayouSimOptions {
  seed: number;
  steps: number;
  /** Background anti-entropy (virtual ms); 0: only what the master runs. */
  gossipMs: number;
  faults?: NetFaults;
  /** Scripts that restore links often and read right after (randomScript's `restores`). */
  restores?: boolean;
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
/** After the heal, background gossip alone must spread new writes within this virtual time. */
const GOSSIP_SETTLE_VIRTUAL_MS = 20_000;
/** Clients joined after the heal to write (ids no script uses). */
const LATE_CLIENT = 900;

/** A random script: ids 0.. for servers, 100.. for clients. With `restores`, links are cut and
 * restored more often, and a restore is often followed at once by a read at one of its ends. */
export function randomScript(seed: number, steps: number, restores = false): Command[] {
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
    } else if (r < 0.4 || (restores && rng.next() < 0.25)) {
      const other = rng.next() < 0.7 ? pick(servers) : c;
      if (other === undefined) continue;
      out.push({ kind: "restoreConnection", a: s, b: other });
      if (!restores || rng.next() < 0.3) continue;
      const reader = clients.find((x) => x === other) ?? c;
      if (reader !== undefined && rng.next() < 0.5)
        out.push({ kind: "get", client: reader, song: key });
      else out.push({ kind: "printLog", id: rng.next() < 0.5 || other === c ? s : other });
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

/** The links every script ends with restored (pause lifted, so each restore reconciles). */
function healAll(ids: readonly string[]): Command[] {
  const out: Command[] = [{ kind: "start" }];
  for (const a of ids)
    for (const b of ids) if (a < b) out.push({ kind: "restoreConnection", a, b });
  return out;
}

export async function runBayouSim(o: BayouSimOptions): Promise<BayouSimResult> {
  const run = new SimRun(o);
  const commands = randomScript(o.seed, o.steps, o.restores ?? false);
  let finalWrites = 0;
  try {
    for (const c of commands) await run.command(c);
    for (const c of healAll(run.master.liveServerIds())) await run.command(c);
    if (o.gossipMs > 0) await run.lateWritesByGossip();
    await run.command({ kind: "stabilize" });
    finalWrites = await run.checkEnd();
  } catch (e) {
    run.fail((e as Error).message);
  } finally {
    await run.cluster.stopAll();
  }
  const virtualMs = (run.cluster.clock.nowUs() - 1_700_000_000_000_000) / 1000;
  return {
    seed: o.seed,
    commands,
    output: run.output,
    problem: run.problem,
    virtualMs,
    finalWrites,
  };
}

class SimRun {
  readonly cluster: SimBayouCluster;
  readonly master: BayouMaster;
  readonly output: string[] = [];
  problem: string | null = null;

  constructor(o: BayouSimOptions) {
    this.cluster = new SimBayouCluster(o.seed, o.gossipMs, o.faults ?? CALM);
    const out = {
      line: (l: string) => this.output.push(l),
      warn: (m: string) => this.fail(`master: ${m}`),
      note: () => {},
    };
    this.master = new BayouMaster(this.cluster, out);
  }

  fail(problem: string): void {
    this.problem ??= problem;
  }

  /** Runs one command, with the checks that follow it. */
  async command(c: Command): Promise<void> {
    const restored = c.kind === "restoreConnection" ? await this.beforeRestore(c.a, c.b) : null;
    await this.cluster.drive(this.master.apply(c), COMMAND_VIRTUAL_MS);
    if (c.kind === "stabilize") this.problem ??= check(await this.states(), false);
    if (restored !== null) this.problem ??= await restored();
  }

  /** What a restoreConnection must have moved, read before it runs; null when it moves nothing
   * (paused, or ignored). Returns the check to run after it. */
  private async beforeRestore(a: Id, b: Id): Promise<(() => Promise<string | null>) | null> {
    const m = this.master;
    if (m.isPaused || a === b) return null;
    const live = (id: Id) => m.serverHandle(id) !== undefined;
    if (live(a) && live(b)) {
      const before = [await this.state(a), await this.state(b)] as const;
      return async () => checkReconciled(before, [await this.state(a), await this.state(b)]);
    }
    const [client, server] = live(a) ? [b, a] : [a, b];
    if (!live(server) || m.serverOf(client) === undefined) return null;
    const neighbours: ServerState[] = [];
    for (const n of m.linkedServers(server)) neighbours.push(await this.state(n));
    return async () => checkCaughtUp(await this.state(server), neighbours);
  }

  /** New clients write after the heal; with no stabilize, gossip alone must make every server
   * hold the same stable log within GOSSIP_SETTLE_VIRTUAL_MS. */
  async lateWritesByGossip(): Promise<void> {
    const ids = this.master.liveServerIds().slice(0, 3);
    for (const [i, sid] of ids.entries()) {
      const cid = String(LATE_CLIENT + i);
      await this.command({ kind: "joinClient", client: cid, server: sid });
      await this.command({ kind: "put", client: cid, song: "late", url: `by-${sid}` });
    }
    const clock = this.cluster.clock;
    const settled = new Promise<void>((r) => clock.after(GOSSIP_SETTLE_VIRTUAL_MS, r));
    await this.cluster.drive(settled, GOSSIP_SETTLE_VIRTUAL_MS * 2);
    const problem = check(await this.states(), true);
    if (problem !== null) this.fail(`by background gossip alone: ${problem}`);
  }

  /** The final checks; returns how many writes the final log holds. */
  async checkEnd(): Promise<number> {
    const end = await this.states();
    this.problem ??= check(end, true);
    const final = new Set(end[0]?.writes.map((w) => w.op) ?? []);
    const lost = this.cluster.ackedPuts.filter((p) => !final.has(p));
    if (end.length > 0 && lost.length > 0)
      this.fail(`acknowledged writes lost: ${lost.join(", ")}`);
    return end[0]?.writes.length ?? 0;
  }

  private async state(id: Id): Promise<ServerState> {
    const h = this.master.serverHandle(id);
    if (h === undefined) throw new Error(`no live server ${id}`);
    const r = await this.cluster.drive(h.call({ c: "state" }), COMMAND_VIRTUAL_MS);
    if (!r.ok || !("state" in r)) throw new Error(`server ${id} gave no state`);
    return r.state;
  }

  private async states(): Promise<ServerState[]> {
    const out: ServerState[] = [];
    for (const id of this.master.liveServerIds()) out.push(await this.state(id));
    return out;
  }
}
