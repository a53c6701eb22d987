// Checks of what ranks without a majority and ranks with one do: the first commit nothing new (and
// had work that waited for the majority), the second keep committing; a partition is both at once.
// Pure functions that return the problems they found (scenario_checks.ts, confirmAll, calls them).
import { maxSeqBy, type LogTimes, type StatusSnapshot } from "./scenario_evidence.js";

const quorumOf = (n: number) => Math.floor(n / 2) + 1;
const secs = (us: number) => `${(us / 1e6).toFixed(2)} s`;

/**
 * Ranks cut off from a majority (fromUs..toUs) commit nothing new: no seq above the highest any
 * of them had committed at fromUs. (They may still copy, from one another, commits that were
 * already decided before the cut: that is catch-up, not new work.)
 */
export function confirmQuiet(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  why: string,
): string[] {
  const known = maxSeqBy(logs, ranks, fromUs);
  const problems: string[] = [];
  for (const r of ranks) {
    const fresh = (logs[r]?.commits ?? []).filter(
      (c) => c.atUs > fromUs && c.atUs < toUs && c.seq > known,
    );
    const first = fresh[0];
    if (first)
      problems.push(
        `rank ${r} committed ${fresh.length} new seqs ${why} (seq ${first.seq} at +${secs(first.atUs - fromUs)}; none of them had more than seq ${known})`,
      );
  }
  return problems;
}

/**
 * Ranks without a majority had work that waited for it (else "commit nothing new" passes for ranks
 * that had nothing to commit): they generated instances in fromUs..toUs, none of those was committed
 * on any rank before backUs (when the majority came back), and each of these ranks committed all of
 * them after backUs.
 */
export function confirmHeld(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  backUs: number,
  why: string,
): string[] {
  const held = new Set<string>();
  for (const r of ranks)
    for (const [id, t] of logs[r]?.generated ?? []) if (t > fromUs && t < toUs) held.add(id);
  if (held.size === 0)
    return [`ranks ${ranks.join(", ")} generated nothing ${why}: no work was held back`];
  const problems: string[] = [];
  for (const [r, l] of logs.entries()) {
    const early = l.commits.filter((c) => held.has(c.id) && c.atUs < backUs);
    const first = early[0];
    if (first)
      problems.push(
        `rank ${r} committed ${early.length} of the ${held.size} instances generated ${why} before the majority was back (${first.id} at +${secs(first.atUs - fromUs)})`,
      );
  }
  for (const r of ranks) {
    const late = new Set(
      (logs[r]?.commits ?? []).filter((c) => held.has(c.id) && c.atUs >= backUs).map((c) => c.id),
    );
    if (late.size < held.size)
      problems.push(
        `rank ${r} committed only ${late.size} of the ${held.size} instances generated ${why} after the majority was back`,
      );
  }
  return problems;
}

/** Ranks that keep a majority commit in both halves of fromUs..toUs. */
export function confirmBusy(
  ranks: readonly number[],
  logs: readonly LogTimes[],
  fromUs: number,
  toUs: number,
  why: string,
): string[] {
  const mid = (fromUs + toUs) / 2;
  const problems: string[] = [];
  for (const r of ranks) {
    const commits = logs[r]?.commits ?? [];
    const first = commits.some((c) => c.atUs > fromUs && c.atUs <= mid);
    const second = commits.some((c) => c.atUs > mid && c.atUs < toUs);
    if (!first || !second)
      problems.push(
        `rank ${r} stopped committing ${why} (nothing in the ${first ? "second" : "first"} half)`,
      );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Partition

const sameGroups = (
  a: readonly (readonly number[])[] | undefined,
  b: readonly (readonly number[])[],
) => JSON.stringify(a ?? []) === JSON.stringify(b);

/**
 * Every rank's status shows the partition applied after it was written (writeUs) and healed after
 * it was removed (healUs). Returns when the last rank showed it applied (null if one never did).
 */
export function confirmPartitionApplied(
  histories: readonly (readonly StatusSnapshot[])[],
  groups: readonly (readonly number[])[],
  writeUs: number,
  healUs: number,
): { appliedUs: number | null; problems: string[] } {
  const problems: string[] = [];
  let appliedUs: number | null = -Infinity;
  for (const [r, h] of histories.entries()) {
    const applied = h.find(
      (s) => s.atUs >= writeUs && s.atUs <= healUs + 100_000 && sameGroups(s.partition, groups),
    );
    if (!applied) {
      problems.push(`rank ${r} never showed the partition ${JSON.stringify(groups)} applied`);
      appliedUs = null;
    } else if (appliedUs !== null) appliedUs = Math.max(appliedUs, applied.atUs);
    if (!h.some((s) => s.atUs > healUs && s.partition !== undefined && s.partition.length === 0))
      problems.push(`rank ${r} never showed the partition healed`);
  }
  return { appliedUs: appliedUs === -Infinity ? null : appliedUs, problems };
}

/**
 * The whole partition check: applied and healed on every rank; from the moment every rank applied
 * it (plus settleUs for frames already inside a rank) until it was removed, the ranks of a group
 * smaller than a majority commit nothing new and the ranks of a majority group keep committing.
 */
export function confirmPartition(
  n: number,
  groups: readonly (readonly number[])[],
  histories: readonly (readonly StatusSnapshot[])[],
  logs: readonly LogTimes[],
  writeUs: number,
  healUs: number,
  settleUs = 300_000,
): string[] {
  const { appliedUs, problems } = confirmPartitionApplied(histories, groups, writeUs, healUs);
  if (appliedUs === null) return problems;
  const from = appliedUs + settleUs;
  if (from >= healUs - 200_000)
    return [
      ...problems,
      `the partition was applied everywhere only ${secs(appliedUs - writeUs)} after it was written: too late to check`,
    ];
  for (const g of groups) {
    if (g.length >= quorumOf(n))
      problems.push(...confirmBusy(g, logs, from, healUs, "in the majority of the partition"));
    else problems.push(...confirmQuiet(g, logs, from, healUs, "cut off from the majority"));
  }
  return problems;
}
