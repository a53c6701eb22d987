// Runs one script's commands against real processes: starts them as the script asks, prints the
// spec's lines, and stops every process it started when the commands end or the run is
// interrupted (SIGINT, SIGTERM), by PID.
import { BayouMaster, type MasterOutput } from "../master/master.js";
import { ProcessCluster, ProcessPool } from "../master/proc_cluster.js";
import type { Command } from "../script.js";

export interface RunOptions {
  gossipMs: number;
  verbose: boolean;
}

/** Spare processes booted ahead of need (enough to hide Node's start-up behind a command). */
const SPARES = 3;

export function newPool(o: RunOptions): ProcessPool {
  return new ProcessPool({ ...o, spares: SPARES });
}

/** Runs the commands with processes from pool (a new pool, closed at the end, if none given). */
export async function runCommands(
  commands: AsyncIterable<Command> | Iterable<Command>,
  out: MasterOutput,
  o: RunOptions,
  shared?: ProcessPool,
): Promise<void> {
  const pool = shared ?? newPool(o);
  const cluster = new ProcessCluster(pool, { ...o, spares: SPARES });
  const master = new BayouMaster(cluster, out);
  const interrupted = (signal: NodeJS.Signals) => {
    cluster.killAll();
    pool.close();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  try {
    for await (const c of commands) await master.apply(c);
  } finally {
    await master.stopAll();
    await cluster.close();
    if (shared === undefined) pool.close();
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }
}
