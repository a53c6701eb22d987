import { describe, expect, it } from "vitest";
import { parseLogSet, rankIdFromFileName } from "./load.js";
import { InstanceNames } from "./names.js";
import { LogInputError, parseRankLog } from "./parse.js";

// The spec's definitions; the byte-level parser must agree with them exactly.
const GENERATE_REGEX = /^generate Instance\[(.*?)\] in seq (\d+) at (\d+)$/;
const COMMIT_REGEX = /^commit Instance\[(.*?)\] in seq (\d+) at (\d+)$/;

interface Record {
  kind: "generate" | "commit";
  id: string;
  seq: number;
  time: number;
}

function byRegex(lines: readonly string[]): Record[] {
  const records: Record[] = [];
  for (const line of lines) {
    for (const [kind, regex] of [
      ["generate", GENERATE_REGEX],
      ["commit", COMMIT_REGEX],
    ] as const) {
      const found = regex.exec(line);
      if (found)
        records.push({ kind, id: found[1] ?? "", seq: Number(found[2]), time: Number(found[3]) });
    }
  }
  return records;
}

function byParser(text: string): Record[] {
  const names = new InstanceNames();
  const log = parseRankLog(Buffer.from(text, "utf8"), 0, "rank-0.log", names);
  // Generate lines do not keep their seq (no rule uses it), so compare it as 0 below.
  const generates = log.generateId.map((id, line): Record => ({
    kind: "generate",
    id: names.nameOf(id),
    seq: 0,
    time: log.generateTime[line] ?? -1,
  }));
  const commits = log.commitId.map((id, line): Record => ({
    kind: "commit",
    id: names.nameOf(id),
    seq: log.commitSeq[line] ?? -1,
    time: log.commitTime[line] ?? -1,
  }));
  return [...generates, ...commits];
}

const TRICKY_LINES = [
  "generate Instance[1-0] in seq 0 at 1700000000000000",
  "commit Instance[1-0] in seq 0 at 1700000000001000",
  "commit Instance[] in seq 3 at 9", // empty id: the regex accepts it
  "commit Instance[a] in seq 1 at 2] in seq 3 at 4", // the id runs to the last "] in seq"
  "commit Instance[x] in seq 5 at 6 y] in seq 7 at 8",
  "commit Instance[[nested]] in seq 9 at 10",
  "commit Instance[é ü] in seq 11 at 12", // non-ASCII id
  "commit Instance[sp ace] in seq 007 at 13", // leading zeros are digits
  "commit Instance[a] in seq 1 at 2 ", // trailing space
  " commit Instance[a] in seq 1 at 2", // leading space
  "Commit Instance[a] in seq 1 at 2",
  "commit Instance[a] in seq -1 at 2",
  "commit Instance[a] in seq 1 at",
  "commit Instance[a] in seq  1 at 2",
  "commit Instance[a] in seq at 2",
  "commit Instance[a in seq 1 at 2",
  "commit Instance[a]in seq 1 at 2",
  "commit Instance[a] in seq 1 at 2x",
  "commit Instance[a] in seq 1.5 at 2",
  "commit Instance[a\u2028b] in seq 1 at 2", // "." does not match U+2028
  "commit Instance[a\rb] in seq 1 at 2", // nor "\r"
  "commit Instance[a\u2029b] in seq 1 at 2",
  "commit Instance[a\u2027b] in seq 14 at 15", // a neighbour of U+2028 is fine
  "generate Instance[g] in seq 1 at 2 commit Instance[g] in seq 1 at 2",
  "commit Instance[",
  "c",
  "g",
  "",
  "proposal Instance[a] in seq 1 at 2",
  "generate Instance[2-1] in seq 1 at 1700000000002000",
];

describe("parseRankLog", () => {
  it("finds exactly the lines and fields the spec's regexes find", () => {
    const expected = byRegex(TRICKY_LINES).map((r) =>
      r.kind === "generate" ? { ...r, seq: 0 } : r,
    );
    const sortKey = (r: Record) => `${r.kind}|${r.id}|${r.seq}|${r.time}`;
    const actual = byParser(TRICKY_LINES.join("\n")).map(sortKey).sort();
    expect(actual).toEqual(expected.map(sortKey).sort());
    // Guard against a vacuous comparison: the table really holds both kinds.
    expect(actual.length).toBe(11);
  });

  it("ignores garbage lines interleaved with real ones", () => {
    const text = [
      "[INFO] starting rank 0",
      "generate Instance[a] in seq 0 at 100",
      "debug: commit Instance[a] in seq 0 at 150",
      "commit Instance[a] in seq 0 at 200",
      "commit Instance[b] in seq one at 300",
      "\u0000\u00ff binary junk",
    ].join("\n");
    const names = new InstanceNames();
    const log = parseRankLog(Buffer.from(text), 0, "x", names);
    expect(log.commitSeq).toEqual([0]);
    expect(log.commitTime).toEqual([200]);
    expect(log.generateTime).toEqual([100]);
    expect(names.size).toBe(1);
  });

  it("accepts CRLF line endings and a missing final newline", () => {
    const text =
      "generate Instance[a] in seq 0 at 1\r\ncommit Instance[a] in seq 0 at 2\r\ncommit Instance[b] in seq 1 at 3";
    const names = new InstanceNames();
    const log = parseRankLog(Buffer.from(text), 0, "x", names);
    expect(log.commitSeq).toEqual([0, 1]);
    expect(log.commitId.map((id) => names.nameOf(id))).toEqual(["a", "b"]);
    expect(log.generateId.map((id) => names.nameOf(id))).toEqual(["a"]);
  });

  it("shares instance numbers across ranks", () => {
    const set = parseLogSet([
      { rank: 1, file: "rank-1.log", content: Buffer.from("commit Instance[z] in seq 0 at 5\n") },
      { rank: 0, file: "rank-0.log", content: Buffer.from("generate Instance[z] in seq 0 at 1\n") },
    ]);
    expect(set.logs.map((log) => log.rank)).toEqual([0, 1]);
    expect(set.logs[1]?.commitId[0]).toBe(set.logs[0]?.generateId[0]);
  });

  it.each([
    ["seq", "commit Instance[a] in seq 9007199254740993 at 1\n", /line 1: seq is too large/],
    [
      "timestamp",
      "junk\ncommit Instance[a] in seq 1 at 99999999999999999999\n",
      /line 2: timestamp is too large/,
    ],
  ])("refuses a %s beyond 2^53 instead of rounding it", (_what, text, message) => {
    expect(() => parseRankLog(Buffer.from(text), 0, "f.log", new InstanceNames())).toThrow(message);
  });
});

