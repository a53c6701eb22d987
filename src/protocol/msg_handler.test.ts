import { describe, expect, it } from "vitest";
import type { Effect, MsgIn } from "./effects.js";
import type { WireMsg } from "./messages.js";
import { MsgHandler } from "./msg_handler.js";

const net = (msg: WireMsg): MsgIn => ({ kind: "net", msg });

function step(h: MsgHandler, input: MsgIn): Effect[] {
  const out: Effect[] = [];
  h.onInput(input, 0, out);
  return out;
}

describe("MsgHandler (rank 1 of 3, at round 4)", () => {
  const cases: Array<{ name: string; input: MsgIn; round: number; effects: Effect[] }> = [
    {
      name: "read of the current round goes to the follower",
      input: net({ t: "read", from: 1, round: 4, base: 0 }),
      round: 4,
      effects: [{ kind: "toFollower", msg: { kind: "net", msg: { t: "read", from: 1, round: 4, base: 0 } } }],
    },
    {
      name: "a stale impose is answered with a nack carrying the current round",
      input: net({ t: "impose", from: 0, round: 3, seq: 0, ids: ["a"] }),
      round: 4,
      effects: [{ kind: "send", to: 0, msg: { t: "nack", from: 1, round: 4 } }],
    },
    {
      name: "a larger round bumps, announces to leader, follower and consensus, then routes",
      input: net({ t: "impose", from: 2, round: 5, seq: 0, ids: [] }),
      round: 5,
      effects: [
        { kind: "toLeader", msg: { kind: "round", round: 5 } },
        { kind: "toFollower", msg: { kind: "round", round: 5 } },
        { kind: "toConsensus", msg: { kind: "round", round: 5 } },
        { kind: "toFollower", msg: { kind: "net", msg: { t: "impose", from: 2, round: 5, seq: 0, ids: [] } } },
      ],
    },
    {
      name: "an ack for the round this rank leads goes to the leader",
      input: net({ t: "ack", from: 0, round: 4, seq: 0, count: 1, backlog: 0 }),
      round: 4,
      effects: [{ kind: "toLeader", msg: { kind: "net", msg: { t: "ack", from: 0, round: 4, seq: 0, count: 1, backlog: 0 } } }],
    },
    {
      name: "an ack from an older round is dropped",
      input: net({ t: "ack", from: 0, round: 1, seq: 0, count: 1, backlog: 0 }),
      round: 4,
      effects: [],
    },
    {
      name: "end of the current round moves to the next one",
      input: net({ t: "end", from: 1, round: 4, next: 5 }),
      round: 5,
      effects: [
        { kind: "toLeader", msg: { kind: "round", round: 5 } },
        { kind: "toFollower", msg: { kind: "round", round: 5 } },
        { kind: "toConsensus", msg: { kind: "round", round: 5 } },
      ],
    },
    {
      name: "end may skip to the round of a rank with work, but never past one full turn",
      input: net({ t: "end", from: 1, round: 4, next: 99 }),
      round: 7,
      effects: [
        { kind: "toLeader", msg: { kind: "round", round: 7 } },
        { kind: "toFollower", msg: { kind: "round", round: 7 } },
        { kind: "toConsensus", msg: { kind: "round", round: 7 } },
      ],
    },
    {
      name: "end of an older round is ignored",
      input: net({ t: "end", from: 0, round: 3, next: 4 }),
      round: 4,
      effects: [],
    },
    {
      name: "commits go to the consensus handler whatever their sender's round",
      input: net({ t: "commit", from: 0, seq: 3, ids: ["x"] }),
      round: 4,
      effects: [{ kind: "toConsensus", msg: { kind: "net", msg: { t: "commit", from: 0, seq: 3, ids: ["x"] } } }],
    },
    {
      name: "a timeout bump moves on and pings the next leader",
      input: { kind: "bump", round: 4, reason: "timeout", by: "follower" },
      round: 5,
      effects: [
        { kind: "toLeader", msg: { kind: "round", round: 5 } },
        { kind: "toFollower", msg: { kind: "round", round: 5 } },
        { kind: "toConsensus", msg: { kind: "round", round: 5 } },
        { kind: "send", to: 2, msg: { t: "ping", from: 1, round: 5 } },
      ],
    },
    {
      name: "a want of the current round goes to the consensus handler; a stale one is nacked",
      input: { kind: "net", msg: { t: "want", from: 0, round: 3, seq: 0, max: 1 } },
      round: 4,
      effects: [{ kind: "send", to: 0, msg: { t: "nack", from: 1, round: 4 } }],
    },
    {
      name: "an offer for the round this rank leads goes to the leader",
      input: { kind: "net", msg: { t: "offer", from: 2, round: 4, state: { epoch: 1, enq: 2, deq: 0, upTo: -1 } } },
      round: 4,
      effects: [{ kind: "toLeader", msg: { kind: "net", msg: { t: "offer", from: 2, round: 4, state: { epoch: 1, enq: 2, deq: 0, upTo: -1 } } } }],
    },
    {
      name: "a repeated (stale) bump is ignored but the requester is told the current round",
      input: { kind: "bump", round: 2, reason: "timeout", by: "leader" },
      round: 4,
      effects: [{ kind: "toLeader", msg: { kind: "round", round: 4 } }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = new MsgHandler(1, 3, 4);
      expect(step(h, c.input)).toEqual(c.effects);
      expect(h.round).toBe(c.round);
    });
  }
});
