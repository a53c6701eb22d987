// What a scenario's run leaves behind, read back for the checks that prove its faults took effect:
// the snapshots of each rank's status file, each rank's log (commits and generate lines with their
// timestamps) and the fault counters at the end of its summary line.
import { z } from "zod";
import { eachLogLine } from "../protocol/log_lines.js";

/** One snapshot of a rank's status file (--status-file); see src/cli/status_file.ts. */
export interface StatusSnapshot {
  rank: number;
  round: number;
  leader: number;
  leading: { round: number; phase: string } | null;
  commitIndex: number;
  atUs: number;
  pid: number;
  faults?: FaultCounters;
  partition?: number[][];
}

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  delayed: number;
  cut: number;
}

const statusSchema = z.object({
  rank: z.number(),
  round: z.number(),
  leader: z.number(),
  leading: z.object({ round: z.number(), phase: z.string() }).nullable(),
  commitIndex: z.number(),
  atUs: z.number(),
  pid: z.number(),
  faults: z
    .object({ dropped: z.number(), duplicated: z.number(), delayed: z.number(), cut: z.number() })
    .optional(),
  partition: z.array(z.array(z.number())).optional(),
});

/** A status file's text as a snapshot, or null if it is not one (yet). */
export function parseStatus(text: string): StatusSnapshot | null {
  try {
    const r = statusSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export interface Commit {
  seq: number;
  id: string;
  atUs: number;
}

/** What the checks need from one rank's log: its commits and when it generated what. */
export interface LogTimes {
  commits: Commit[];
  /** Instance id -> generate timestamp (µs). */
  generated: Map<string, number>;
}

export function parseLog(text: string): LogTimes {
  const commits: Commit[] = [];
  const generated = new Map<string, number>();
  eachLogLine(text, "commit", (id, seq, atUs) => commits.push({ seq, id, atUs }));
  eachLogLine(text, "generate", (id, _seq, atUs) => generated.set(id, atUs));
  return { commits, generated };
}

/** The fault counters a rank appends to its summary line when fault injection is on. */
export function parseFaultCounters(summary: string): FaultCounters | null {
  const m = /; faults dropped (\d+), duplicated (\d+), delayed (\d+), cut (\d+)\s*$/.exec(summary);
  return m
    ? { dropped: Number(m[1]), duplicated: Number(m[2]), delayed: Number(m[3]), cut: Number(m[4]) }
    : null;
}

/** The highest seq any of `ranks` had committed by atUs (-1: none). */
export function maxSeqBy(
  logs: readonly LogTimes[],
  ranks: readonly number[],
  atUs: number,
): number {
  let max = -1;
  for (const r of ranks)
    for (const c of logs[r]?.commits ?? []) if (c.atUs <= atUs && c.seq > max) max = c.seq;
  return max;
}
