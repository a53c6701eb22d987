import { describe, expect, it } from "vitest";
import { InvariantError, StepTime } from "./assert.js";
import { Deadline, earliest } from "./deadline.js";

describe("Deadline", () => {
  it("fires once its time is reached, then is disarmed until armed again", () => {
    const d = new Deadline("heartbeat");
    expect(d.armed).toBe(false);
    expect(d.fired(1_000)).toBe(false);
    d.arm(500);
    expect(d.fired(499)).toBe(false);
    expect(d.fired(500)).toBe(true);
    expect(d.armed).toBe(false);
    expect(d.fired(600)).toBe(false);
  });

  it("armIfIdle keeps the earlier time; disarm forgets it", () => {
    const d = new Deadline("fetch");
    d.armIfIdle(100);
    d.armIfIdle(50);
    expect(d.at).toBe(100);
    d.disarm();
    expect(d.at).toBe(Infinity);
  });

  it("the wake-up time is the earliest armed deadline", () => {
    const a = new Deadline("a");
    const b = new Deadline("b");
    const c = new Deadline("c");
    expect(earliest([a, b, c])).toBe(Infinity);
    a.arm(300);
    b.arm(200);
    expect(earliest([a, b, c])).toBe(200);
  });

  it("a deadline re-armed into the past keeps firing at one instant: an invariant, not a spin", () => {
    const d = new Deadline("offer-again");
    const spin = () => {
      for (let i = 0; i < 100; i++) {
        d.arm(0); // a bug: always due
        d.fired(1_000);
      }
    };
    expect(spin).toThrow(
      new InvariantError("deadline offer-again fired 65 times at 1000 µs: the loop would spin"),
    );
  });

  it("firing at later instants is fine however often", () => {
    const d = new Deadline("tick");
    for (let t = 0; t < 1_000; t++) {
      d.arm(t);
      expect(d.fired(t)).toBe(true);
    }
  });
});

describe("StepTime", () => {
  it("refuses a step earlier than the last one, accepts equal and later ones", () => {
    const time = new StepTime("rank 0: leader");
    time.enter(10);
    time.enter(10);
    time.enter(11);
    expect(() => time.enter(9)).toThrow("rank 0: leader: step at 9 µs after one at 11 µs");
  });
});
