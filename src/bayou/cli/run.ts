// Runs one script's commands against real processes: starts them as the script asks, prints the
// spec's lines, and stops every process it started when the commands end or the run is
// interrupted (SIGINT, SIGTERM), by PID.
import { BayouMaster, type MasterOutput } from "../master/master.js";
import { ProcessCluster } from "../master/proc_cluster.js";
import type { Command } from "../script.js";

export interface RunOptions {
  gossipMs: number;
  verbose: boolean;
}

/** Spare processes booted ahead of need (enough to hide Node's start-up behind a command). */
const SPARES = 2;

export async function runCommands(
  commands: AsyncIterable<Command> | Iterable<Command>,
  out: MasterOutput,
  o: RunOptions,
): Promise<void> {
  const cluster = new ProcessCluster({ gossipMs: o.gossipMs, verbose: o.verbose, spares: SPARES });
  const master = new BayouMaster(cluster, out);
  const interrupted = (signal: NodeJS.Signals) => {
    cluster.killAll();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  try {
    for await (const c of commands) await master.apply(c);
  } finally {
    await master.stopAll();
    await cluster.close();
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }
}
