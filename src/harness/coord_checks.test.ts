import { describe, expect, it } from "vitest";
import {
  checkCounter,
  checkLock,
  checkWatch,
  percentile,
  type Acked,
  type Grant,
  type Release,
  type Seen,
} from "./coord_checks.js";

const grant = (client: string, token: number, at: number, askedAt = at - 1): Grant => ({
  client,
  lock: "L",
  token,
  askedAt,
  at,
});
const release = (client: string, token: number, at: number): Release => ({
  client,
  lock: "L",
  token,
  at,
});

describe("checkLock", () => {
  it("passes holds one after another with increasing tokens, and measures hand-offs", () => {
    const grants = [grant("a", 5, 10, 0), grant("b", 7, 22, 1), grant("c", 9, 40, 35)];
    const releases = [release("a", 5, 20), release("b", 7, 30), release("c", 9, 45)];
    const v = checkLock(grants, releases);
    expect(v.problems).toEqual([]);
    expect(v.grants).toBe(3);
    expect(v.handoffMs).toEqual([2]); // c asked after b released: not a hand-off
  });

  it("counts a retried acquire's repeated grant of the same token as one hold", () => {
    const grants = [grant("a", 5, 10), grant("a", 5, 12), grant("b", 7, 22)];
    const v = checkLock(grants, [release("a", 5, 20), release("b", 7, 30)]);
    expect(v.problems).toEqual([]);
    expect(v.grants).toBe(2);
  });

  it("finds two holders at once", () => {
    const grants = [grant("a", 5, 10), grant("b", 7, 15)];
    const v = checkLock(grants, [release("a", 5, 20), release("b", 7, 30)]);
    expect(v.problems).toEqual([
      expect.stringMatching(/b got token 7 at 15.0 ms while a held token 5/),
    ]);
  });

  it("finds an overlap with a long hold that an earlier grant started", () => {
    const grants = [grant("a", 1, 0), grant("b", 2, 10), grant("c", 3, 30)];
    const releases = [release("a", 1, 100), release("b", 2, 5), release("c", 3, 40)];
    const v = checkLock(grants, releases);
    expect(v.problems.filter((p) => /while a held token 1/.test(p))).toHaveLength(2);
  });

  it("finds a token granted twice, tokens going backwards, and holds never released", () => {
    const grants = [grant("a", 5, 10), grant("b", 5, 30), grant("c", 4, 50)];
    const releases = [release("a", 5, 20), release("b", 5, 40), release("d", 8, 60)];
    const v = checkLock(grants, releases);
    expect(v.problems).toEqual(
      expect.arrayContaining([
        "token 5 granted to a and to b",
        "d released token 8 it was never granted",
        "c never released token 4",
        "token 4 (c) received after token 5",
      ]),
    );
  });
});

describe("checkCounter", () => {
  it("wants exactly start + increments", () => {
    expect(checkCounter("151", 1, 150)).toEqual([]);
    expect(checkCounter("150", 1, 150)).toEqual(["counter is 150, expected exactly 151"]);
    expect(checkCounter(null, 1, 150)).toEqual(["counter is absent, expected exactly 151"]);
  });
});

describe("checkWatch", () => {
  const seen = (revision: number, key: string, kind: Seen["kind"] = "put"): Seen => ({
    revision,
    key,
    kind,
  });
  const acked = (revision: number, key: string, kind: Acked["kind"] = "put"): Acked => ({
    revision,
    key,
    kind,
  });

  it("passes every acknowledged revision once, in order, ending at the final state", () => {
    const events = [seen(3, "p/a"), seen(4, "p/b"), seen(6, "p/a"), seen(7, "p/b", "delete")];
    // Revision 6 was a write whose reply was lost: seen, not acknowledged, which is fine.
    const ok = [acked(3, "p/a"), acked(4, "p/b"), acked(7, "p/b", "delete")];
    expect(checkWatch(events, ok, new Map([["p/a", 6]]))).toEqual([]);
  });

  it("allows several keys in one revision (one expiry deleting several keys)", () => {
    const events = [seen(3, "p/a"), seen(5, "p/a", "expire"), seen(5, "p/b", "expire")];
    expect(checkWatch(events, [acked(3, "p/a")], new Map())).toEqual([]);
  });

  it("finds a repeated, a reordered and a missed revision, and a stale last event", () => {
    const events = [seen(3, "p/a"), seen(5, "p/b"), seen(5, "p/b"), seen(4, "p/c")];
    const ok = [acked(3, "p/a"), acked(4, "p/c"), acked(5, "p/b"), acked(8, "p/a")];
    const final = new Map([
      ["p/a", 8],
      ["p/b", 5],
    ]);
    expect(checkWatch(events, ok, final)).toEqual([
      "revision 5 of p/b seen twice",
      "revision 4 (p/c) after revision 5",
      "acknowledged put of p/a at revision 8 never seen",
      "p/a is at version 8; the watcher's last event: put at revision 3",
      "p/c is absent; the watcher's last event: put at revision 4",
    ]);
  });
});

describe("percentile", () => {
  it("takes the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([], 50)).toBeNaN();
  });
});
