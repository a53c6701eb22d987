import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import {
  exptimeRemaining,
  formatOk,
  formatValue,
  formatValueMeta,
  MAX_LINE_BYTES,
  REPLY_DELETED,
  REPLY_ERR_CMD,
  TextParser,
  type TextItem,
} from "./text_protocol.js";

const b = (s: string) => Buffer.from(s, "latin1");

function parse(input: string | Buffer, opts = {}, chunkSize = Infinity): TextItem[] {
  const p = new TextParser(opts);
  const bytes = typeof input === "string" ? b(input) : input;
  for (let i = 0; i < bytes.length; i += Math.min(chunkSize, bytes.length)) {
    p.feed(bytes.subarray(i, i + chunkSize));
  }
  return p.take();
}

/** Items with values as strings and errors without their reasons, for toEqual. */
function simple(items: TextItem[]): unknown[] {
  return items.map((it) => {
    if ("error" in it) return "ERR";
    if ("close" in it) return "CLOSE";
    return "value" in it ? { ...it, value: it.value.toString("latin1") } : it;
  });
}

describe("TextParser", () => {
  it("parses pipelined commands of one chunk, in order", () => {
    const input =
      "set a 0 3\r\nabc\r\nget a\r\ngetm a\r\ncas a 10 7 2\r\nxy\r\ndelete a\r\nset e 5 0\r\n\r\n";
    expect(simple(parse(input))).toEqual([
      { cmd: "set", key: "a", exptime: 0, value: "abc" },
      { cmd: "get", key: "a" },
      { cmd: "getm", key: "a" },
      { cmd: "cas", key: "a", exptime: 10, version: 7, value: "xy" },
      { cmd: "delete", key: "a" },
      { cmd: "set", key: "e", exptime: 5, value: "" },
    ]);
  });

  it("gives the same items fed byte by byte", () => {
    const input = "set k 0 5\r\na\r\nbc\r\ncas k 0 12 1\r\n\n\r\nget k\r\njunk\r\nget  k2 \n";
    const whole = simple(parse(input));
    expect(simple(parse(input, {}, 1))).toEqual(whole);
    expect(simple(parse(input, {}, 3))).toEqual(whole);
    expect(whole).toEqual([
      { cmd: "set", key: "k", exptime: 0, value: "a\r\nbc" },
      { cmd: "cas", key: "k", exptime: 0, version: 12, value: "\n" },
      { cmd: "get", key: "k" },
      "ERR",
      { cmd: "get", key: "k2" },
    ]);
  });

  it("keeps binary values intact, \\r\\n and every byte included", () => {
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const input = Buffer.concat([b("set bin 0 256\r\n"), value, b("\r\nget bin\r\n")]);
    const items = parse(input, {}, 7);
    expect(items[0]).toMatchObject({ cmd: "set", key: "bin" });
    expect((items[0] as { value: Buffer }).value.equals(value)).toBe(true);
    expect(items[1]).toEqual({ cmd: "get", key: "bin" });
  });

  it("numbytes too small: ERR_CMD_ERR, then resynchronises at the next line", () => {
    expect(simple(parse("set k 0 2\r\nabcdef\r\nget k\r\n"))).toEqual([
      "ERR",
      { cmd: "get", key: "k" },
    ]);
    // the trailer's own \n ends the bad line
    expect(simple(parse("set k 0 2\r\nab\nget k\r\n"))).toEqual(["ERR", { cmd: "get", key: "k" }]);
  });

  it("numbytes too large: the next command is taken as value bytes, then resync", () => {
    // The value swallows "ab\r\nget"; then " x\r\n" is no trailer: error, the rest is parsed.
    expect(simple(parse("set k 0 7\r\nab\r\nget x\r\nget y\r\n"))).toEqual([
      "ERR",
      { cmd: "get", key: "y" },
    ]);
  });

  it("refuses a value over the limit before reading it, and skips it unbuffered", () => {
    const p = new TextParser({ maxValueBytes: 10 });
    p.feed(b("set k 0 1000\r\n"));
    expect(simple(p.take())).toEqual(["ERR"]);
    for (let i = 0; i < 100; i++) p.feed(Buffer.alloc(10, 0x0d)); // even \r\n-looking bytes
    expect(p.bufferedBytes).toBe(0);
    p.feed(b("\r\nget k\r\n"));
    expect(simple(p.take())).toEqual([{ cmd: "get", key: "k" }]);
  });

  it("closes on an absurd numbytes (over 16 MiB and 4 x the value limit: 2 GB and more)", () => {
    for (const n of ["16777217", "2147483648", "99999999999999999999999"]) {
      const p = new TextParser();
      p.feed(b(`set k 0 ${n}\r\nget k\r\n`));
      expect(simple(p.take())).toEqual(["CLOSE"]);
      expect(p.closed).toBe(true);
      p.feed(b("get k\r\n"));
      expect(p.take()).toEqual([]);
    }
    // 16 MiB is merely too large: refused, and its bytes skipped
    expect(simple(parse("set k 0 16777216\r\n"))).toEqual(["ERR"]);
  });

  it("takes command names in any case", () => {
    expect(simple(parse("GET k\r\nDelete k\r\nSET k 0 1\r\nx\r\n"))).toEqual([
      { cmd: "get", key: "k" },
      { cmd: "delete", key: "k" },
      { cmd: "set", key: "k", exptime: 0, value: "x" },
    ]);
  });

  it("answers junk, wrong argument counts and bad numbers with one ERR_CMD_ERR each", () => {
    // [line, whether the value after it is skipped by length (its numbytes is readable)]
    const lines: [string, boolean][] = [
      ["hello", false],
      ["", false],
      ["GETX k", false],
      ["get", false],
      ["get a b", false], // a key with a space is two tokens
      ["delete", false],
      ["set k 0", false],
      ["set k 0 1 2", false],
      ["cas k 0 1", false],
      ["set k 0 abc", false],
      ["set k 0 -1", false],
      ["get k\t", false],
      ["get \x01", false],
      ["set k -1 1", true],
      ["set k x 1", true],
      ["set k 4294967296 1", true],
      ["cas k 0 9223372036854775808 1", true], // 2^63: does not fit 63 bits
      ["cas k 0 -3 1", true],
      ["cas k 0 1x 1", true],
      [`set ${"k".repeat(4097)} 0 1`, true],
    ];
    for (const [line, skips] of lines) {
      const input = `${line}\r\n${skips ? "x\r\n" : ""}get ok\r\n`;
      expect(simple(parse(input)), line).toEqual(["ERR", { cmd: "get", key: "ok" }]);
      expect(simple(parse(input, {}, 1)), line).toEqual(["ERR", { cmd: "get", key: "ok" }]);
    }
  });

  it("takes a version up to 2^63 - 1 (beyond 2^53: one no key has)", () => {
    expect(parse("cas k 0 9223372036854775807 0\r\n\r\n")[0]).toMatchObject({
      version: Number.MAX_SAFE_INTEGER,
    });
    expect(parse("cas k 0 9007199254740991 0\r\n\r\n")[0]).toMatchObject({
      version: Number.MAX_SAFE_INTEGER,
    });
  });

  it("keys: UTF-8 tokens up to the limit", () => {
    const utf8 = Buffer.concat([b("get "), Buffer.from("ключ"), b("\r\n")]);
    expect(parse(utf8)).toEqual([{ cmd: "get", key: "ключ" }]);
    expect(simple(parse(Buffer.from([...b("get "), 0xff, 0x0d, 0x0a])))).toEqual(["ERR"]);
    expect(parse(`get ${"k".repeat(4096)}\r\n`)[0]).toEqual({ cmd: "get", key: "k".repeat(4096) });
    expect(simple(parse(`get ${"k".repeat(4097)}\r\n`))).toEqual(["ERR"]);
  });

  it("bounds a line: an endless line is one error, discarded without buffering", () => {
    const p = new TextParser({ maxValueBytes: 100 });
    for (let i = 0; i < 1000; i++) p.feed(Buffer.alloc(1000, 0x61));
    expect(p.bufferedBytes).toBeLessThanOrEqual(MAX_LINE_BYTES + 1);
    p.feed(b("\r\nget k\r\n"));
    expect(simple(p.take())).toEqual(["ERR", { cmd: "get", key: "k" }]);
  });

  it("never buffers more than a line and a value, whatever it is fed (fuzz)", () => {
    const rng = new Prng(5);
    const int = (n: number) => Math.floor(rng.next() * n);
    const pieces = ["set k 0 5\r\n", "cas k 1 2 3\r\n", "get k\r\n", "\r\n", "\n", "abc", " ", "9"];
    const maxValueBytes = 64;
    for (let round = 0; round < 300; round++) {
      const p = new TextParser({ maxValueBytes });
      for (let i = 0; i < 50; i++) {
        const chunk =
          rng.next() < 0.7
            ? b(Array.from({ length: 1 + int(5) }, () => pieces[int(pieces.length)]).join(""))
            : Buffer.from(Array.from({ length: int(300) }, () => int(256)));
        p.feed(chunk);
        expect(p.bufferedBytes).toBeLessThanOrEqual(MAX_LINE_BYTES + maxValueBytes + 2);
      }
      for (const it of p.take()) if ("cmd" in it) expect(it.key.length).toBeGreaterThan(0);
    }
  });
});

describe("replies", () => {
  it("formats every reply", () => {
    expect(formatOk(42)).toBe("OK 42\r\n");
    expect(formatValue(b("a\r\nb")).toString("latin1")).toBe("VALUE 4\r\na\r\nb\r\n");
    expect(formatValueMeta(7, 30, b("xy")).toString("latin1")).toBe("VALUE 7 30 2\r\nxy\r\n");
    expect(REPLY_DELETED).toBe("DELETED\r\n");
    expect(REPLY_ERR_CMD).toBe("ERR_CMD_ERR\r\n");
    expect(exptimeRemaining(0, 5)).toBe(0);
    expect(exptimeRemaining(10_001, 0)).toBe(11);
    expect(exptimeRemaining(1000, 999)).toBe(1);
  });
});
