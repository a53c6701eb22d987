import { describe, expect, it } from "vitest";
import { parseLine, parseScript } from "./script.js";

const cmd = (line: string) => {
  const p = parseLine(line);
  if (p.kind !== "command") throw new Error(`not a command: ${line} (${JSON.stringify(p)})`);
  return p.command;
};

describe("parseLine", () => {
  it("parses every command word", () => {
    expect(cmd("joinServer 0")).toEqual({ kind: "joinServer", id: "0" });
    expect(cmd("retireServer 3")).toEqual({ kind: "retireServer", id: "3" });
    expect(cmd("joinClient 5 1")).toEqual({ kind: "joinClient", client: "5", server: "1" });
    expect(cmd("breakConnection 1 2")).toEqual({ kind: "breakConnection", a: "1", b: "2" });
    expect(cmd("restoreConnection 2 1")).toEqual({ kind: "restoreConnection", a: "2", b: "1" });
    expect(cmd("pause")).toEqual({ kind: "pause" });
    expect(cmd("start")).toEqual({ kind: "start" });
    expect(cmd("stabilize")).toEqual({ kind: "stabilize" });
    expect(cmd("printLog 4")).toEqual({ kind: "printLog", id: "4" });
    expect(cmd("put 2 song1 url1")).toEqual({
      kind: "put",
      client: "2",
      song: "song1",
      url: "url1",
    });
    expect(cmd("get 2 song1")).toEqual({ kind: "get", client: "2", song: "song1" });
    expect(cmd("delete 2 song1")).toEqual({ kind: "delete", client: "2", song: "song1" });
  });

  it("keeps songs and URLs verbatim and tolerates extra blanks and CR", () => {
    expect(cmd("  put\t7   s:1  http://x.org/a?b=c:d \r")).toEqual({
      kind: "put",
      client: "7",
      song: "s:1",
      url: "http://x.org/a?b=c:d",
    });
  });

  it("canonicalizes ids (007 is 7) and keeps 0", () => {
    expect(cmd("joinServer 007")).toEqual({ kind: "joinServer", id: "7" });
    expect(cmd("joinServer 000")).toEqual({ kind: "joinServer", id: "0" });
  });

  it("ignores blank lines, and unknown words with a note (for --verbose)", () => {
    for (const line of ["", "   "]) expect(parseLine(line)).toEqual({ kind: "ignored" });
    for (const line of ["hello world", "frobnicate 2 k v", "JoinServer 1", "# x"]) {
      const p = parseLine(line, 3);
      expect(p.kind).toBe("ignored");
      expect(p.kind === "ignored" && p.note).toMatch(/^line 3: unknown command ".+", ignored$/);
    }
    const long = parseLine("x".repeat(10_000));
    expect(long.kind === "ignored" && long.note?.length).toBeLessThan(80);
  });

  it("gives one-line problems for missing or extra arguments and non-numeric ids", () => {
    const bad = [
      "joinServer",
      "joinServer abc",
      "joinServer -1",
      "joinServer 1.5",
      "joinClient 3",
      "breakConnection 0",
      "restoreConnection 1",
      "retireServer",
      "printLog",
      "put 2",
      "put 2 k",
      "put x k v",
      "get",
      "get 2",
      "delete 2",
      "pause now",
      "put 2 k v w",
    ];
    for (const line of bad) {
      const p = parseLine(line, 9);
      expect(p.kind, line).toBe("problem");
      if (p.kind === "problem") {
        expect(p.problem).toMatch(/^line 9: /);
        expect(p.problem).not.toContain("\n");
      }
    }
    const p = parseLine("put x k v");
    expect(p.kind === "problem" && p.problem).toContain('"x" is not a numeric id');
  });
});

describe("parseScript", () => {
  it("returns the commands in order and the problems with line numbers", () => {
    const { commands, problems } = parseScript(
      "joinServer 0\njoinServer abc\n\nnope\r\njoinClient 2 0\nput 2\nget 2 k\n",
    );
    expect(commands.map((c) => c.kind)).toEqual(["joinServer", "joinClient", "get"]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^line 2: joinServer: <sid> "abc"/);
    expect(problems[1]).toMatch(/^line 6: missing arguments \(usage: put <cid> <song> <url>\)/);
  });
});
