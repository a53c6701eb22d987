import { describe, expect, it } from "vitest";
import { firstDiff } from "../bayou/cli/check.js";
import { runScript } from "./bayou_inproc.js";

const run = (...lines: string[]) => {
  const notes: string[] = [];
  const out = runScript(lines.join("\n"), (m) => notes.push(m));
  return { out, notes };
};

describe("BayouInproc", () => {
  it("prints the spec's two examples", () => {
    expect(
      run(
        "joinServer 0",
        "joinServer 1",
        "joinClient 2 1",
        "put 2 song1 url1",
        "stabilize",
        "printLog 0",
        "get 2 song1",
      ).out,
    ).toEqual(["PUT:(song1, url1):TRUE", "song1:url1"]);
    const ex2 = run(
      ...["joinServer 0", "joinServer 1", "breakConnection 0 1", "joinClient 2 0", "put 2 k v"],
      ...["breakConnection 2 0", "restoreConnection 2 1", "get 2 k", "delete 2 k"],
      ...["restoreConnection 0 1", "stabilize", "get 2 k", "printLog 1"],
    );
    expect(ex2.out).toEqual(["k:ERR_DEP", "k:v", "PUT:(k, v):TRUE"]);
    expect(ex2.notes).toEqual(["delete 2 k: dropped by 1"]);
  });

  it("skips the commands of a client cut from its server, and resumes after restore", () => {
    const r = run(
      ...["joinServer 0", "joinClient 1 0", "put 1 a 1", "breakConnection 1 0"],
      ...["put 1 b 2", "get 1 a", "restoreConnection 0 1", "get 1 a", "printLog 0"],
    );
    expect(r.out).toEqual(["a:1", "PUT:(a, 1):TRUE"]);
    expect(r.notes.filter((n) => n.includes("cannot reach"))).toHaveLength(2);
  });

  it("does not propagate while paused, even on stabilize", () => {
    const r = run(
      ...["joinServer 0", "joinServer 1", "joinClient 2 1", "pause", "put 2 a 1"],
      ...["stabilize", "printLog 0", "start", "stabilize", "printLog 0"],
    );
    expect(r.out).toEqual(["PUT:(a, 1):TRUE"]);
  });

  it("ignores a retirement with no linked server, and commands naming retired ids", () => {
    const r = run(
      ...["joinServer 0", "joinServer 1", "breakConnection 0 1", "retireServer 1", "printLog 1"],
      ...["restoreConnection 0 1", "retireServer 1", "printLog 1", "joinServer 1", "printLog 1"],
    );
    expect(r.out).toEqual([]);
    expect(r.notes).toContain("retireServer 1: no linked server to hand off to");
    expect(r.notes).toContain("joinServer: id 1 is taken");
  });

  it("reports the first differing line", () => {
    expect(firstDiff(["a", "b"], ["a", "b"])).toBeNull();
    expect(firstDiff(["a", "b"], ["a", "c"])).toBe('line 2: expected "b", got "c"');
    expect(firstDiff(["a"], ["a", "x"])).toBe('line 2: expected (end), got "x"');
  });
});
