import { describe, expect, it } from "vitest";
import {
  commitLine,
  eachLogLine,
  generateLine,
  parseLogLine,
  parseLogLines,
  type LogLine,
} from "./log_lines.js";

describe("log lines", () => {
  it("are the spec's bytes: whole µs, one line each", () => {
    // Pinned literally: checker/ and the original project's scripts read exactly these.
    expect(generateLine("1-0", 0, 9000)).toBe("generate Instance[1-0] in seq 0 at 9000\n");
    expect(commitLine("0-7", 12, 12_345.75)).toBe("commit Instance[0-7] in seq 12 at 12345\n");
  });

  it("parse back to what was written, with or without the trailing newline", () => {
    expect(parseLogLine(generateLine("2-5", 5, 10))).toEqual({
      kind: "generate",
      id: "2-5",
      seq: 5,
      atUs: 10,
    });
    expect(parseLogLine("commit Instance[x y] in seq 3 at 42")).toEqual({
      kind: "commit",
      id: "x y",
      seq: 3,
      atUs: 42,
    });
  });

  it("anything else is not a log line: other output, a line cut short, a malformed field", () => {
    for (const line of [
      "",
      "some other line",
      "commit Instance[0-",
      "INFO commit Instance[x] in seq 0 at 5",
      "commit Instance[a] in seq -1 at 5",
      "commit Instance[a] in seq 1 at 5 ",
      "commit Instance[a]b] in seq 1 at 5",
      "generate Instance[a] in seq 1 at 5\n\n",
    ]) {
      expect(parseLogLine(line), line).toBeNull();
    }
  });

  it("a whole log: the lines of each kind in order, other lines skipped", () => {
    const log =
      "starting\n" +
      generateLine("1-0", 0, 1) +
      commitLine("0-0", 0, 2) +
      commitLine("1-0", 1, 3) +
      "bye\n";
    expect(parseLogLines(log).map((l) => `${l.kind} ${l.id}`)).toEqual([
      "generate 1-0",
      "commit 0-0",
      "commit 1-0",
    ]);
    const seen: Omit<LogLine, "kind">[] = [];
    eachLogLine(log, "commit", (id, seq, atUs) => seen.push({ id, seq, atUs }));
    expect(seen).toEqual([
      { id: "0-0", seq: 0, atUs: 2 },
      { id: "1-0", seq: 1, atUs: 3 },
    ]);
  });

  it("a line cut short by a crash does not swallow the line after it", () => {
    const log = "commit Instance[0-\n" + commitLine("0-5", 5, 100);
    const seen: string[] = [];
    eachLogLine(log, "commit", (id) => seen.push(id));
    expect(seen).toEqual(["0-5"]);
    expect(parseLogLines(log).map((l) => l.id)).toEqual(["0-5"]);
  });

  it("the same scan can run twice and interleaved (no regex state leaks between calls)", () => {
    const log = commitLine("a", 0, 1) + commitLine("b", 1, 2);
    const outer: string[] = [];
    eachLogLine(log, "commit", (id) => {
      const inner: string[] = [];
      eachLogLine(log, "commit", (i) => inner.push(i));
      outer.push(`${id}:${inner.join(",")}`);
    });
    expect(outer).toEqual(["a:a,b", "b:a,b"]);
  });
});
