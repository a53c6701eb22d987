import { describe, expect, it } from "vitest";
import {
  childName,
  compareNameKeys,
  compareNames,
  nameKey,
  parseName,
  ROOT,
  ROOT_KEY,
  type ServerName,
} from "./names.js";

const a = childName(3, ROOT);
const b = childName(3, childName(1, ROOT));
const c = childName(7, a);

describe("server names", () => {
  it("canonical keys and parsing back", () => {
    expect(nameKey(ROOT)).toBe("R");
    expect(nameKey(a)).toBe("<3,R>");
    expect(nameKey(c)).toBe("<7,<3,R>>");
    for (const n of [ROOT, a, b, c]) expect(parseName(nameKey(n))).toEqual(n);
  });

  it("refuses junk", () => {
    for (const bad of [
      "",
      "r",
      "RR",
      "<3,R",
      "<03,R>",
      "<-1,R>",
      "<3 ,R>",
      "<3,R>>",
      "<,R>",
      "<3>",
      "<99999999999999999,R>",
    ]) {
      expect(parseName(bad), bad).toBeNull();
    }
    expect(parseName("<".repeat(20_000) + "R")).toBeNull();
  });

  it("a total order: root first, then stamp, then creator", () => {
    const names: ServerName[] = [c, b, a, ROOT, childName(1, ROOT)];
    const sorted = [...names].sort(compareNames).map(nameKey);
    expect(sorted).toEqual(["R", "<1,R>", "<3,R>", "<3,<1,R>>", "<7,<3,R>>"]);
    for (const x of names) {
      expect(compareNames(x, x)).toBe(0);
      for (const y of names)
        expect(Math.sign(compareNames(x, y)) + Math.sign(compareNames(y, x))).toBe(0);
    }
    expect(compareNameKeys(ROOT_KEY, "<3,R>")).toBeLessThan(0);
    expect(() => compareNameKeys("junk", "R")).toThrow(/not a server name/);
  });
});
