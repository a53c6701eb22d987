// Formatting of a check result: the original project's text report (kept
// byte-for-byte in its first block), our extra sections, and a JSON summary.
import {
  exitCodeOf,
  safetyPass,
  SAFETY_RULES,
  SPEC_RULES,
  STRICT_RULES,
  validityPass,
  VALIDITY_RULES,
  type CheckResult,
  type RuleName,
} from "./check.js";
import type { Figures } from "./figures.js";
import type { Violations } from "./rules.js";

/** How many violation lines the text report shows per section. */
export const SHOWN_VIOLATIONS = 10;

const STRICT_LABELS: Record<(typeof STRICT_RULES)[number], string> = {
  noGaps: "no gaps",
  noDoubleCommit: "no double commit",
  nothingLost: "nothing lost",
};

export function formatReport(result: CheckResult, title: string | undefined): string {
  const lines: string[] = [];
  if (title !== undefined) lines.push(`Check on ${title}`);
  lines.push("----------begin to check------------");
  for (const rank of result.ranks) {
    // The seqs below an installed snapshot have no commit line: say so, or the counts mislead.
    const installed =
      rank.installedUpTo >= 0 ? ` (and installed a snapshot up to seq ${rank.installedUpTo})` : "";
    lines.push(`node ${rank.rank} commits ${rank.commits} times${installed}`);
  }
  lines.push("---------- check validity ------------");
  lines.push(...verdictLines(VALIDITY_RULES.map((rule) => result.rules[rule])));
  lines.push("---------- check safety --------------");
  lines.push(...verdictLines(SAFETY_RULES.map((rule) => result.rules[rule])));
  lines.push("---------- end -----------------------");
  lines.push("---------- strict checks -------------");
  for (const rule of STRICT_RULES) {
    const [verdict = "", ...details] = verdictLines([result.rules[rule]]);
    lines.push(`${STRICT_LABELS[rule]}: ${verdict}`, ...details);
  }
  lines.push("---------- figures -------------------");
  lines.push(...figureLines(result.figures));
  return lines.join("\n") + "\n";
}

/** "pass", or "fail" and the first violations of the given rules taken together. */
function verdictLines(rules: readonly Violations[]): string[] {
  const total = rules.reduce((sum, rule) => sum + rule.count, 0);
  if (total === 0) return ["pass"];
  const shown = rules.flatMap((rule) => rule.messages).slice(0, SHOWN_VIOLATIONS);
  const lines = ["fail", ...shown.map((message) => `  ${message}`)];
  if (total > shown.length) lines.push(`  ... and ${total - shown.length} more`);
  return lines;
}

function figureLines(figures: Figures): string[] {
  let rate: string;
  if (figures.committedSeqs === 0) {
    rate = "commits/s: nothing committed";
  } else if (figures.commitsPerSecond === undefined || figures.spanSeconds === undefined) {
    rate = `commits/s: n/a (${figures.committedSeqs} instances, no positive time span from first generate to last commit)`;
  } else {
    rate =
      `commits/s: ${figures.commitsPerSecond.toFixed(1)} ` +
      `(${figures.committedSeqs} instances in ${figures.spanSeconds.toFixed(2)} s)`;
  }
  const latency = figures.latency;
  const latencyLine =
    latency === undefined
      ? "latency generate->commit: nothing committed"
      : `latency generate->commit: p50 ${latency.p50Ms.toFixed(2)} ms, ` +
        `p99 ${latency.p99Ms.toFixed(2)} ms, max ${latency.maxMs.toFixed(2)} ms`;
  return [rate, latencyLine];
}

export interface RuleSummary {
  pass: boolean;
  violationCount: number;
  /** the first violations (at most KEPT_VIOLATIONS of them) */
  violations: string[];
}

export interface JsonSummary {
  title: string | null;
  /** whether the strict rules counted towards the verdict */
  strict: boolean;
  pass: boolean;
  exitCode: 0 | 1;
  /** installedUpTo: only for a rank that installed a snapshot */
  ranks: { rank: number; file: string; commits: number; installedUpTo?: number }[];
  validity: boolean;
  safety: boolean;
  rules: Record<RuleName, RuleSummary>;
  instances: { generated: number; committed: number };
  committedSeqs: number;
  spanSeconds: number | null;
  commitsPerSecond: number | null;
  latencyMs: { p50: number; p99: number; max: number; count: number } | null;
}

export function toJsonSummary(
  result: CheckResult,
  title: string | undefined,
  strict: boolean,
): JsonSummary {
  const exitCode = exitCodeOf(result, strict);
  const rules = Object.fromEntries(
    [...SPEC_RULES, ...STRICT_RULES].map((rule) => [rule, summariseRule(result.rules[rule])]),
  ) as Record<RuleName, RuleSummary>;
  const { figures } = result;
  const latency = figures.latency;
  return {
    title: title ?? null,
    strict,
    pass: exitCode === 0,
    exitCode,
    ranks: result.ranks.map(({ rank, file, commits, installedUpTo }) => ({
      rank,
      file,
      commits,
      ...(installedUpTo >= 0 ? { installedUpTo } : {}),
    })),
    validity: validityPass(result),
    safety: safetyPass(result),
    rules,
    instances: { generated: figures.generatedInstances, committed: figures.committedInstances },
    committedSeqs: figures.committedSeqs,
    spanSeconds: figures.spanSeconds ?? null,
    commitsPerSecond: figures.commitsPerSecond ?? null,
    latencyMs:
      latency === undefined
        ? null
        : { p50: latency.p50Ms, p99: latency.p99Ms, max: latency.maxMs, count: latency.count },
  };
}

function summariseRule(violations: Violations): RuleSummary {
  return {
    pass: violations.pass,
    violationCount: violations.count,
    violations: [...violations.messages],
  };
}
