// Bayou's recursive server names (Petersen et al., SOSP '97): the first server is the root; a
// server created by server C through a creation write that C accepted with stamp T is named
// ⟨T, C⟩. A name thus carries its own birth certificate, which is what lets a server tell a
// retired-and-forgotten server from one it has simply not heard of yet (see server_core.ts).
// Everywhere else names travel as their canonical text (a Map key, a wire field): "R" for the
// root, "<T,C>" for a child, with C in the same form.
import { invariant } from "../protocol/assert.js";

export type ServerName = { kind: "root" } | { kind: "child"; stamp: number; creator: ServerName };

/** The canonical text of a name: the key under which it appears in vectors and writes. */
export type NameKey = string;

export const ROOT: ServerName = { kind: "root" };
export const ROOT_KEY: NameKey = "R";

export function childName(stamp: number, creator: ServerName): ServerName {
  invariant(
    Number.isSafeInteger(stamp) && stamp >= 0,
    () => `a creation stamp must be a natural number, not ${stamp}`,
  );
  return { kind: "child", stamp, creator };
}

export function nameKey(name: ServerName): NameKey {
  return name.kind === "root" ? ROOT_KEY : `<${name.stamp},${nameKey(name.creator)}>`;
}

/** Parses a canonical key; null for anything else (a key may come from the wire). */
export function parseName(text: string): ServerName | null {
  const at = { i: 0 };
  const name = parseAt(text, at, 0);
  return name !== null && at.i === text.length ? name : null;
}

/** Deep enough for any real membership history, shallow enough to bound the recursion on junk. */
const MAX_DEPTH = 10_000;

function parseAt(text: string, at: { i: number }, depth: number): ServerName | null {
  if (depth > MAX_DEPTH) return null;
  if (text[at.i] === "R") {
    at.i += 1;
    return ROOT;
  }
  if (text[at.i] !== "<") return null;
  const digits = /^(0|[1-9][0-9]*),/.exec(text.slice(at.i + 1, at.i + 18));
  if (digits === null || digits[1] === undefined) return null;
  const stamp = Number(digits[1]);
  if (!Number.isSafeInteger(stamp)) return null;
  at.i += 1 + digits[0].length;
  const creator = parseAt(text, at, depth + 1);
  if (creator === null || text[at.i] !== ">") return null;
  at.i += 1;
  return { kind: "child", stamp, creator };
}

/**
 * A total order on names, the same on every server (it breaks ties between tentative writes
 * with equal accept-stamps): the root first; children by creation stamp, then by creator.
 */
export function compareNames(a: ServerName, b: ServerName): number {
  if (a.kind === "root" || b.kind === "root") {
    return (a.kind === "root" ? 0 : 1) - (b.kind === "root" ? 0 : 1);
  }
  if (a.stamp !== b.stamp) return a.stamp < b.stamp ? -1 : 1;
  return compareNames(a.creator, b.creator);
}

const parsed = new Map<NameKey, ServerName>();

/** The name behind a key that this process made or already checked (an invariant, not input). */
export function nameOf(key: NameKey): ServerName {
  let name = parsed.get(key);
  if (name === undefined) {
    const p = parseName(key);
    invariant(p !== null, () => `not a server name: ${JSON.stringify(key)}`);
    name = p;
    if (parsed.size < 100_000) parsed.set(key, name);
  }
  return name;
}

export function compareNameKeys(a: NameKey, b: NameKey): number {
  return a === b ? 0 : compareNames(nameOf(a), nameOf(b));
}
