import { describe, expect, it } from "vitest";
import { recoverLog } from "./recovery.js";

describe("recoverLog", () => {
  it("recovers commits in order, the generate counter and own uncommitted instances", () => {
    const text = [
      "generate Instance[1-0] in seq 0 at 10",
      "generate Instance[1-1] in seq 1 at 11",
      "commit Instance[0-0] in seq 0 at 12",
      "commit Instance[1-0] in seq 1 at 13",
      "some other line",
      "generate Instance[1-2] in seq 2 at 14",
      "commit Instance[0-", // a line cut short by a crash
      "",
    ].join("\n");
    expect(recoverLog(text, 1)).toEqual({ commits: ["0-0", "1-0"], generated: 3, uncommitted: ["1-1", "1-2"], problems: [] });
  });

  it("an empty log is a fresh start", () => {
    expect(recoverLog("", 0)).toEqual({ commits: [], generated: 0, uncommitted: [], problems: [] });
  });

  it("reports commits that do not continue the sequence instead of trusting them", () => {
    const r = recoverLog("commit Instance[a] in seq 0 at 1\ncommit Instance[b] in seq 2 at 2\n", 0);
    expect(r.commits).toEqual(["a"]);
    expect(r.problems).toHaveLength(1);
  });
});
