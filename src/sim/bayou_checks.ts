// What a simulated Bayou run asserts about the servers' states (the `state` query of each live
// server), named so a failing seed says which rule broke.
import type { ServerState, WriteView } from "../bayou/node/control.js";

/** The invariants over the live servers' states; `final`: after the last heal and stabilize. */
export function check(states: readonly ServerState[], final: boolean): string | null {
  const ids = (s: ServerState) => s.writes.map((w) => `${w.stamp}@${w.server}:${w.csn ?? "-"}`);
  const stable = states.map((s) => ids(s).filter((w) => !w.endsWith(":-")));
  const longest = stable.reduce((a, b) => (b.length > a.length ? b : a), []);
  for (const [i, l] of stable.entries()) {
    if (l.some((w, j) => longest[j] !== w))
      return `server ${states[i]!.name}: its stable log is not a prefix of the longest`;
  }
  for (const s of states) if (!s.consistent) return `server ${s.name}: DB is not its log's replay`;
  if (states.filter((s) => s.primary).length > 1) return "more than one primary";
  if (!final) return null;
  const first = states[0] === undefined ? [] : ids(states[0]);
  for (const s of states) {
    if (ids(s).join() !== first.join()) return `server ${s.name}: its final log differs`;
  }
  if (states.some((s) => s.primary) && first.some((w) => w.endsWith(":-")))
    return "writes still tentative after the last stabilize";
  return null;
}

const key = (w: WriteView) => `${w.stamp}@${w.server}`;

/** The first write `before` held that `after` lacks (or holds tentatively while `before` had it
 * committed), or null when `after` holds all of it. */
export function missingFrom(after: ServerState, before: ServerState): string | null {
  const have = new Map(after.writes.map((w) => [key(w), w]));
  for (const w of before.writes) {
    const h = have.get(key(w));
    if (h === undefined) return `lacks ${key(w)} (${w.op})`;
    if (w.csn !== null && h.csn === null) return `holds ${key(w)} tentatively, not its commit`;
  }
  return null;
}

/**
 * After restoreConnection between two servers (not paused): each holds everything the other held
 * just before, and when either is the primary, everything either held is committed at both.
 */
export function checkReconciled(
  before: readonly [ServerState, ServerState],
  after: readonly [ServerState, ServerState],
): string | null {
  const [a0, b0] = before;
  const [a1, b1] = after;
  const gap = missingFrom(a1, b0) ?? missingFrom(b1, a0);
  if (gap !== null) return `restored link ${a1.name}-${b1.name}: ${gap}`;
  if (!a1.primary && !b1.primary) return null;
  for (const s of [a1, b1]) {
    const tentative = s.writes.find((w) => w.csn === null && [a0, b0].some((x) => held(x, w)));
    if (tentative !== undefined)
      return `restored link to the primary: ${s.name} still holds ${key(tentative)} tentatively`;
  }
  return null;
}

/** After a client moved to a server (not paused): it holds what each server linked to it held. */
export function checkCaughtUp(
  server: ServerState,
  neighbours: readonly ServerState[],
): string | null {
  for (const n of neighbours) {
    const gap = missingFrom(server, n);
    if (gap !== null) return `client moved to ${server.name}: it ${gap} from ${n.name}`;
  }
  return null;
}

function held(s: ServerState, w: WriteView): boolean {
  return s.writes.some((x) => key(x) === key(w));
}
