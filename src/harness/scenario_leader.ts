// The leader of a running cluster, as its ranks report it in their status files, and the proof that
// killing it took effect: it was leading the round it was picked for, and the others replaced it.
// Pure functions, like the other checks (scenario_checks.ts calls these from confirmAll).
import { quorumOf } from "../protocol/effects.js";
import type { Commit, LogTimes, StatusSnapshot } from "./scenario_evidence.js";

export type LeaderPick = { rank: number; round: number } | { problem: string };

/**
 * The rank that leads the cluster now, from the latest status of each running rank (null: none).
 * Rule: among statuses written in the last freshUs, the rank leading the highest round (not about
 * to hand it on: phase "ending" does not count) is the leader if no fresh status has seen a later
 * round and a majority of the cluster (the leader included) is in that round. Otherwise there is
 * no clear leader now (a round change is under way, or too few ranks report): the caller reads again.
 */
export function pickLeader(
  latest: readonly (StatusSnapshot | null)[],
  n: number,
  nowUs: number,
  freshUs = 300_000,
): LeaderPick {
  const fresh = latest.filter((s): s is StatusSnapshot => s !== null && s.atUs >= nowUs - freshUs);
  if (fresh.length < quorumOf(n))
    return {
      problem: `only ${fresh.length} of ${n} ranks wrote a status in the last ${freshUs / 1000} ms`,
    };
  let best: StatusSnapshot | null = null;
  for (const s of fresh) {
    if (!s.leading || s.leading.phase === "ending" || s.leading.round % n !== s.rank) continue;
    if (!best || s.leading.round > (best.leading?.round ?? -1)) best = s;
  }
  if (!best?.leading)
    return {
      problem: `no rank is leading a round (rounds ${fresh.map((s) => `${s.rank}:${s.round}`).join(" ")})`,
    };
  const round = best.leading.round;
  const ahead = fresh.find((s) => s.round > round);
  if (ahead)
    return {
      problem: `rank ${best.rank} leads round ${round} but rank ${ahead.rank} is already in round ${ahead.round}`,
    };
  const following = fresh.filter((s) => s.round === round && s.leader === best.rank).length;
  if (following < quorumOf(n))
    return {
      problem: `rank ${best.rank} leads round ${round} but only ${following} of ${n} ranks are in it`,
    };
  return { rank: best.rank, round };
}

/**
 * The killed rank's last status (read once it had died, so written at most ~100 ms before the kill)
 * shows it leading the round the runner picked, in phase "reading" or "imposing". "reading" counts:
 * the pick saw a majority of the ranks in that round following it, so it was their leader even if
 * its own read had not come back yet. "ending" does not: such a leader has used its quota, committed
 * all it imposed and sent `end`, so the next rank takes over without noticing anything and the
 * kill tests no failure detection (pickLeader never picks it either: a last status in "ending", or
 * in another round, means the leadership moved on between the pick and the kill).
 */
export function confirmWasLeading(
  rank: number,
  round: number,
  last: StatusSnapshot | null,
): string[] {
  if (!last) return [`rank ${rank} (killed as leader) left no status`];
  const l = last.leading;
  if (!l)
    return [
      `rank ${rank} was not leading when killed (its last status: round ${last.round}, led by ${last.leader})`,
    ];
  if (l.round !== round)
    return [
      `rank ${rank} was leading round ${l.round} when killed, not round ${round}, the one it was picked for`,
    ];
  if (l.phase !== "reading" && l.phase !== "imposing")
    return [
      `rank ${rank} was in phase "${l.phase}" of round ${round} when killed (handing the round on, not leading it)`,
    ];
  return [];
}

/**
 * While the killed leader was down (fromUs..toUs) the others replaced it, on two counts:
 * - another rank got a majority for a later round: its status shows it leading a round after
 *   `round` in phase "imposing" or "ending" (both come only after a majority answered its read;
 *   "reading" is a bump that may never get one);
 * - the others committed new work: an instance generated after fromUs + marginUs (the dead leader
 *   cannot have imposed it) committed by another rank before toUs.
 */
export function confirmTakeover(
  histories: readonly (readonly StatusSnapshot[])[],
  logs: readonly LogTimes[],
  killed: number,
  round: number,
  fromUs: number,
  toUs: number,
  marginUs = 50_000,
): string[] {
  const problems: string[] = [];
  const inWindow = (s: StatusSnapshot) =>
    s.atUs > fromUs && s.atUs < toUs && s.leading !== null && s.leading.round > round;
  const others = [...histories.keys()].filter((r) => r !== killed);
  const led = others.some((r) =>
    (histories[r] ?? []).some(
      (s) => inWindow(s) && (s.leading?.phase === "imposing" || s.leading?.phase === "ending"),
    ),
  );
  if (!led) {
    const tried = others.filter((r) => (histories[r] ?? []).some(inWindow));
    const note = tried.length > 0 ? ` (rank ${tried.join(", ")} only tried: phase "reading")` : "";
    problems.push(
      `no other rank got a majority for a round after round ${round} while rank ${killed} was down${note}`,
    );
  }
  const generatedAt = new Map<string, number>();
  for (const l of logs) for (const [id, t] of l.generated) generatedAt.set(id, t);
  const isNew = (c: Commit) =>
    c.atUs > fromUs && c.atUs < toUs && (generatedAt.get(c.id) ?? -Infinity) > fromUs + marginUs;
  if (!others.some((r) => (logs[r]?.commits ?? []).some(isNew)))
    problems.push(
      `the others committed no instance generated after rank ${killed} was killed while it was down`,
    );
  return problems;
}
