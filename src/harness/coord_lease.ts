// The master-lease and pause scenarios of the coordination matrix.
// lease-N(-drop): one master; kill -9 it -> another within 2 s; restart it -> it rejoins as a
// non-master; the ranks' lease logs, checked by yasp-lease-check, never show two masters at once.
// pause-K-of-5: SIGSTOP K ranks (the master first), write through the others, SIGCONT: every rank
// reaches the same applied seq and state hash (the paused ones learnt every command).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { KvClient } from "../client/index.js";
import type { CoordCtx, CoordScenario, Outcome } from "./coord_ctx.js";
import { describeFailovers, killMaster, theMaster, type Failover } from "./coord_master.js";
import { nowMs, sleep } from "./coord_procs.js";

const NEW_MASTER_MS = 2000;

/** Run the shipped lease checker on the ranks' lease logs: bin/yasp-lease-check (the built
 * checker), or its TypeScript entry under tsx when this file runs as TypeScript. */
function leaseCheck(logs: string[]): Promise<{ ok: boolean; out: string }> {
  const isTs = import.meta.url.endsWith(".ts");
  const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  const entry = isTs
    ? ["--import", "tsx", path("../../checker/lease_check_cli.ts")]
    : [path("../../../bin/yasp-lease-check.js")];
  return new Promise((resolve) =>
    execFile(process.execPath, [...entry, ...logs], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ ok: err === null, out: `${stdout}${stderr}`.trim() }),
    ),
  );
}

/** Kill the master, time the next one, restart the old one and see it stay a non-master. With
 * `stable` (no frame drops) the successor must also still hold the lease then; with drops a lapsed
 * renewal may move it on, which is only noted. */
async function failover(ctx: CoordCtx, problems: string[], notes: string[], stable: boolean) {
  const f = await killMaster(ctx);
  const died = `after rank ${f.killed} died (killed at ${f.killedAtUs.toFixed(0)} µs)`;
  if (f.leaseMs > NEW_MASTER_MS)
    problems.push(`rank ${f.next} became master ${f.leaseMs.toFixed(0)} ms ${died}`);
  if (f.servingMs > NEW_MASTER_MS)
    problems.push(`rank ${f.next} served as master ${f.servingMs.toFixed(0)} ms ${died}`);
  const restartUs = nowMs() * 1000;
  await ctx.cluster.startRank(f.killed);
  await sleep(2500);
  const taken = ctx.leaseLog(f.killed).some((l) => l.kind === "held" && l.fromUs >= restartUs);
  const now = ctx.masters();
  if (taken || now.includes(f.killed))
    problems.push(`restarted rank ${f.killed} took the lease (masters now: ${now.join(",")})`);
  if (!now.includes(f.next))
    (stable ? problems : notes).push(
      `rank ${f.next} lost the lease after rank ${f.killed} rejoined (masters: ${now.join(",")})`,
    );
  return f;
}

async function leaseRun(ctx: CoordCtx, kills: number, stable: boolean): Promise<Outcome> {
  const problems: string[] = [];
  const notes: string[] = [];
  await theMaster(ctx);
  const done: Failover[] = [];
  for (let i = 0; i < kills && problems.length === 0; i++)
    done.push(await failover(ctx, problems, notes, stable));
  const same = await ctx.sameState(20_000);
  if (!same.ok) problems.push(same.note);
  await ctx.cluster.stop();
  const logs = ctx.cluster.ranks.map((r) => ctx.leaseLogPath(r.rank));
  const check = await leaseCheck(logs);
  if (!check.ok)
    problems.push(`yasp-lease-check: ${check.out.split("\n").slice(0, 5).join(" | ")}`);
  const verdict = check.ok ? `lease logs ${check.out.replace(/^pass: /, "")}` : "";
  return { problems, figures: [...describeFailovers(done), ...notes, verdict] };
}

export function leaseScenarios(long: boolean): CoordScenario[] {
  const kills = long ? 20 : 1;
  return [3, 5, 7].flatMap((n) => [
    { name: `lease-${n}`, ranks: n, run: (ctx: CoordCtx) => leaseRun(ctx, kills, true) },
    {
      name: `lease-${n}-drop`,
      ranks: n,
      faults: ["--drop", "0.2"],
      run: (ctx: CoordCtx) => leaseRun(ctx, kills, false),
    },
  ]);
}

/** Puts through `client` with `concurrency` in flight until `untilMs`: how many were acknowledged. */
export async function writeUntil(
  client: KvClient,
  prefix: string,
  untilMs: number,
  concurrency: number,
): Promise<number> {
  let acked = 0;
  let next = 0;
  const one = async () => {
    while (nowMs() < untilMs) {
      const i = next++;
      await client.put(`${prefix}${i % 500}`, String(i));
      acked++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  return acked;
}

async function pauseRun(ctx: CoordCtx, k: number, pauseMs: number): Promise<Outcome> {
  const problems: string[] = [];
  await ctx.client().put("pause/start", "1");
  const master = ctx.masters()[0] ?? 0;
  const paused = [master, ...[1, 2, 3, 4].map((d) => (master + d) % ctx.n)].slice(0, k);
  const others = ctx.cluster.ranks.filter((r) => !paused.includes(r.rank));
  paused.forEach((r) => ctx.cluster.pause(r));
  const writer = ctx.client(others.map((r) => r.client));
  const acked = await writeUntil(writer, "pause/k", nowMs() + pauseMs, 16);
  const continuedAt = nowMs();
  paused.forEach((r) => ctx.cluster.resume(r));
  const same = await ctx.sameState(30_000);
  if (!same.ok) problems.push(`after SIGCONT: ${same.note}`);
  if (acked === 0)
    problems.push(`no write acknowledged while ranks ${paused.join(",")} were paused`);
  return {
    problems,
    figures: [
      `${acked} writes while rank${paused.length > 1 ? "s" : ""} ${paused.join(",")} stopped`,
      `every rank equal ${(nowMs() - continuedAt).toFixed(0)} ms after SIGCONT (${same.note})`,
    ],
  };
}

export function pauseScenarios(long: boolean): CoordScenario[] {
  const pauseMs = long ? 120_000 : 3000;
  return [1, 2].map((k) => ({
    name: `pause-${k}-of-5`,
    ranks: 5,
    run: (ctx: CoordCtx) => pauseRun(ctx, k, pauseMs),
  }));
}
