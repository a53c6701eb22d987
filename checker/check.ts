// Runs every rule and figure on a log set and decides the verdict.
import { computeFigures, type Figures } from "./figures.js";
import type { LogSet } from "./load.js";
import {
  checkCommitsGenerated,
  checkNonEmpty,
  checkNoDoubleCommit,
  checkNoGaps,
  checkNothingLost,
  checkOneIdPerSeq,
  checkTablesAgree,
  type Violations,
} from "./rules.js";
import { buildCommitTable } from "./table.js";

/**
 * Rule keys, in report order; also the field names of the JSON summary. The
 * validity and safety rules always decide the exit code, the strict ones unless
 * --no-strict. nonEmpty (every rank committed something) is not one of the
 * spec's three rules, but the original checker failed validity without it.
 */
export const VALIDITY_RULES = ["nonEmpty", "rule1", "rule2"] as const;
export const SAFETY_RULES = ["rule3"] as const;
export const SPEC_RULES = [...VALIDITY_RULES, ...SAFETY_RULES] as const;
export const STRICT_RULES = ["noGaps", "noDoubleCommit", "nothingLost"] as const;
export type RuleName = (typeof SPEC_RULES)[number] | (typeof STRICT_RULES)[number];

export interface RankSummary {
  rank: number;
  file: string;
  /** number of commit lines in the rank's log */
  commits: number;
  /** the highest seq a snapshot it installed covered (-1: none; see rules.ts) */
  installedUpTo: number;
}

export interface CheckResult {
  ranks: RankSummary[];
  rules: Record<RuleName, Violations>;
  figures: Figures;
}

export function checkLogSet({ logs, names }: LogSet): CheckResult {
  const tables = logs.map(buildCommitTable);
  return {
    ranks: logs.map((log, i) => ({
      rank: log.rank,
      file: log.file,
      commits: log.commitSeq.length,
      installedUpTo: tables[i]?.installedUpTo ?? -1,
    })),
    rules: {
      nonEmpty: checkNonEmpty(logs),
      rule1: checkOneIdPerSeq(tables, names),
      rule2: checkCommitsGenerated(logs, names),
      rule3: checkTablesAgree(tables, names),
      noGaps: checkNoGaps(tables),
      noDoubleCommit: checkNoDoubleCommit(tables, names),
      nothingLost: checkNothingLost(logs, names),
    },
    figures: computeFigures(logs, tables, names),
  };
}

export function validityPass(result: CheckResult): boolean {
  return VALIDITY_RULES.every((rule) => result.rules[rule].pass);
}

export function safetyPass(result: CheckResult): boolean {
  return SAFETY_RULES.every((rule) => result.rules[rule].pass);
}

export function specRulesPass(result: CheckResult): boolean {
  return SPEC_RULES.every((rule) => result.rules[rule].pass);
}

export function strictRulesPass(result: CheckResult): boolean {
  return STRICT_RULES.every((rule) => result.rules[rule].pass);
}

/** 0 when the run is accepted, 1 on a violation; strict rules count unless disabled. */
export function exitCodeOf(result: CheckResult, strict: boolean): 0 | 1 {
  return specRulesPass(result) && (!strict || strictRulesPass(result)) ? 0 : 1;
}
