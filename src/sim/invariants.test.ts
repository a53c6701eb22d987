// Invariants are asserted while a run goes: a rank whose own logic breaks one halts, and the
// simulator stops a seed at the step where ranks disagree, naming what broke.
import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import { InvariantError } from "../protocol/assert.js";
import { FollowerHandler } from "../protocol/follower_handler.js";
import type { Effect } from "../protocol/effects.js";
import { Rank } from "../rank.js";
import { DEFAULTS } from "../rank_types.js";
import { SimClock } from "./clock.js";
import { MemoryLogSink } from "./memory_log.js";
import { SimNetwork } from "./network.js";
import { drawPlan } from "./plan.js";
import { runSeed } from "./run_seed.js";
import { SimStorage } from "./storage.js";

/** A follower whose own logic breaks an invariant once time reaches 50 ms. */
class BrokenFollower extends FollowerHandler {
  override onTime(nowUs: number, out: Effect[]): void {
    if (nowUs >= 50_000) throw new InvariantError("test: broken on purpose");
    super.onTime(nowUs, out);
  }
}

describe("asserted invariants", () => {
  it("a rank whose processor breaks an invariant halts, and says why", async () => {
    const clock = new SimClock(0);
    const net = new SimNetwork(clock, new Prng(1), 2);
    const cfg = { ...DEFAULTS, me: 0, n: 2, timeoutMs: 20 };
    const rank = await Rank.create(
      cfg,
      {
        clock,
        transport: net.transport(0),
        storage: new SimStorage(),
        logSink: new MemoryLogSink(),
      },
      { processors: { Follower: BrokenFollower } },
    );
    rank.start();
    let failure: unknown = null;
    rank.failed.catch((e: unknown) => (failure = e));
    const tick = () => new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10_000 && failure === null; i++) {
      await tick();
      if (!clock.fireNext()) break;
    }
    expect(failure).toBeInstanceOf(InvariantError);
    expect(rank.failedWith?.message).toBe("test: broken on purpose");
    const at = clock.nowUs();
    expect(at).toBeGreaterThanOrEqual(50_000);
    expect(at).toBeLessThan(200_000); // it stopped at the step, not at the end of the run
    let stopped = false;
    void rank.stop().then(() => (stopped = true));
    for (let i = 0; i < 1_000 && !stopped; i++) {
      await tick();
      clock.fireNext();
    }
    expect(stopped).toBe(true);
  });

  it("the simulator stops a seed at the step two ranks disagree, and names the seq", async () => {
    // accept-lower-round lets a stale leader's values in: ranks fork. Without the per-step check a
    // fork showed only in the logs at the end of the run.
    let found: string | undefined;
    for (let seed = 1; seed <= 200 && found === undefined; seed++) {
      const r = await runSeed(drawPlan(seed, 5, ["accept-lower-round"]));
      found = r.violations.find((v) => v.startsWith("invariant at "));
    }
    expect(found).toMatch(
      /^invariant at [\d.]+ ms: seq \d+: rank \d committed \S+, another rank committed \S+$/,
    );
  }, 300_000);
});
