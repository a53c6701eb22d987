import { describe, expect, it } from "vitest";
import { CounterMachine, encodeCounterCommand, type CounterCommand } from "./counter.js";

const text = (s: string) => new TextEncoder().encode(s);
const add = (name: string, delta: number) => encodeCounterCommand({ op: "add", name, delta });
const get = (name: string) => encodeCounterCommand({ op: "get", name });
/** Any error result (typed unknown: expect.any is an any). */
const anError: unknown = { error: expect.any(String) as unknown };

/** Applies the commands at seqs from, from + 1, ... and returns the results. */
function run(machine: CounterMachine, commands: Uint8Array[], from = 0): unknown[] {
  return commands.map((c, i) => machine.apply(from + i, c));
}

const script: Uint8Array[] = [
  add("apples", 3),
  add("pears", -2),
  add("apples", 4),
  get("apples"),
  get("plums"),
  text("mul apples 2"),
  add("__proto__", 1),
  add("zebra", 0),
];

describe("CounterMachine", () => {
  it("add answers the new value, get the value or 0", () => {
    const m = new CounterMachine();
    expect(run(m, script)).toEqual([3, -2, 7, 7, 0, anError, 1, 0]);
  });

  it("encodes the README's text form and refuses what apply could not use", () => {
    expect(new TextDecoder().decode(add("a", -5))).toBe("add a -5");
    expect(new TextDecoder().decode(get("a"))).toBe("get a");
    expect(() => add("two words", 1)).toThrow(/name/);
    expect(() => add("", 1)).toThrow(/name/);
    expect(() => add("a", 1.5)).toThrow(/delta/);
    expect(() => encodeCounterCommand({ op: "add", name: "a", delta: 2 ** 53 })).toThrow(/delta/);
  });

  it("answers bad commands with an error result and leaves the state alone", () => {
    const m = new CounterMachine();
    m.apply(0, add("a", 1));
    const before = m.snapshot();
    const bad = [
      "",
      "add",
      "add a",
      "add a 1 2",
      "add  a 1",
      "add a 1.5",
      "add a 1e3",
      "add a 0x10",
      "add a 99999999999999999999",
      "get",
      "get a b",
      "get a\n",
      "ADD a 1",
      "reset",
    ].map(text);
    bad.push(Uint8Array.from([0x61, 0x64, 0x64, 0x20, 0xff, 0x20, 0x31])); // not UTF-8
    for (const [i, c] of bad.entries()) {
      const result = m.apply(i + 1, c);
      expect(result, new TextDecoder().decode(c)).toEqual(anError);
    }
    expect(m.snapshot()).not.toEqual(before); // the seq moved on...
    expect(m.apply(100, get("a"))).toBe(1); // ...the counters did not
  });

  it("refuses to let a counter pass the safe integers", () => {
    const m = new CounterMachine();
    expect(m.apply(0, add("a", Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(m.apply(1, add("a", 1))).toEqual({ error: "counter a would overflow" });
    expect(m.apply(2, get("a"))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("is deterministic: the same commands give the same snapshot bytes", () => {
    const a = new CounterMachine();
    const b = new CounterMachine();
    expect(run(a, script)).toEqual(run(b, script));
    expect(a.snapshot()).toEqual(b.snapshot());
    // Different orders of creation, same counters: the sorted snapshot must not tell them apart.
    const c = new CounterMachine();
    const d = new CounterMachine();
    run(c, [add("x", 1), add("y", 2)]);
    run(d, [add("y", 2), add("x", 1)]);
    expect(c.snapshot()).toEqual(d.snapshot());
  });

  it("snapshot then restore gives the same state and the same further results", () => {
    const original = new CounterMachine();
    run(original, script);
    const copy = new CounterMachine();
    copy.restore(original.snapshot(), script.length - 1);
    expect(copy.snapshot()).toEqual(original.snapshot());
    const more = [add("apples", 1), get("pears"), get("__proto__"), add("new", 9)];
    expect(run(copy, more, script.length)).toEqual(run(original, more, script.length));
    expect(copy.snapshot()).toEqual(original.snapshot());
  });

  it("restore accepts a seq past the last command applied (no-ops follow it)", () => {
    const m = new CounterMachine();
    m.apply(4, add("a", 1));
    const copy = new CounterMachine();
    copy.restore(m.snapshot(), 9);
    expect(new TextDecoder().decode(copy.snapshot())).toBe('{"seq":9,"counters":{"a":1}}');
  });

  it("restore refuses a bad snapshot with a clear error and keeps its state", () => {
    const m = new CounterMachine();
    m.apply(0, add("kept", 5));
    const bad: [string, Uint8Array][] = [
      ["not UTF-8", Uint8Array.from([0xff, 0xfe])],
      ["not JSON", text('{"seq":0,')],
      ["not an object", text("[1,2]")],
      ["no seq", text('{"counters":{}}')],
      ["seq beyond the one given", text('{"seq":8,"counters":{}}')],
      ["no counters", text('{"seq":0}')],
      ["counters as a list", text('{"seq":0,"counters":[1]}')],
      ["a value that is text", text('{"seq":0,"counters":{"a":"1"}}')],
      ["a fractional value", text('{"seq":0,"counters":{"a":1.5}}')],
      ["a name with a space", text('{"seq":0,"counters":{"a b":1}}')],
    ];
    for (const [why, bytes] of bad) {
      expect(() => m.restore(bytes, 7), why).toThrow(/counter snapshot/);
    }
    expect(m.apply(1, get("kept"))).toBe(5);
  });

  it("round-trips every command kind through the encoder", () => {
    const commands: CounterCommand[] = [
      { op: "add", name: "é", delta: -1 },
      { op: "get", name: "é" },
    ];
    const m = new CounterMachine();
    expect(commands.map((c, i) => m.apply(i, encodeCounterCommand(c)))).toEqual([-1, -1]);
  });
});
