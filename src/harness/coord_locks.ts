// The lock scenarios of the coordination matrix.
// 1s1c, 3s1c: one client: put, get, acquire, release; a watch fires with the new value.
// 3s3c-*, 5s10c-*: a counter set to 1, then C clients x R rounds of acquire -> get ->
// put(value + 1, ifHolds) -> release: exactly 1 + C x R at the end, no two holders at once,
// tokens strictly increasing. 5s10c-kill-master: the same while the master is killed (kill -9)
// and restarted, twice.
import type { CoordCtx, CoordScenario, Outcome } from "./coord_ctx.js";
import { checkCounter, checkLock, percentile, type Grant, type Release } from "./coord_checks.js";
import { describeFailovers, killMaster, type Failover } from "./coord_master.js";
import { nowMs, sleep, waitFor, type WorkerProc } from "./coord_procs.js";

const LOCK = "counter/lock";
const KEY = "counter";

async function basicRun(ctx: CoordCtx): Promise<Outcome> {
  const w = ctx.worker("client", { role: "basic", key: "basic/k", lock: "basic/lock" });
  const l = await w.until("basic", 30_000);
  type Shown = { kind?: string; revision?: number; value?: string } | null;
  const event = l.event as Shown;
  const once = l.once as Shown;
  const master = l.master as { rank?: number } | null;
  const problems: string[] = [];
  if (l.got !== "v1") problems.push(`get returned ${String(l.got)}, not v1`);
  if (event?.kind !== "put" || event.value !== "v1" || event.revision !== l.version)
    problems.push(
      `the watch fired with ${JSON.stringify(event)}, not the put of v1 at ${String(l.version)}`,
    );
  if (once?.kind !== "put" || once.value !== "v2" || once.revision !== l.v2)
    problems.push(
      `watchOnce fired with ${JSON.stringify(once)}, not the put of v2 at ${String(l.v2)}`,
    );
  if (!(typeof master?.rank === "number" && master.rank >= 0 && master.rank < ctx.n))
    problems.push(`checkMaster answered ${JSON.stringify(master)}`);
  const lock = checkLock(grantsOf([w], "basic/lock"), releasesOf([w], "basic/lock"));
  problems.push(...lock.problems);
  const grant = w.all("grant")[0];
  const acquireMs = grant ? Number(grant.at) - Number(grant.askedAt) : NaN;
  return {
    problems,
    figures: [`master rank ${String(master?.rank)}`, `acquire ${acquireMs.toFixed(1)} ms`],
  };
}

export function grantsOf(ws: WorkerProc[], lock: string): Grant[] {
  return ws.flatMap((w) =>
    w
      .all("grant")
      .filter((l) => l.lock === lock)
      .map((l) => ({
        client: w.name,
        lock,
        token: Number(l.token),
        askedAt: Number(l.askedAt),
        at: Number(l.at),
      })),
  );
}

export function releasesOf(ws: WorkerProc[], lock: string): Release[] {
  return ws.flatMap((w) =>
    w
      .all("release")
      .filter((l) => l.lock === lock)
      .map((l) => ({ client: w.name, lock, token: Number(l.token), at: Number(l.at) })),
  );
}

const ms = (x: number) => (Number.isNaN(x) ? "-" : `${x.toFixed(1)} ms`);

/** Kill -9 the master once `atWrites` increments were made, time its successor, restart it. */
async function killMasterAt(ctx: CoordCtx, ws: WorkerProc[], atWrites: number) {
  await waitFor(
    () => (ws.reduce((n, w) => n + w.all("write").length, 0) >= atWrites ? true : undefined),
    120_000,
    `${atWrites} increments`,
    50,
  );
  const f = await killMaster(ctx);
  await sleep(1000);
  await ctx.cluster.startRank(f.killed);
  return f;
}

async function counterRun(
  ctx: CoordCtx,
  clients: number,
  rounds: number,
  kills: number,
): Promise<Outcome> {
  await ctx.client().put(KEY, "1");
  const ws = Array.from({ length: clients }, (_, i) =>
    ctx.worker(`c${i}`, { role: "counter", lock: LOCK, key: KEY, rounds, ttlMs: 5000 }),
  );
  const t0 = nowMs();
  const total = clients * rounds;
  const faults = (async () => {
    const done: Failover[] = [];
    for (let k = 1; k <= kills; k++)
      done.push(await killMasterAt(ctx, ws, Math.floor((total * k) / (kills + 1))));
    return done;
  })();
  faults.catch(() => {}); // awaited below; not unhandled if the workers fail first
  await Promise.all(ws.map((w) => w.until("done", 60_000 + rounds * clients * 500)));
  const seconds = (nowMs() - t0) / 1000;
  const killed = await faults;
  const finalValue = await ctx.client().get(KEY);
  const lock = checkLock(grantsOf(ws, LOCK), releasesOf(ws, LOCK));
  const fenced = ws.reduce((n, w) => n + w.all("fenced").length, 0);
  return {
    problems: [
      ...checkCounter(Buffer.from(finalValue.value).toString(), 1, total),
      ...lock.problems,
    ],
    figures: [
      `final ${Buffer.from(finalValue.value).toString()}`,
      `${lock.grants} grants (${fenced} fenced writes refused)`,
      `hand-off p50 ${ms(percentile(lock.handoffMs, 50))} p99 ${ms(percentile(lock.handoffMs, 99))}`,
      `${((total * 4) / seconds).toFixed(0)} ops/s`,
      ...describeFailovers(killed),
    ],
  };
}

export function lockScenarios(long: boolean): CoordScenario[] {
  const r = long ? 500 : 50;
  const delay = ["--delay", "1-30"];
  const drop = ["--drop", "0.05"];
  const counter = (name: string, ranks: number, c: number, faults: string[], kills = 0) => ({
    name,
    ranks,
    faults,
    run: (ctx: CoordCtx) => counterRun(ctx, c, r, kills),
  });
  return [
    { name: "1s1c", ranks: 1, run: basicRun },
    { name: "3s1c", ranks: 3, run: basicRun },
    counter("3s3c-normal", 3, 3, []),
    counter("3s3c-delay", 3, 3, delay),
    counter("3s3c-drop", 3, 3, drop),
    counter("5s10c-normal", 5, 10, []),
    counter("5s10c-drop", 5, 10, drop),
    counter("5s10c-kill-master", 5, 10, [], long ? 10 : 2),
  ];
}
