// Fault injection for a real rank: the FaultyTransport decorator built from the flags, and the
// partition file watcher the scenario runner uses to cut links for a while.
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { FaultyTransport, NO_FAULTS, parseDelay, type FaultSpec } from "../faults/faulty_transport.js";
import type { Clock, Transport } from "../ports.js";
import { Prng } from "../sim/prng.js";
import { UsageError } from "./config.js";

const partition = z.array(z.array(z.int().min(0)));

export function faultSpec(drop: number, dup: number, delay: string | undefined): FaultSpec {
  if (delay === undefined) return { ...NO_FAULTS, drop, dup };
  const d = parseDelay(delay);
  if (!d) throw new UsageError(`--delay must look like 1-30 (ms, min-max), not ${delay}`);
  return { drop, dup, ...d };
}

export function withFaults(inner: Transport, me: number, spec: FaultSpec, seed: number, clock: Clock): FaultyTransport {
  // Each rank draws from its own stream of the one seed.
  return new FaultyTransport(inner, me, spec, new Prng(seed * 1_000_003 + me), clock);
}

/** How often a rank reads its --partition-file. */
export const PARTITION_POLL_MS = 50;

/**
 * Poll the partition file; apply its groups when it changes (a new inode, mtime or size). Returns
 * a stop function. A missing file, or [], heals every link. A file that is not a JSON list of rank
 * groups is ignored with one warning (the first time only) and the partition in force stays as it
 * is: a half-written or mistyped file must not heal a partition a test is relying on, nor cut one
 * it is not; the next valid version of the file is applied as usual.
 */
export function watchPartition(path: string, transport: FaultyTransport, warn: (line: string) => void, pollMs = PARTITION_POLL_MS): () => void {
  let lastStamp = "";
  let warned = false;
  const poll = () => {
    let stamp = "missing";
    try {
      const st = statSync(path);
      stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      // a missing file means no partition
    }
    if (stamp === lastStamp) return;
    lastStamp = stamp;
    if (stamp === "missing") return transport.setPartition([]);
    let groups: number[][];
    try {
      groups = partition.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch {
      if (!warned) warn(`partition file ${path} is not a JSON list of rank groups; ignored (the partition in force stays)`);
      warned = true;
      return;
    }
    transport.setPartition(groups);
  };
  poll();
  const timer = setInterval(poll, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
