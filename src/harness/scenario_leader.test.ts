import { describe, expect, it } from "vitest";
import type { StatusSnapshot } from "./scenario_evidence.js";
import { every100ms, S, status } from "./scenario_fixtures.js";
import { confirmTakeover, confirmWasLeading, pickLeader } from "./scenario_leader.js";

describe("pickLeader", () => {
  const now = 10 * S;
  const following = (leader: number, round: number) =>
    [0, 1, 2, 3, 4].map((r) =>
      status(r, now - 50_000, {
        round,
        leader,
        leading: r === leader ? { round, phase: "imposing" } : null,
      }),
    );

  it("names the rank leading the highest round when a majority is in that round", () => {
    expect(pickLeader(following(3, 8), 5, now)).toEqual({ rank: 3, round: 8 });
  });

  it("finds no leader when no rank leads", () => {
    const none = [0, 1, 2, 3, 4].map((r) => status(r, now - 50_000, { round: 8, leader: 3 }));
    expect(pickLeader(none, 5, now)).toHaveProperty(
      "problem",
      expect.stringMatching(/no rank is leading/),
    );
  });

  it("finds no leader when the statuses are stale (the ranks stopped writing)", () => {
    const stale = following(3, 8).map((s) => ({ ...s, atUs: now - 2 * S }));
    expect(pickLeader(stale, 5, now)).toHaveProperty(
      "problem",
      expect.stringMatching(/only 0 of 5 ranks/),
    );
  });

  it("finds no leader while a later round has started, or too few ranks follow", () => {
    const moved = following(3, 8);
    moved[1] = status(1, now - 50_000, { round: 9, leader: 4 });
    expect(pickLeader(moved, 5, now)).toHaveProperty(
      "problem",
      expect.stringMatching(/rank 1 is already in round 9/),
    );
    const alone = following(3, 8).map((s) => (s.rank === 3 ? s : { ...s, round: 7, leader: 2 }));
    expect(pickLeader(alone, 5, now)).toHaveProperty(
      "problem",
      expect.stringMatching(/only 1 of 5 ranks are in it/),
    );
  });

  it("does not pick a leader that is ending its round, and takes the highest of two leading ranks", () => {
    const ending = following(3, 8).map((s) =>
      s.leading ? { ...s, leading: { round: 8, phase: "ending" } } : s,
    );
    expect(pickLeader(ending, 5, now)).toHaveProperty("problem");
    const two = following(3, 8);
    two[2] = status(2, now - 50_000, {
      round: 8,
      leader: 3,
      leading: { round: 7, phase: "imposing" },
    }); // stale leadership of round 7
    expect(pickLeader(two, 5, now)).toEqual({ rank: 3, round: 8 });
  });

  it("ignores ranks with no status (not running)", () => {
    const some: (StatusSnapshot | null)[] = following(3, 8);
    some[0] = null;
    some[4] = null;
    expect(pickLeader(some, 5, now)).toEqual({ rank: 3, round: 8 });
  });
});

describe("the killed leader", () => {
  const leading = (round: number, phase: string) =>
    status(3, 0, { round, leader: 3, leading: { round, phase } });

  it("was leading the picked round at the kill, reading or imposing, from its last status", () => {
    expect(confirmWasLeading(3, 8, leading(8, "imposing"))).toEqual([]);
    expect(confirmWasLeading(3, 8, leading(8, "reading"))).toEqual([]);
    expect(confirmWasLeading(3, 8, status(3, 0, { round: 8, leader: 3 }))[0]).toMatch(
      /rank 3 was not leading when killed/,
    );
    expect(confirmWasLeading(3, 8, null)[0]).toMatch(/left no status/);
  });

  it("fails when it led another round than the one picked, or was handing its round on", () => {
    expect(confirmWasLeading(3, 8, leading(13, "imposing"))[0]).toMatch(
      /rank 3 was leading round 13 when killed, not round 8/,
    );
    expect(confirmWasLeading(3, 8, leading(3, "imposing"))[0]).toMatch(/not round 8/);
    expect(confirmWasLeading(3, 8, leading(8, "ending"))[0]).toMatch(/phase "ending" of round 8/);
  });

  describe("another rank took over while it was down", () => {
    const kill = 2 * S;
    const back = 4.5 * S;
    const stuck = () =>
      [0, 1, 2, 3, 4].map((r) => every100ms(r, 0, 6 * S, { round: 8, leader: 3 }));
    /** Rank 4 in round 9 from 2.3 s, leading it in this phase. */
    const rank4Leads = (phase: string) => {
      const h = stuck();
      h[4] = every100ms(4, 0, 6 * S).map((s) =>
        s.atUs >= 2.3 * S ? { ...s, round: 9, leader: 4, leading: { round: 9, phase } } : s,
      );
      return h;
    };
    /** Everyone generates one instance every 10 ms and commits it 20 ms later (rank 3 only until the kill). */
    const working = (commitFrom = 0) =>
      [0, 1, 2, 3, 4].map((r) => {
        const gen = Array.from({ length: 600 }, (_, i) => ({
          id: `${r}-${i}`,
          at: i * 10_000,
        })).filter((g) => r !== 3 || g.at < kill);
        const commits = gen
          .map((g, i) => ({ seq: i, id: g.id, atUs: g.at + 20_000 }))
          .filter((c) => c.atUs >= commitFrom || c.atUs < kill);
        return { commits, generated: new Map(gen.map((g) => [g.id, g.at])) };
      });

    it("passes: a rank imposing a later round, and new work committed", () => {
      expect(confirmTakeover(rank4Leads("imposing"), working(), 3, 8, kill, back)).toEqual([]);
      expect(confirmTakeover(rank4Leads("ending"), working(), 3, 8, kill, back)).toEqual([]);
    });

    it("fails when no rank leads a later round, or one only bumped it (reading, no majority)", () => {
      expect(confirmTakeover(stuck(), working(), 3, 8, kill, back)[0]).toMatch(
        /no other rank got a majority for a round after round 8 while rank 3 was down$/,
      );
      expect(confirmTakeover(rank4Leads("reading"), working(), 3, 8, kill, back)[0]).toMatch(
        /rank 4 only tried: phase "reading"/,
      );
    });

    it("fails when the later round came only after the restart, or was the killed rank's own", () => {
      expect(confirmTakeover(rank4Leads("imposing"), working(), 3, 8, kill, 2.2 * S)[0]).toMatch(
        /no other rank got a majority/,
      );
      const selfOnly = [0, 1, 2, 3, 4].map((r) =>
        every100ms(
          r,
          0,
          6 * S,
          r === 3 ? { round: 13, leader: 3, leading: { round: 13, phase: "imposing" } } : {},
        ),
      );
      expect(confirmTakeover(selfOnly, working(), 3, 8, kill, back)).toHaveLength(1);
    });

    it("fails when nothing generated after the kill was committed while it was down", () => {
      const problems = confirmTakeover(rank4Leads("imposing"), working(back), 3, 8, kill, back);
      expect(problems).toEqual([
        "the others committed no instance generated after rank 3 was killed while it was down",
      ]);
      // work generated before the kill and committed after it (the dead leader's last batches) is not new
      const old = working().map((l) => ({
        ...l,
        generated: new Map([...l.generated].map(([id, t]) => [id, Math.min(t, kill)])),
      }));
      expect(confirmTakeover(rank4Leads("imposing"), old, 3, 8, kill, back)).toHaveLength(1);
    });
  });
});
