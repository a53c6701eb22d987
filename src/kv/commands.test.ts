import { describe, expect, it } from "vitest";
import { Prng } from "../faults/prng.js";
import {
  decodeCommand,
  decodeResult,
  encodeCommand,
  encodeResult,
  HARD_MAX_VALUE_BYTES,
  MAX_KEY_BYTES,
  validateCommand,
  type KvCommand,
  type KvResult,
} from "./commands.js";

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const client = { id: "c-1", req: 7, low: 5 };

const commands: KvCommand[] = [
  { op: "put", key: "k", value: bytes(1, 2, 3), ttlMs: 0, atMs: 1_700_000_000_000 },
  { op: "put", key: "ключ", value: bytes(), ttlMs: 5000, atMs: 1, client },
  {
    op: "cas",
    key: "x".repeat(MAX_KEY_BYTES),
    version: Number.MAX_SAFE_INTEGER,
    value: bytes(0, 13, 10),
    ttlMs: 3,
    atMs: 0,
  },
  { op: "cas", key: "k", version: 0, value: bytes(9), ttlMs: 0, atMs: 2, client },
  { op: "delete", key: "😀", atMs: 5 },
  { op: "delete", key: "k", atMs: 5, client: { id: "é".repeat(32), req: 0, low: 0 } },
  { op: "expire", atMs: 2 ** 40 + 3 },
];

const results: KvResult[] = [
  { kind: "written", version: 1 },
  { kind: "deleted", version: Number.MAX_SAFE_INTEGER },
  { kind: "error", code: "not_found" },
  { kind: "error", code: "version_mismatch", version: 42 },
  { kind: "error", code: "stale_request" },
  { kind: "error", code: "bad_command", version: 0 },
  { kind: "expired" },
];

describe("command codec", () => {
  it("round-trips every kind of command", () => {
    for (const cmd of commands) expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
  });

  it("round-trips every kind of result", () => {
    for (const res of results) expect(decodeResult(encodeResult(res))).toEqual(res);
  });

  it("decodes values as copies", () => {
    const enc = encodeCommand({ op: "put", key: "k", value: bytes(1), ttlMs: 0, atMs: 0 });
    const dec = decodeCommand(enc);
    if ("error" in dec || dec.op !== "put") throw new Error("not a put");
    enc.fill(0);
    expect([...dec.value]).toEqual([1]);
  });

  it("refuses to encode what it would refuse to decode", () => {
    const bad: KvCommand[] = [
      { op: "put", key: "", value: bytes(), ttlMs: 0, atMs: 0 },
      { op: "put", key: "x".repeat(MAX_KEY_BYTES + 1), value: bytes(), ttlMs: 0, atMs: 0 },
      { op: "put", key: "\ud800", value: bytes(), ttlMs: 0, atMs: 0 },
      { op: "put", key: "k", value: bytes(), ttlMs: -1, atMs: 0 },
      { op: "put", key: "k", value: bytes(), ttlMs: 0.5, atMs: 0 },
      { op: "cas", key: "k", version: 2 ** 53, value: bytes(), ttlMs: 0, atMs: 0 },
      { op: "delete", key: "k", atMs: Number.NaN },
      { op: "delete", key: "k", atMs: 0, client: { id: "", req: 1, low: 1 } },
      { op: "delete", key: "k", atMs: 0, client: { id: "x".repeat(65), req: 1, low: 1 } },
      { op: "delete", key: "k", atMs: 0, client: { id: "c", req: 1, low: 2 } },
      { op: "expire", atMs: -1 },
    ];
    for (const cmd of bad) {
      expect(validateCommand(cmd)).toBeTypeOf("string");
      expect(() => encodeCommand(cmd)).toThrow(RangeError);
    }
    expect(() => encodeResult({ kind: "written", version: -1 })).toThrow(RangeError);
  });

  it("applies the caller's value limit, capped at 8 MiB", () => {
    const cmd: KvCommand = { op: "put", key: "k", value: new Uint8Array(100), ttlMs: 0, atMs: 0 };
    const enc = encodeCommand(cmd);
    expect(decodeCommand(enc, 100)).not.toHaveProperty("error");
    expect(decodeCommand(enc, 99)).toHaveProperty("error");
    expect(() => encodeCommand(cmd, 99)).toThrow(RangeError);
    const big = { ...cmd, value: new Uint8Array(HARD_MAX_VALUE_BYTES + 1) };
    expect(validateCommand(big, 2 * HARD_MAX_VALUE_BYTES)).toMatch(/limit/);
  });

  it("refuses trailing bytes, truncations, bad UTF-8 and unsafe numbers", () => {
    const enc = encodeCommand(commands[0]!);
    expect(decodeCommand(Uint8Array.from([...enc, 0]))).toHaveProperty("error");
    for (let n = 0; n < enc.length; n++) {
      expect(decodeCommand(enc.subarray(0, n))).toHaveProperty("error");
    }
    // op put, key of 1 byte 0xff
    expect(decodeCommand(bytes(1, 1, 0, 0, 0, 0xff))).toHaveProperty("error");
    // expire with a high word above 2^53
    expect(decodeCommand(bytes(4, 0, 0, 0, 0, 0, 0, 0x20, 0))).toHaveProperty("error");
    expect(decodeCommand(bytes(4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0))).toEqual({
      op: "expire",
      atMs: Number.MAX_SAFE_INTEGER,
    });
    expect(decodeCommand(bytes())).toHaveProperty("error");
    expect(decodeResult(bytes(3, 99, 0))).toHaveProperty("error");
  });

  it("never throws on random or mutated bytes (fuzz)", () => {
    const rng = new Prng(12);
    const int = (n: number) => Math.floor(rng.next() * n);
    const seeds = [...commands.map((c) => encodeCommand(c)), ...results.map(encodeResult)];
    let decodedSome = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Uint8Array;
      if (i % 4 === 0) input = Uint8Array.from({ length: int(40) }, () => int(256));
      else {
        input = Uint8Array.from(seeds[int(seeds.length)]!);
        const edits = 1 + int(4);
        for (let e = 0; e < edits && input.length > 0; e++) input[int(input.length)] = int(256);
        if (i % 5 === 0) input = input.subarray(0, int(input.length + 1));
      }
      const cmd = decodeCommand(input);
      const res = decodeResult(input);
      if (!("error" in cmd)) {
        decodedSome++;
        // Whatever decodes is valid and re-encodes to the same bytes.
        expect(Buffer.from(encodeCommand(cmd)).equals(Buffer.from(input))).toBe(true);
      }
      if (!("error" in res)) expect(Buffer.from(encodeResult(res))).toEqual(Buffer.from(input));
    }
    expect(decodedSome).toBeGreaterThan(0);
  });
});
