// The coordination scenarios' verdicts, as pure functions over what the client processes recorded
// (coord_worker.ts): mutual exclusion of a lock and its fencing tokens, a counter's final value,
// and a watcher that saw every revision of a prefix exactly once and in order. Times are ms on the
// host's monotonic clock (CLOCK_MONOTONIC, the same in every process of the machine).

/** A lock granted to a client: when its acquire began and when the grant reached it. */
export interface Grant {
  client: string;
  lock: string;
  token: number;
  askedAt: number;
  at: number;
}

/** A client stopped acting as the holder of `token` (it began the release) at `at`. */
export interface Release {
  client: string;
  lock: string;
  token: number;
  at: number;
}

export interface LockVerdict {
  problems: string[];
  grants: number;
  /** Next waiter's grant minus the previous holder's release, where the waiter was already
   * waiting when the release began (ms). */
  handoffMs: number[];
}

const MAX_LISTED = 5;

function listed(problems: string[], what: string[]): void {
  problems.push(...what.slice(0, MAX_LISTED));
  if (what.length > MAX_LISTED) problems.push(`... and ${what.length - MAX_LISTED} more`);
}

interface Hold {
  grant: Grant;
  releaseAt: number;
}

/** Pair each grant with its client's release of that token (a repeated grant of the same token
 * to the same client, as a retried acquire gets, is one hold). */
function holds(grants: Grant[], releases: Release[], problems: string[]): Hold[] {
  const byKey = new Map<string, Hold>();
  const dupTokens: string[] = [];
  const owner = new Map<number, string>();
  for (const g of grants) {
    const seen = owner.get(g.token);
    if (seen !== undefined && seen !== g.client)
      dupTokens.push(`token ${g.token} granted to ${seen} and to ${g.client}`);
    owner.set(g.token, g.client);
    const key = `${g.client}/${g.token}`;
    if (!byKey.has(key)) byKey.set(key, { grant: g, releaseAt: Infinity });
  }
  const orphans: string[] = [];
  for (const r of releases) {
    const h = byKey.get(`${r.client}/${r.token}`);
    if (!h) orphans.push(`${r.client} released token ${r.token} it was never granted`);
    else h.releaseAt = Math.min(h.releaseAt, r.at);
  }
  listed(problems, dupTokens);
  listed(problems, orphans);
  return [...byKey.values()];
}

/** Mutual exclusion and fencing of one lock: no two clients' holds overlap in time, tokens
 * strictly increase in the order the grants were received, every grant was released. */
export function checkLock(grants: Grant[], releases: Release[]): LockVerdict {
  const problems: string[] = [];
  const all = holds(grants, releases, problems).sort((a, b) => a.grant.at - b.grant.at);
  const overlaps: string[] = [];
  const order: string[] = [];
  const handoffMs: number[] = [];
  let prev: Hold | undefined;
  let longest: Hold | undefined; // the earlier hold that ended last
  for (const h of all) {
    const g = h.grant;
    if (h.releaseAt === Infinity) problems.push(`${g.client} never released token ${g.token}`);
    if (longest && g.at < longest.releaseAt) {
      const l = longest.grant;
      const until =
        longest.releaseAt === Infinity
          ? "never released"
          : `until ${longest.releaseAt.toFixed(1)} ms`;
      overlaps.push(
        `${g.client} got token ${g.token} at ${g.at.toFixed(1)} ms while ${l.client} held token ${l.token} (${until})`,
      );
    }
    if (prev && g.token <= prev.grant.token)
      order.push(`token ${g.token} (${g.client}) received after token ${prev.grant.token}`);
    if (prev && g.askedAt <= prev.releaseAt && prev.releaseAt !== Infinity)
      handoffMs.push(Math.max(0, g.at - prev.releaseAt));
    if (!longest || h.releaseAt > longest.releaseAt) longest = h;
    prev = h;
  }
  listed(problems, overlaps);
  listed(problems, order);
  return { problems, grants: all.length, handoffMs };
}

/** The counter scenarios: the final value and every increment's value, once each. */
export function checkCounter(
  finalValue: string | null,
  start: number,
  increments: number,
): string[] {
  const want = start + increments;
  if (finalValue === String(want)) return [];
  return [`counter is ${finalValue ?? "absent"}, expected exactly ${want}`];
}

/** One event a watcher received. */
export interface Seen {
  revision: number;
  key: string;
  kind: "put" | "delete" | "expire";
}

/** A write the writers had acknowledged: its key and revision (the key's new version). */
export interface Acked {
  revision: number;
  key: string;
  kind: "put" | "delete";
}

/** The watcher saw each (revision, key) at most once, in revision order, and every acknowledged
 * write of the prefix; its last event of each key agrees with the final state (key -> version). */
export function checkWatch(
  seen: Seen[],
  acked: Acked[],
  finalVersions: Map<string, number>,
): string[] {
  const problems: string[] = [];
  const disorder: string[] = [];
  const got = new Set<string>();
  const lastOfKey = new Map<string, Seen>();
  let prev: Seen | undefined;
  for (const e of seen) {
    const id = `${e.revision}/${e.key}`;
    if (got.has(id)) disorder.push(`revision ${e.revision} of ${e.key} seen twice`);
    else if (prev && e.revision < prev.revision)
      disorder.push(`revision ${e.revision} (${e.key}) after revision ${prev.revision}`);
    got.add(id);
    lastOfKey.set(e.key, e);
    prev = e;
  }
  listed(problems, disorder);
  const missed = acked
    .filter((a) => !got.has(`${a.revision}/${a.key}`))
    .map((a) => `acknowledged ${a.kind} of ${a.key} at revision ${a.revision} never seen`);
  listed(problems, missed);
  const stale: string[] = [];
  for (const [key, version] of finalVersions) {
    const last = lastOfKey.get(key);
    if (!last || last.kind !== "put" || last.revision !== version)
      stale.push(`${key} is at version ${version}; the watcher's last event: ${describe(last)}`);
  }
  for (const [key, last] of lastOfKey)
    if (!finalVersions.has(key) && last.kind === "put")
      stale.push(`${key} is absent; the watcher's last event: ${describe(last)}`);
  listed(problems, stale);
  return problems;
}

function describe(e: Seen | undefined): string {
  return e ? `${e.kind} at revision ${e.revision}` : "none";
}

/** The p-th percentile (0..100) of a list, nearest rank; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[at] ?? NaN;
}
