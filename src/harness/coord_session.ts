// session-expiry: a client holding a lock (and an ephemeral key that another client watches) is
// SIGSTOPped past its session's TTL. The lock moves on to the client waiting for it (a larger
// token), the ephemeral key vanishes, the watcher sees its delete; resumed, the stopped client's
// next fenced write is refused (fence_failed) and writes nothing.
import { NotFound } from "../client/index.js";
import type { CoordCtx, CoordScenario, Outcome } from "./coord_ctx.js";
import { nowMs, sleep, type WorkerLine, type WorkerProc } from "./coord_procs.js";

const LOCK = "se/lock";
const EPH = "se/eph";
const DATA = "se/data";

type EventRow = [number, string, string];

const eventsIn = (l: WorkerLine): EventRow[] =>
  l.ev === "events" ? ((l.list as EventRow[] | undefined) ?? []) : [];

/** The watcher's line with an event of `key` that `match` accepts. */
function watched(w: WorkerProc, match: (e: EventRow) => boolean, timeoutMs: number, what: string) {
  return w.next((l) => eventsIn(l).some(match), timeoutMs, what);
}

async function absent(ctx: CoordCtx, key: string): Promise<boolean> {
  try {
    await ctx.client().get(key);
    return false;
  } catch (e) {
    if (e instanceof NotFound) return true;
    throw e;
  }
}

async function expiryRun(ctx: CoordCtx, ttlMs: number): Promise<Outcome> {
  const problems: string[] = [];
  const holder = ctx.worker("holder", {
    role: "holder",
    lock: LOCK,
    key: EPH,
    dataKey: DATA,
    ttlMs,
  });
  const held = await holder.until("held", 20_000);
  const ephVersion = Number(held.ephemeralVersion);
  const watcher = ctx.worker("watcher", { role: "watcher", key: EPH, fromRevision: ephVersion });
  await watched(watcher, (e) => e[0] === ephVersion && e[1] === "put", 10_000, "the put of se/eph");
  const waiter = ctx.worker("waiter", { role: "waiter", lock: LOCK, ttlMs: 10_000 });
  await waiter.until("waiting", 10_000);
  await sleep(500);
  if (waiter.all("grant").length)
    problems.push("the waiter got the lock while its holder was alive");
  const stoppedAt = nowMs();
  holder.pause();
  const grant = await waiter.until("grant", ttlMs + 5000);
  const movedMs = Number(grant.at) - stoppedAt;
  if (!(Number(grant.token) > Number(held.token)))
    problems.push(`the waiter's token ${String(grant.token)} is not above ${String(held.token)}`);
  // Keepalives go every TTL/3 and the master's deadline is each one's arrival + TTL: the lock
  // moves no sooner than 2/3 of the TTL after the stop, less how late the holder's timer fired
  // on a busy machine: under half the TTL means keepalives were not being counted.
  if (movedMs < ttlMs / 2)
    problems.push(
      `the lock moved ${movedMs.toFixed(0)} ms after SIGSTOP: under half the TTL (${ttlMs} ms), so the holder's keepalives were not counted`,
    );
  const gone = await watched(
    watcher,
    (e) => e[2] === EPH && e[1] !== "put",
    5000,
    "se/eph's delete",
  );
  if (!(await absent(ctx, EPH))) problems.push("the ephemeral key is still there");
  holder.resume();
  holder.send({ cmd: "write" });
  const late = await holder.until("write", 20_000);
  if (late.ok !== false || late.code !== "fence_failed")
    problems.push(`the resumed holder's fenced write: ${JSON.stringify(late)}`);
  if (!(await absent(ctx, DATA))) problems.push("the refused fenced write wrote se/data");
  waiter.send({ cmd: "release" });
  await waiter.until("released", 10_000);
  return {
    problems,
    figures: [
      `lock moved ${movedMs.toFixed(0)} ms after SIGSTOP (TTL ${ttlMs} ms), token ${String(held.token)} -> ${String(grant.token)}`,
      `watcher saw the delete ${(gone.t - stoppedAt).toFixed(0)} ms after SIGSTOP`,
      `late write refused (${String(late.code)})`,
    ],
  };
}

export function sessionScenarios(long: boolean): CoordScenario[] {
  return [
    {
      name: "session-expiry",
      ranks: 3,
      run: (ctx: CoordCtx) => expiryRun(ctx, long ? 10_000 : 3000),
    },
  ];
}