describe("log sets", () => {
  it.each([
    ["logs/rank-3.log", 7, 3],
    ["rank-12.log", 0, 12],
    ["/a/b/rank-0.log", 4, 0],
    ["node3.log", 2, 2],
    ["rank-1.log.bak", 5, 5],
    ["rank-x.log", 1, 1],
  ])("%s at position %i is rank %i", (file, position, rank) => {
    expect(rankIdFromFileName(file, position)).toBe(rank);
  });

  it("rejects a set of one empty file, and takes an empty file beside others as a rank that committed nothing", () => {
    const inputs = [{ rank: 0, file: "rank-0.log", content: Buffer.alloc(0) }];
    expect(() => parseLogSet(inputs)).toThrow(LogInputError);
    expect(() => parseLogSet(inputs)).toThrow("no generate or commit line in rank-0.log");
    const other = {
      rank: 1,
      file: "rank-1.log",
      content: Buffer.from(
        "generate Instance[a] in seq 0 at 1\ncommit Instance[a] in seq 0 at 2\n",
      ),
    };
    const set = parseLogSet([...inputs, other]);
    expect(set.logs.map((log) => log.commitSeq.length)).toEqual([0, 1]);
  });

  it("rejects two files for the same rank", () => {
    const content = Buffer.from("x\n");
    const inputs = [
      { rank: 2, file: "a/rank-2.log", content },
      { rank: 2, file: "b/rank-2.log", content },
    ];
    expect(() => parseLogSet(inputs)).toThrow("a/rank-2.log and b/rank-2.log are both rank 2");
  });
});

describe("install lines", () => {
  const INSTALL_REGEX = /^install snapshot up to seq (\d+) at (\d+)$/;
  const lines = [
    "install snapshot up to seq 41 at 1700000000000000",
    "install snapshot up to seq 7 at 9\r", // CRLF
    "install snapshot up to seq 5 at",
    "install snapshot up to seq  5 at 9",
    "install snapshot up to seq 5x at 9",
    "install snapshot up to seq 5 at 9 ",
    "install snapshot up to seq at 9",
    " install snapshot up to seq 5 at 9",
    "install snapshot up to seq 12 at 13",
  ];

  it("are read exactly as the regex reads them, in file order, and nothing else is", () => {
    const log = parseRankLog(Buffer.from(lines.join("\n")), 0, "rank-0.log", new InstanceNames());
    const expected = lines.flatMap((l) => {
      const m = INSTALL_REGEX.exec(l.replace(/\r$/, ""));
      return m ? [Number(m[1])] : [];
    });
    expect(expected).toEqual([41, 7, 12]);
    expect(log.installSeq).toEqual(expected);
    expect(log.commitSeq).toEqual([]);
  });

  it("refuse a seq beyond 2^53", () => {
    const text = "install snapshot up to seq 99999999999999999999 at 1";
    expect(() => parseRankLog(Buffer.from(text), 0, "rank-0.log", new InstanceNames())).toThrow(
      LogInputError,
    );
  });
});

describe("rejoin lines", () => {
  const parse = (text: string) =>
    parseRankLog(Buffer.from(text), 0, "rank-0.log", new InstanceNames());
  it("a commit repeated after a rejoin line is relearning, left out; a different one is kept", () => {
    const log = parse(
      [
        "commit Instance[a] in seq 0 at 1",
        "commit Instance[b] in seq 1 at 2",
        "rejoin after a lost disk at 3",
        "commit Instance[a] in seq 0 at 4",
        "commit Instance[x] in seq 1 at 5", // a different value: kept, rule 1 sees it
        "commit Instance[c] in seq 2 at 6",
      ].join("\n"),
    );
    expect(log.rejoins).toBe(1);
    expect(log.relearned).toBe(1);
    expect(log.commitSeq).toEqual([0, 1, 1, 2]);
  });
  it("without a rejoin line a repeated commit stays (the strict rule reports it)", () => {
    const log = parse(
      ["commit Instance[a] in seq 0 at 1", "commit Instance[a] in seq 0 at 2"].join("\n"),
    );
    expect(log.commitSeq).toEqual([0, 0]);
    expect(parse("rejoin after a lost disk at x\n").rejoins).toBe(0);
  });
});
