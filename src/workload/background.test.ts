import { describe, expect, it } from "vitest";
import {
  BackgroundRun,
  NOTE_CONVERGED,
  NOTE_GEN_DONE,
  type BackgroundConfig,
} from "./background.js";
import { GenerationSchedule } from "./schedule.js";
import type { PeerProgress, RankProgress } from "../rank_types.js";

const T = 100_000;
const S = 1_000_000;
const cfg = (over: Partial<BackgroundConfig> = {}): BackgroundConfig => ({
  me: 1,
  n: 3,
  timeoutUs: T,
  rate: 0,
  genSeconds: 10,
  graceUs: 5 * S,
  createdUs: 0,
  ...over,
});
const peer = (note = 0, commitIndex = 0): PeerProgress => ({
  commitIndex,
  backlog: 0,
  generated: 0,
  note,
});
/** Rank 1's view: its own slot is unused. */
const view = (
  peers: (PeerProgress | undefined)[],
  over: Partial<RankProgress> = {},
): RankProgress => ({ commitIndex: 0, backlog: 0, hasGap: false, generated: 0, peers, ...over });

describe("GenerationSchedule", () => {
  it("starts once every rank is heard from, and has rate instances due per second from then", () => {
    const gen = new GenerationSchedule(1000, 10, 3, T);
    gen.maybeStart(5000, 2, 0);
    expect(gen.started).toBe(false); // a majority only: wait
    gen.maybeStart(6000, 3, 7);
    expect(gen.info()).toEqual({
      startUs: 6000,
      endUs: 6000 + 10 * S,
      ratePerS: 1000,
      firstSeq: 7,
    });
    expect(gen.takeDue(9000)).toBe(3);
    expect(gen.takeDue(9000)).toBe(0); // the next wake-up is at least a tick away
  });

  it("with only a majority up, starts after 10 timeouts", () => {
    const gen = new GenerationSchedule(1000, 10, 3, T);
    gen.maybeStart(0, 2, 0);
    gen.maybeStart(10 * T - 1, 2, 0);
    expect(gen.started).toBe(false);
    gen.maybeStart(10 * T, 2, 0);
    expect(gen.takeDue(10 * T + 2000)).toBe(2);
  });

  it("stops at the end of -t", () => {
    const gen = new GenerationSchedule(1000, 0.002, 1, T);
    gen.maybeStart(0, 1, 0);
    expect(gen.takeDue(9000)).toBe(2);
    expect(gen.nextUs).toBe(Infinity);
  });

  it("an urgent call takes what fell due between ticks", () => {
    const gen = new GenerationSchedule(40_000, 10, 1, T);
    gen.maybeStart(0, 1, 0);
    expect(gen.takeDue(10_000)).toBe(400);
    expect(gen.takeDue(10_500)).toBe(0); // before the next tick
    expect(gen.takeDue(10_500, true)).toBe(20);
  });
});

describe("BackgroundRun (rank 1 of 3)", () => {
  it("reports the start once, and notes the end of generation", () => {
    const run = new BackgroundRun(cfg({ rate: 100, genSeconds: 1 }));
    expect(run.step(0, view([undefined, undefined, undefined])).startedNow).toBe(false);
    const started = run.step(10, view([peer(), undefined, peer()]));
    expect(started).toEqual({ note: 0, startedNow: true, finished: null });
    expect(run.step(20, view([peer(), undefined, peer()])).startedNow).toBe(false);
    expect(run.step(10 + S, view([peer(), undefined, peer()], { backlog: 1 })).note).toBe(
      NOTE_GEN_DONE,
    );
  });

  it("finishes (converged) soon once every rank says it sees the same; at most 20 status rounds otherwise", () => {
    const run = new BackgroundRun(cfg({ genSeconds: 1 }));
    run.step(0, view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)]));
    const first = run.step(S, view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)]));
    expect(first).toEqual({
      note: NOTE_GEN_DONE | NOTE_CONVERGED,
      startedNow: false,
      finished: null,
    }); // told at once
    expect(
      run.step(S + T, view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)])).finished,
    ).toBeNull(); // peers have not said so yet
    const done = NOTE_GEN_DONE | NOTE_CONVERGED;
    expect(run.step(S + T, view([peer(done), undefined, peer(done)])).finished).toEqual({
      converged: true,
    });
    expect(run.step(S + 2 * T, view([peer(done), undefined, peer(done)])).finished).toBeNull(); // said once

    const lonely = new BackgroundRun(cfg({ genSeconds: 1 }));
    const quiet = view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)]);
    lonely.step(0, quiet);
    lonely.step(S, quiet);
    expect(lonely.step(S + 10 * T - 1, quiet).finished).toBeNull();
    expect(lonely.step(S + 10 * T, quiet).finished).toEqual({ converged: true }); // 20 status rounds of T/2
  });

  it("is not converged while a peer still generates, lags behind, or this rank has a gap", () => {
    const run = new BackgroundRun(cfg({ genSeconds: 1, graceUs: 100 * S }));
    run.step(0, view([peer(), undefined, peer()]));
    const cases = [
      view([peer(0), undefined, peer(NOTE_GEN_DONE)]),
      view([peer(NOTE_GEN_DONE, 3), undefined, peer(NOTE_GEN_DONE)]),
      view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)], { hasGap: true }),
    ];
    for (const c of cases) expect(run.step(2 * S, c).note & NOTE_CONVERGED).toBe(0);
  });

  it("is not done generating, nor converged, while the workload still has commands queued", () => {
    const run = new BackgroundRun(cfg({ genSeconds: 1 }));
    const done = view([peer(NOTE_GEN_DONE), undefined, peer(NOTE_GEN_DONE)]);
    run.step(0, done);
    expect(run.step(2 * S, done, 3)).toEqual({ note: 0, startedNow: false, finished: null });
    expect(run.step(2 * S + 10 * T, done, 1).finished).toBeNull(); // no lingering counted
    expect(run.step(2 * S + 10 * T, done, 0).note).toBe(NOTE_GEN_DONE | NOTE_CONVERGED);
  });

  it("finishes unconverged when the grace period ends with a peer missing", () => {
    const run = new BackgroundRun(cfg({ genSeconds: 1, graceUs: S }));
    run.step(0, view([peer(), undefined, undefined]));
    run.step(10 * T, view([peer(), undefined, undefined])); // a majority for 10 timeouts: generation runs from here to 2 s
    expect(run.step(3 * S - 1, view([peer(), undefined, undefined])).finished).toBeNull();
    expect(run.step(3 * S, view([peer(), undefined, undefined])).finished).toEqual({
      converged: false,
    });
  });

  it("gives the run up if no majority shows up within the grace period", () => {
    const run = new BackgroundRun(cfg({ rate: 100, graceUs: S }));
    expect(run.step(S - 1, view([undefined, undefined, undefined])).finished).toBeNull();
    expect(run.step(S, view([undefined, undefined, undefined])).finished).toEqual({
      converged: false,
    });
  });
});
