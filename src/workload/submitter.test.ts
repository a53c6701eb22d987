import { describe, expect, it } from "vitest";
import { SimClock } from "../sim/clock.js";
import type { Submitted } from "../rank_types.js";
import { OutcomeUnknownError, RankStoppedError } from "../rank_waiters.js";
import { GenerationSchedule } from "./schedule.js";
import { CommandSubmitter } from "./submitter.js";

/** A rank that keeps every submission until the test settles it. */
class HeldRank {
  readonly held: { cmd: Uint8Array; ok: (s: Submitted) => void; no: (e: Error) => void }[] = [];
  submit(cmd: Uint8Array): Promise<Submitted> {
    return new Promise((ok, no) => this.held.push({ cmd, ok, no }));
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(rate: number, seconds: number, maxInFlight = 4096, payload = 10, seed = 1) {
  const clock = new SimClock(0);
  const schedule = new GenerationSchedule(rate, seconds, 1, 100_000);
  schedule.maybeStart(0, 1, 0);
  const warnings: string[] = [];
  const sub = new CommandSubmitter(
    schedule,
    payload,
    seed,
    clock,
    (l) => warnings.push(l),
    maxInFlight,
  );
  const rank = new HeldRank();
  sub.start(rank);
  const runUntil = (us: number) => {
    while (clock.nextAt() <= us) clock.fireNext();
  };
  return { clock, sub, rank, runUntil, warnings };
}

describe("CommandSubmitter", () => {
  it("submits one command of payload random bytes per scheduled instance, at the schedule's pace", () => {
    const { sub, rank, runUntil } = setup(1000, 1);
    runUntil(10_000);
    expect(rank.held.length).toBe(10);
    runUntil(2_000_000);
    expect(rank.held.length).toBe(1000); // -t 1 at 1000/s: no more after the end
    expect(sub.stats.submitted).toBe(1000);
    expect(rank.held.every((h) => h.cmd.length === 10)).toBe(true);
    expect(new Set(rank.held.map((h) => Buffer.from(h.cmd).toString("hex"))).size).toBe(1000);
    expect(sub.queued).toBe(1000); // none settled yet
  });

  it("draws the same commands from the same seed, others from another", () => {
    const a = setup(1000, 0.01, 4096, 7, 5);
    const b = setup(1000, 0.01, 4096, 7, 5);
    const c = setup(1000, 0.01, 4096, 7, 6);
    for (const s of [a, b, c]) s.runUntil(20_000);
    const hex = (s: typeof a) => s.rank.held.map((h) => Buffer.from(h.cmd).toString("hex"));
    expect(hex(a)).toEqual(hex(b));
    expect(hex(a)).not.toEqual(hex(c));
  });

  it("keeps at most maxInFlight unsettled, owes the rest, counts each wait, and catches up", async () => {
    const { sub, rank, runUntil } = setup(1000, 1, 5);
    runUntil(20_000); // 20 due
    expect(rank.held.length).toBe(5);
    expect(sub.queued).toBe(20);
    expect(sub.stats.waits).toBe(1); // one wait, however long it lasts
    rank.held[0]?.ok({ seq: 3, result: 1 });
    rank.held[1]?.ok({ seq: 9, result: 2 });
    await flush();
    expect(rank.held.length).toBe(7); // each settled one lets the next in
    expect(sub.stats.waits).toBe(1); // still the same wait
    expect(sub.stats).toMatchObject({ resolved: 2, maxResolvedSeq: 9 });
    for (let i = 2; i < 20; i++) {
      rank.held[i]?.ok({ seq: 10 + i, result: i });
      await flush();
    }
    expect(rank.held.length).toBe(20);
    expect(sub.queued).toBe(0);
    runUntil(40_000); // 20 more due, 5 let in: a second wait
    expect(rank.held.length).toBe(25);
    expect(sub.stats.waits).toBe(2);
  });

  it("counts unknown outcomes, ignores a stopped rank, and tells other failures once", async () => {
    const { sub, rank, runUntil, warnings } = setup(1000, 0.004);
    runUntil(10_000);
    expect(rank.held.length).toBe(4);
    rank.held[0]?.no(new OutcomeUnknownError("covered"));
    rank.held[1]?.no(new RankStoppedError("stopped"));
    rank.held[2]?.no(new Error("odd"));
    rank.held[3]?.no(new Error("odd again"));
    await flush();
    expect(sub.stats).toMatchObject({ unknown: 1, failed: 2, resolved: 0 });
    expect(warnings).toEqual(["submit failed: odd"]);
    expect(sub.queued).toBe(0);
  });

  it("stops submitting when stopped", () => {
    const { sub, rank, runUntil } = setup(1000, 1);
    runUntil(5_000);
    sub.stop();
    runUntil(100_000);
    expect(rank.held.length).toBe(5);
  });
});
