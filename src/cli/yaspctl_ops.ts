// What yaspctl's commands do and print, shared by the command line and the shell: each operation
// prints its result (plain or --json) and every failure becomes one line and an exit code.
import { isUtf8 } from "node:buffer";
import {
  Timeout,
  Unavailable,
  type Entry,
  type KvClient,
  type RangeQuery,
  type Value,
} from "../client/index.js";
import { UsageError } from "./config.js";

/** Where yaspctl writes (process.stdout/stderr, or a test's buffer). */
export interface Out {
  write(chunk: string | Uint8Array): unknown;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

export interface Printer {
  stdout: Out;
  stderr: Out;
  json: boolean;
}

/** A value in JSON: the text when it is UTF-8, else base64 (binary-safe either way). */
function jsonValue(value: Uint8Array): { value: string } | { valueBase64: string } {
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  return isUtf8(b) ? { value: b.toString("utf8") } : { valueBase64: b.toString("base64") };
}

const line = (out: Out, text: string) => out.write(text + "\n");

/** The value's bytes exactly as stored, then a line break (the break is not part of it). */
function printValue(p: Printer, key: string, v: Value, meta: boolean): void {
  if (p.json) {
    const o = { key, ...jsonValue(v.value), version: v.version, expiresInMs: v.expiresInMs };
    return void line(p.stdout, JSON.stringify(o));
  }
  if (meta) {
    const expires = v.expiresInMs > 0 ? `${Math.ceil(v.expiresInMs / 1000)} s` : "never";
    line(p.stdout, `version ${v.version}, expires in ${expires}, ${v.value.length} bytes`);
  }
  p.stdout.write(v.value);
  p.stdout.write("\n");
}

function printEntries(p: Printer, entries: Entry[], more: boolean, limit: number | undefined) {
  if (p.json) {
    const list = entries.map((e) => ({ key: e.key, ...jsonValue(e.value), version: e.version }));
    line(p.stdout, JSON.stringify({ entries: list, more }));
  } else {
    for (const e of entries) {
      line(p.stdout, e.key);
      p.stdout.write(e.value);
      p.stdout.write("\n");
    }
  }
  if (more && !p.json)
    line(
      p.stderr,
      `yaspctl: ${entries.length} keys listed, more remain (${limit === undefined ? "the server's limit" : `--limit ${limit}`})`,
    );
}

function printWritten(p: Printer, word: string, version: number): void {
  line(p.stdout, p.json ? JSON.stringify({ version }) : `${word} ${version}`);
}

/** One operation, as the command line and the shell name it. */
export type Op =
  | { op: "put"; key: string; value: string | Uint8Array; ttlSeconds?: number }
  | { op: "get" | "getm"; key: string; stale: boolean }
  | { op: "del"; key: string }
  | { op: "cas"; key: string; version: number; value: string | Uint8Array; ttlSeconds?: number }
  | { op: "range"; query: RangeQuery; limit?: number; stale: boolean }
  | { op: "status" };

const ttlMs = (s: number | undefined) => (s === undefined ? {} : { ttlMs: s * 1000 });

export async function runOp(kv: KvClient, o: Op, p: Printer): Promise<void> {
  switch (o.op) {
    case "put":
      return printWritten(p, "OK", (await kv.put(o.key, o.value, ttlMs(o.ttlSeconds))).version);
    case "get":
    case "getm":
      return printValue(p, o.key, await kv[o.op](o.key, { stale: o.stale }), o.op === "getm");
    case "del":
      return printWritten(p, "DELETED", (await kv.delete(o.key)).version);
    case "cas": {
      const w = await kv.cas(o.key, o.version, o.value, ttlMs(o.ttlSeconds));
      return printWritten(p, "OK", w.version);
    }
    case "range": {
      const opts = { stale: o.stale, ...(o.limit === undefined ? {} : { limit: o.limit }) };
      const r = await kv.range(o.query, opts);
      return printEntries(p, r.entries, r.more, o.limit);
    }
    case "status":
      return void line(p.stdout, JSON.stringify(await kv.status(), null, p.json ? 0 : 2));
  }
}

/** The exit code of a failure, after printing it as one line. */
export function reportFailure(e: unknown, stderr: Out): number {
  const message = e instanceof Error ? e.message : String(e);
  line(stderr, `yaspctl: ${message.split("\n")[0] ?? message}`);
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof Unavailable || e instanceof Timeout) return EXIT.unavailable;
  return EXIT.failed; // not found, version mismatch, too large, refused...
}

/** A whole number in [0, max] given on the command line, or a UsageError naming it. */
export function wholeNumber(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`${what} must be a whole number >= 0, not ${String(v)}`);
  return n;
}
