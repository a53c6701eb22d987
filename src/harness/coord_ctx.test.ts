import { describe, expect, it } from "vitest";
import { holdsAt, parseLeaseLog } from "./coord_ctx.js";

describe("lease log lines", () => {
  const log = [
    "start 2 100",
    "held 2 7 1000 2000",
    "held 2 7 1250 2250",
    "garbage",
    "ended 2 7 2100",
    "",
  ].join("\n");

  it("reads held and ended lines and skips the rest", () => {
    expect(parseLeaseLog(log)).toEqual([
      { kind: "held", rank: 2, term: 7, fromUs: 1000, untilUs: 2000 },
      { kind: "held", rank: 2, term: 7, fromUs: 1250, untilUs: 2250 },
      { kind: "ended", rank: 2, term: 7, atUs: 2100 },
    ]);
  });

  it("says a rank holds the lease only inside its last held line, not after an end", () => {
    const lines = parseLeaseLog(log);
    expect(holdsAt(lines.slice(0, 2), 2200)).toBe(true);
    expect(holdsAt(lines.slice(0, 2), 2250)).toBe(false);
    expect(holdsAt(lines.slice(0, 2), 1200)).toBe(false);
    expect(holdsAt(lines, 2200)).toBe(false);
    expect(holdsAt([], 2200)).toBe(false);
  });
});
