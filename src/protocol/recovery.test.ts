import { describe, expect, it } from "vitest";
import { commitLine, generateLine } from "./log_lines.js";
import { recoverLog } from "./recovery.js";

describe("recoverLog", () => {
  it("recovers commits in order, the generate counter and own uncommitted instances", () => {
    const text = [
      generateLine("1-0", 0, 10),
      generateLine("1-1", 1, 11),
      commitLine("0-0", 0, 12),
      commitLine("1-0", 1, 13),
      "some other line\n",
      generateLine("1-2", 2, 14),
      "commit Instance[0-\n", // a line cut short by a crash
    ].join("");
    expect(recoverLog(text, 1)).toEqual({
      commits: ["0-0", "1-0"],
      generated: 3,
      uncommitted: ["1-1", "1-2"],
      problems: [],
    });
  });

  it("an empty log is a fresh start", () => {
    expect(recoverLog("", 0)).toEqual({ commits: [], generated: 0, uncommitted: [], problems: [] });
  });

  it("reports commits that do not continue the sequence instead of trusting them", () => {
    const r = recoverLog(commitLine("a", 0, 1) + commitLine("b", 2, 2), 0);
    expect(r.commits).toEqual(["a"]);
    expect(r.problems).toHaveLength(1);
  });
});
