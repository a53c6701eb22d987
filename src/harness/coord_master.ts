// Killing the master and timing its successor, for the lease and kill-master scenarios: the
// master is read from the ranks' lease logs (the rank whose last line is a held lease not yet run
// out); the successor's time is measured three times: until its lease log says it holds the lease,
// until it answers checkMaster with itself (it serves: keepalives are answered from the lease on),
// and until it reports a newer epoch (its master entry is in the log: it expires sessions again).
import type { CoordCtx } from "./coord_ctx.js";
import { percentile } from "./coord_checks.js";
import { nowMs, waitFor } from "./coord_procs.js";

export interface Failover {
  killed: number;
  next: number;
  /** ms from the kill to the successor's lease. */
  leaseMs: number;
  /** ms from the kill to the successor answering checkMaster as master. */
  servingMs: number;
  /** ms from the kill to the successor's master entry in the log (a newer epoch). */
  epochMs: number;
  /** When the kill was sent, µs on the lease logs' clock. */
  killedAtUs: number;
}

/** The only rank holding the lease (waits until there is exactly one). */
export function theMaster(ctx: CoordCtx, timeoutMs = 10_000): Promise<number> {
  return waitFor(
    () => {
      const m = ctx.masters();
      return m.length === 1 ? m[0] : undefined;
    },
    timeoutMs,
    "exactly one master",
    10,
  );
}

/** The master as `rank` reports it (null: none known or no answer). */
async function masterSeenBy(ctx: CoordCtx, rank: number) {
  const endpoint = ctx.cluster.ranks[rank]?.client;
  if (!endpoint) return null;
  return ctx
    .clientOf(endpoint)
    .checkMaster({ timeoutMs: 500 })
    .catch(() => null);
}

/** kill -9 the master; wait for and time the next one. */
export async function killMaster(ctx: CoordCtx, timeoutMs = 10_000): Promise<Failover> {
  const killed = await theMaster(ctx);
  const before = await masterSeenBy(ctx, killed);
  const killedAt = nowMs();
  await ctx.cluster.kill(killed);
  const next = await waitFor(
    () => ctx.masters().find((r) => r !== killed),
    timeoutMs,
    `a master after rank ${killed} was killed`,
    10,
  );
  const leaseMs = nowMs() - killedAt;
  const seen = (pass: (m: { rank: number; epoch: number }) => boolean, what: string) =>
    waitFor(
      async () => {
        const m = await masterSeenBy(ctx, next);
        return m && m.rank === next && pass(m) ? true : undefined;
      },
      timeoutMs,
      `rank ${next} ${what}`,
      10,
    );
  await seen(() => true, "to serve as master");
  const servingMs = nowMs() - killedAt;
  await seen((m) => m.epoch > (before?.epoch ?? 0), "to have its master entry in the log");
  const epochMs = nowMs() - killedAt;
  return { killed, next, leaseMs, servingMs, epochMs, killedAtUs: killedAt * 1000 };
}

/** One clause per failover, or (more than two) their count, median and worst. */
export function describeFailovers(fs: Failover[]): string[] {
  if (fs.length <= 2) return fs.map(describeFailover);
  const stat = (xs: number[]) =>
    `p50 ${percentile(xs, 50).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
  return [
    `${fs.length} masters killed: next master after ${stat(fs.map((f) => f.leaseMs))}; serving after ${stat(fs.map((f) => f.servingMs))}`,
  ];
}

export const describeFailover = (f: Failover) =>
  `rank ${f.killed} killed: rank ${f.next} master after ${f.leaseMs.toFixed(0)} ms, serving after ${f.servingMs.toFixed(0)} ms, its epoch in the log after ${f.epochMs.toFixed(0)} ms`;
