// Runs every transcript script in testdata/ (one test per file), and tests the runner itself: a
// malformed script must fail with its file and line, and the update mode must fill outputs in.
// YASP_UPDATE_TRANSCRIPTS=1 npx vitest run src/protocol/transcript.test.ts rewrites the scripts'
// expected outputs with what the processors produce now (review the diff before committing it).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { WireMsg } from "./messages.js";
import { runTranscript, ScriptError } from "./transcript.js";
import {
  formatEffect,
  formatInput,
  formatWire,
  parseInput,
  parseWire,
} from "./transcript_syntax.js";

const DIR = fileURLToPath(new URL("./testdata/", import.meta.url));
const UPDATE = process.env.YASP_UPDATE_TRANSCRIPTS === "1";
const scripts = readdirSync(DIR)
  .filter((f) => f.endsWith(".txt"))
  .sort();

describe("transcripts (src/protocol/testdata)", () => {
  it("has scripts for every processor", () => {
    const setups = scripts.map(
      (f) =>
        readFileSync(DIR + f, "utf8")
          .split("\n")
          .find((l) => l.trim() !== "" && !l.startsWith("#"))
          ?.split(" ")[0],
    );
    expect(new Set(setups)).toEqual(new Set(["msg", "follower", "leader", "consensus"]));
  });

  for (const name of scripts) {
    it(name.replace(/\.txt$/, ""), () => {
      const text = readFileSync(DIR + name, "utf8");
      const run = runTranscript(text, `src/protocol/testdata/${name}`, UPDATE);
      if (UPDATE) {
        if (run.actual !== text) writeFileSync(DIR + name, run.actual);
        return;
      }
      const hint = `${name}: the processor's output differs from the script (YASP_UPDATE_TRANSCRIPTS=1 npx vitest run src/protocol/transcript.test.ts accepts it)`;
      expect(run.actual, hint).toBe(run.expected);
    });
  }
});

const FOLLOWER = "follower me=2 n=3 timeout=100000\n\n";
const run = (body: string, fill = false) => runTranscript(FOLLOWER + body, "t.txt", fill);

describe("the transcript runner", () => {
  it("prints each step's effects and compares them with the script", () => {
    const script = "deliver read{from:1 round:4 base:0}\nwake\n----\nwrong\n";
    const { expected, actual } = run(script);
    expect(expected).toBe(FOLLOWER + script);
    expect(actual).toBe(
      FOLLOWER +
        "deliver read{from:1 round:4 base:0}\nwake\n----\n" +
        "persist promise round=4\nsend 1 gather{from:2 round:4 floor:0 runs:[] backlog:0}\nwake 100000\n",
    );
  });

  it("in update mode adds a missing separator and fills every output in", () => {
    const { actual } = run("# a comment stays\nround 4\n\ntick 100000\n", true);
    expect(actual).toBe(
      FOLLOWER +
        "# a comment stays\nround 4\n----\n(no effects)\n\ntick 100000\n----\ntoMsg bump round=4 reason=timeout by=follower\n",
    );
  });

  const malformed: Array<[string, string, RegExp]> = [
    [
      "an unknown command",
      "delivr read{from:1 round:4 base:0}\n----\n",
      /^t\.txt:3: unknown command "delivr": this processor takes deliver read\|impose\|readIndex, round, local/,
    ],
    ["a missing separator", "round 4\n\nround 5\n----\n", /^t\.txt:3: a block needs a "----" line/],
    [
      "a message this processor is never routed",
      "deliver ack{from:0 round:1 seq:0 count:1 backlog:0}\n----\n",
      /^t\.txt:3: this processor is delivered read\|impose\|readIndex, not ack/,
    ],
    [
      "a malformed message",
      "deliver read{from:1 round:x base:0}\n----\n",
      /^t\.txt:3: round: expected an integer, got "x"/,
    ],
    [
      "a message that fails validation",
      "deliver read{from:1 round:4}\n----\n",
      /^t\.txt:3: not a valid message \(base: /,
    ],
    [
      "time going back",
      "at 500\nround 4\n----\n\nat 400\nround 5\n----\n",
      /^t\.txt:7: time goes back from 500 to 400 µs/,
    ],
    [
      "an input after a query",
      "wake\nround 4\n----\n",
      /^t\.txt:4: queries \(wake, state, stats\) end a block/,
    ],
  ];
  for (const [what, body, error] of malformed) {
    it(`names the file and line of ${what}`, () => {
      expect(() => run(body)).toThrow(ScriptError);
      expect(() => run(body)).toThrow(error);
    });
  }

  it("names the setup line when it is wrong", () => {
    expect(() => runTranscript("# c\nfollower me=2 n=3\n", "s.txt")).toThrow(
      /^s\.txt:2: the setup line needs timeout=/,
    );
    expect(() => runTranscript("raft me=2\n", "s.txt")).toThrow(
      /^s\.txt:1: the first line names the processor: one of msg, follower, leader, consensus/,
    );
    expect(() => runTranscript("msg me=2 n=3 colour=red\n", "s.txt")).toThrow(
      /^s\.txt:1: unknown key "colour"/,
    );
    expect(() => runTranscript("msg me=2 n=3\nround 4\n----\n", "s.txt")).toThrow(
      /^s\.txt:2: the setup line stands alone/,
    );
  });
});

describe("the compact syntax", () => {
  const samples: WireMsg[] = [
    {
      t: "gather",
      from: 0,
      round: 6,
      floor: 2,
      runs: [
        [2, 5, ["a", "b"]],
        [7, 6, ["odd id", "a,b"]],
      ],
      backlog: 3,
    },
    {
      t: "grant",
      from: 1,
      round: 4,
      seq: 0,
      ids: ["1-0"],
      state: { epoch: 0, enq: 2, deq: 2, upTo: -1 },
    },
    { t: "status", from: 2, commitIndex: 5, backlog: 0, generated: 5, note: 1 },
  ];
  it("reads back every message it prints, ids with odd characters quoted", () => {
    for (const msg of samples) expect(parseWire(formatWire(msg))).toEqual(msg);
    expect(formatWire(samples[0] as WireMsg)).toBe(
      'gather{from:0 round:6 floor:2 runs:[[2,5,[a,b]],[7,6,["odd id","a,b"]]] backlog:3}',
    );
  });

  it("prints a processor input the way a script writes it", () => {
    for (const line of [
      "round 4",
      "local commit=5 backlog=0",
      "bump round=4 reason=giveup by=leader",
      "propose 3",
      "note 1",
      "deliver ping{from:1 round:2}",
    ]) {
      const [verb, ...rest] = line.split(" ");
      const input = parseInput(verb as string, rest.join(" "));
      expect(input && formatInput(input)).toBe(line);
    }
    expect(formatEffect({ kind: "persist", record: { r: "bind", seq: 0, ids: ["1-0"] } })).toBe(
      "persist bind seq=0 ids=[1-0]",
    );
  });
});
