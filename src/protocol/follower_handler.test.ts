// The acceptor's restart from its durable records. Its protocol rules (promise and accept before
// the reply, nacks, floors, the silence timeout) are transcript scripts: testdata/follower_*.txt.
import { describe, expect, it } from "vitest";
import { FollowerHandler } from "./follower_handler.js";

const T = 100_000; // timeout, µs

describe("FollowerHandler (acceptor, rank 2 of 3)", () => {
  it("restores promise, accepted entries and floor from storage records", () => {
    const h = new FollowerHandler(2, 3, T, 0);
    h.restore([
      { r: "promise", round: 9 },
      { r: "accept", round: 9, seq: 0, ids: ["a", "b"] },
      { r: "floor", seq: 1 },
    ]);
    expect(h.state()).toEqual({ promised: 9, floor: 1, entries: [{ seq: 1, round: 9, id: "b" }] });
  });
});
