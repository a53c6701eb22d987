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
  /** What the rank applied: the last seq, the state machine's hash, its latest snapshot's seq. */
  appliedSeq?: number;
  stateHash?: string;
  snapshotSeq?: number;
  /** Own instances generated and not yet committed. */
  backlog?: number;
  /** This life's generation schedule (null: not started). */
  generation?: { startUs: number; endUs: number } | null;
  /** With --payload: the submissions of this life. */
  submits?: SubmitCounts;
}

export interface SubmitCounts {
  submitted: number;
  resolved: number;
  maxResolvedSeq: number;
  waits: number;
  unknown: number;
  failed: number;
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
  appliedSeq: z.number().optional(),
  stateHash: z.string().optional(),
  snapshotSeq: z.number().optional(),
  backlog: z.number().optional(),
  generation: z.object({ startUs: z.number(), endUs: z.number() }).nullable().optional(),
  submits: z
    .object({
      submitted: z.number(),
      resolved: z.number(),
      maxResolvedSeq: z.number(),
      waits: z.number(),
      unknown: z.number(),
      failed: z.number(),
    })
    .optional(),
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
  /** Snapshots installed from a peer (the log's install lines); absent: none read. */
  installs?: { seq: number; atUs: number }[];
}

const INSTALL_LINE = /^install snapshot up to seq (\d+) at (\d+)$/gm;

export function parseLog(text: string): LogTimes {
  const commits: Commit[] = [];
  const generated = new Map<string, number>();
  eachLogLine(text, "commit", (id, seq, atUs) => commits.push({ seq, id, atUs }));
  eachLogLine(text, "generate", (id, _seq, atUs) => generated.set(id, atUs));
  const installs = [...text.matchAll(INSTALL_LINE)].map((m) => ({
    seq: Number(m[1]),
    atUs: Number(m[2]),
  }));
  return { commits, generated, installs };
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
