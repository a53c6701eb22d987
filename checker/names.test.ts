import { describe, expect, it } from "vitest";
import { InstanceNames } from "./names.js";

describe("InstanceNames", () => {
  it("numbers distinct ids densely and finds them again through every growth", () => {
    const names = new InstanceNames();
    // Enough ids to grow the arena, the offsets and the slot table many times over.
    const ids = Array.from({ length: 200_000 }, (_, i) => `${i % 5}-${Math.floor(i / 5)}`);
    const first = ids.map((id) => names.intern(id));
    expect(first).toEqual(ids.map((_, i) => i));
    const again = ids.map((id) => names.intern(id));
    expect(again).toEqual(first);
    expect(names.size).toBe(ids.length);
    expect(names.nameOf(123_456)).toBe(ids[123_456]);
  });

  it.each([
    ["", "x"],
    ["ab", "abc"],
    ["é", "e"],
    ["1-2", "1-20"],
    ["a\u0000", "a"],
  ])("tells %j from %j and round-trips both", (a, b) => {
    const names = new InstanceNames();
    const idA = names.intern(a);
    const idB = names.intern(b);
    expect(idA).not.toBe(idB);
    expect([names.nameOf(idA), names.nameOf(idB)]).toEqual([a, b]);
  });

  it("uses the seq hint only when the bytes match", () => {
    const names = new InstanceNames();
    const bytes = (text: string) => Buffer.from(`[${text}]`);
    const a = names.internBytes(bytes("a"), 1, 2, 0);
    // Another rank forked: a different id at the same seq must not take the hint.
    const b = names.internBytes(bytes("b"), 1, 2, 0);
    expect(b).not.toBe(a);
    expect(names.internBytes(bytes("a"), 1, 2, 0)).toBe(a);
    expect(names.internBytes(bytes("b"), 1, 2, 7)).toBe(b);
    expect(names.size).toBe(2);
  });

  it("gives a placeholder for an unknown number", () => {
    expect(new InstanceNames().nameOf(3)).toBe("#3");
  });
});
