// Fault injection for a real rank: the FaultyTransport decorator built from the flags, and the
// partition file watcher the scenario runner uses to cut links for a while.
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { msToUs, type FaultSettings } from "../faults/fault_model.js";
import { FaultyTransport } from "../faults/faulty_transport.js";
import { Prng } from "../faults/prng.js";
import type { Clock, Transport } from "../ports.js";
import { UsageError } from "./config.js";

const partition = z.array(z.array(z.int().min(0)));

/** The fault flags as the user gives them: probabilities, and --delay in ms. */
export interface FaultSpec {
  drop: number;
  dup: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export function faultSpec(drop: number, dup: number, delay: string | undefined): FaultSpec {
  if (delay === undefined) return { drop, dup, minDelayMs: 0, maxDelayMs: 0 };
  const d = parseDelay(delay);
  if (!d) throw new UsageError(`--delay must look like 1-30 (ms, min-max), not ${delay}`);
  return { drop, dup, ...d };
}

/** Parse "--delay 1-30" (ms); a single number means a fixed delay. */
export function parseDelay(text: string): { minDelayMs: number; maxDelayMs: number } | null {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!m) return null;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  return max >= min ? { minDelayMs: min, maxDelayMs: max } : null;
}

/** The flags in the fault model's unit (µs): the one place a rank's ms become µs. */
export function faultSettings(spec: FaultSpec): FaultSettings {
  return {
    drop: spec.drop,
    dup: spec.dup,
    minDelayUs: msToUs(spec.minDelayMs),
    maxDelayUs: msToUs(spec.maxDelayMs),
  };
}

export function withFaults(
  inner: Transport,
  me: number,
  spec: FaultSpec,
  seed: number,
  clock: Clock,
): FaultyTransport {
  // Each rank draws from its own stream of the one seed.
  return new FaultyTransport(
    inner,
    me,
    faultSettings(spec),
    new Prng(seed * 1_000_003 + me),
    clock,
  );
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
export function watchPartition(
  path: string,
  transport: FaultyTransport,
  warn: (line: string) => void,
  pollMs = PARTITION_POLL_MS,
): () => void {
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
      if (!warned)
        warn(
          `partition file ${path} is not a JSON list of rank groups; ignored (the partition in force stays)`,
        );
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
