import { describe, expect, it } from "vitest";
import { VersionVector } from "./vectors.js";

const vv = (o: Record<string, number>) => new VersionVector(Object.entries(o));

describe("version vectors", () => {
  it("get, set, advance never lowers", () => {
    const v = vv({ R: 2 });
    expect(v.get("R")).toBe(2);
    expect(v.get("<1,R>")).toBe(0);
    expect(v.get("<1,R>", () => -Infinity)).toBe(-Infinity);
    v.advance("R", 1);
    expect(v.get("R")).toBe(2);
    v.advance("R", 5);
    expect(v.get("R")).toBe(5);
  });

  it("merge is the entry-wise maximum", () => {
    const m = vv({ R: 2, x: 1 }).merge(vv({ R: 1, y: 4 }));
    expect(m.toString()).toBe("{R:2 x:1 y:4}");
  });

  it("dominates and compare", () => {
    expect(vv({ R: 2, x: 1 }).dominates(vv({ R: 2 }))).toBe(true);
    expect(vv({ R: 2 }).dominates(vv({ R: 2, x: 1 }))).toBe(false);
    expect(vv({ R: 2 }).compare(vv({ R: 2 }))).toBe("equal");
    expect(vv({ R: 3 }).compare(vv({ R: 2 }))).toBe("after");
    expect(vv({ R: 1 }).compare(vv({ R: 2 }))).toBe("before");
    expect(vv({ R: 1, x: 2 }).compare(vv({ R: 2 }))).toBe("concurrent");
    // A missing entry resolved as "retired, all seen" dominates anything.
    expect(vv({ R: 2 }).dominates(vv({ x: 9 }), () => Infinity)).toBe(true);
  });

  it("clone is independent", () => {
    const v = vv({ R: 1 });
    const w = v.clone();
    w.set("R", 9);
    expect(v.get("R")).toBe(1);
  });
});
