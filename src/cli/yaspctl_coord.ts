// yaspctl's coordination commands: lock (run a command while holding a lock), watch, master and
// session. Each runs until its work is done or the process is told to stop (SIGINT/SIGTERM, or
// the caller's AbortSignal in tests), and cleans up after itself: the lock is released and the
// session closed on every way out.
import { spawn } from "node:child_process";
import { isUtf8 } from "node:buffer";
import type { KvClient, Session, WatchEvent } from "../client/index.js";
import { AbortError, LockHeldError } from "../client/index.js";
import { UsageError } from "./config.js";
import { EXIT, type Printer } from "./yaspctl_ops.js";

export type CoordOp =
  | { op: "lock"; name: string; ttlMs: number; wait: boolean; command: string[] }
  | {
      op: "watch";
      key: string;
      prefix: boolean;
      fromRevision?: number;
      prev: boolean;
      count?: number;
    }
  | { op: "master" }
  | { op: "session"; ttlMs: number };

const line = (p: Printer, text: string) => p.stdout.write(text + "\n");

/** Runs one coordination command; resolves with the exit code. `stop` ends a command that would
 * otherwise run until interrupted (lock without a command, watch, session). */
export async function runCoordOp(
  kv: KvClient,
  o: CoordOp,
  p: Printer,
  stop: AbortSignal,
): Promise<number> {
  switch (o.op) {
    case "master":
      return printMaster(kv, p);
    case "watch":
      return watch(kv, o, p, stop);
    case "session":
      return holdSession(kv, o.ttlMs, p, stop);
    case "lock":
      return lock(kv, o, p, stop);
  }
}

async function printMaster(kv: KvClient, p: Printer): Promise<number> {
  const m = await kv.checkMaster();
  if (p.json) line(p, JSON.stringify(m));
  else if (m) line(p, `master rank ${m.rank} epoch ${m.epoch}`);
  else {
    p.stderr.write("yaspctl: no master right now (an election is under way or no majority)\n");
    return EXIT.unavailable;
  }
  return EXIT.ok;
}

function text(v: Uint8Array | undefined): string {
  if (v === undefined) return "";
  const b = Buffer.from(v.buffer, v.byteOffset, v.length);
  return isUtf8(b) ? b.toString("utf8") : `base64:${b.toString("base64")}`;
}

function printEvent(p: Printer, e: WatchEvent): void {
  if (p.json) {
    const o: Record<string, unknown> = { revision: e.revision, kind: e.kind, key: e.key };
    if (e.value) o.value = text(e.value);
    if (e.prevValue) o.prevValue = text(e.prevValue);
    return void line(p, JSON.stringify(o));
  }
  const prev = e.prevValue ? ` (was ${text(e.prevValue)})` : "";
  line(
    p,
    `${e.revision} ${e.kind.toUpperCase()} ${e.key}${e.value ? " " + text(e.value) : ""}${prev}`,
  );
}

async function watch(
  kv: KvClient,
  o: Extract<CoordOp, { op: "watch" }>,
  p: Printer,
  stop: AbortSignal,
): Promise<number> {
  const events = kv.watch(o.key, {
    prefix: o.prefix,
    prevValue: o.prev,
    signal: stop,
    ...(o.fromRevision === undefined ? {} : { fromRevision: o.fromRevision }),
  });
  let seen = 0;
  try {
    for await (const e of events) {
      printEvent(p, e);
      if (o.count !== undefined && ++seen >= o.count) break;
    }
  } catch (e) {
    if (!(e instanceof AbortError) || !stop.aborted) throw e;
  }
  return EXIT.ok;
}

/** Resolves when either signal aborts. Meanwhile a timer keeps the process alive: the session's
 * own timers are unref'd and an idle connection holds nothing, so without it Node would exit at
 * once, the `finally` that releases the lock never running. */
function until(stop: AbortSignal, other?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted || other?.aborted) return resolve();
    const keepAlive = setInterval(() => {}, 1 << 30);
    const done = () => {
      clearInterval(keepAlive);
      resolve();
    };
    stop.addEventListener("abort", done, { once: true });
    other?.addEventListener("abort", done, { once: true });
  });
}

async function holdSession(kv: KvClient, ttlMs: number, p: Printer, stop: AbortSignal) {
  const s = await kv.session({ ttlMs });
  let lost: string | undefined;
  s.on("expired", (why) => (lost = why));
  line(p, p.json ? JSON.stringify({ session: s.id, ttlMs }) : `session ${s.id} (ttl ${ttlMs} ms)`);
  await until(stop, s.signal);
  if (lost !== undefined) {
    p.stderr.write(`yaspctl: session ${s.id} expired: ${lost}\n`);
    return EXIT.failed;
  }
  await s.close();
  return EXIT.ok;
}

async function acquire(kv: KvClient, o: Extract<CoordOp, { op: "lock" }>, s: Session) {
  try {
    return o.wait
      ? await kv.acquire(o.name, { session: s, timeoutMs: 2 ** 31 - 1 })
      : await kv.tryAcquire(o.name, { session: s });
  } catch (e) {
    if (e instanceof LockHeldError) throw new LockBusy(`lock ${o.name} is held (--no-wait)`);
    throw e;
  }
}

class LockBusy extends Error {}

/** Holds the lock while the command runs (or, without one, until stopped); the command gets the
 * fencing token in YASP_LOCK_TOKEN. If the session is lost meanwhile the command is stopped
 * (SIGTERM): it no longer holds the lock. */
async function lock(
  kv: KvClient,
  o: Extract<CoordOp, { op: "lock" }>,
  p: Printer,
  stop: AbortSignal,
): Promise<number> {
  const s = await kv.session({ ttlMs: o.ttlMs });
  let lost: string | undefined;
  s.on("expired", (why) => (lost = why));
  try {
    const { token } = await acquire(kv, o, s);
    if (o.command.length === 0) {
      line(p, p.json ? JSON.stringify({ lock: o.name, token }) : `${o.name} ${token}`);
      await until(stop, s.signal);
    } else {
      const code = await runHolding(o, token, stop, s.signal);
      if (lost === undefined) await kv.release(o.name, token).catch(() => undefined);
      if (lost !== undefined) {
        p.stderr.write(
          `yaspctl: lost lock ${o.name} (session expired: ${lost}); command stopped\n`,
        );
        return EXIT.failed;
      }
      return code;
    }
    if (lost !== undefined) {
      p.stderr.write(`yaspctl: lost lock ${o.name} (session expired: ${lost})\n`);
      return EXIT.failed;
    }
    await kv.release(o.name, token).catch(() => undefined);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof LockBusy) {
      p.stderr.write(`yaspctl: ${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    await s.close().catch(() => undefined);
  }
}

/** The command's exit code (128 + signal number when a signal ended it, 127 when it could not
 * be started). */
function runHolding(
  o: Extract<CoordOp, { op: "lock" }>,
  token: number,
  stop: AbortSignal,
  lost: AbortSignal,
): Promise<number> {
  const [file, ...args] = o.command as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: "inherit",
    env: { ...process.env, YASP_LOCK_TOKEN: String(token), YASP_LOCK_NAME: o.name },
  });
  const kill = () => child.kill("SIGTERM");
  stop.addEventListener("abort", kill, { once: true });
  lost.addEventListener("abort", kill, { once: true });
  return new Promise((resolve) => {
    child.on("error", (e) => {
      process.stderr.write(`yaspctl: cannot run ${file}: ${e.message}\n`);
      resolve(127);
    });
    child.on("exit", (code, signal) => {
      stop.removeEventListener("abort", kill);
      lost.removeEventListener("abort", kill);
      resolve(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 0;
}

/** A session TTL given in seconds on the command line, as ms within the server's bounds. */
export function ttlMsOf(seconds: unknown, dflt: number): number {
  if (seconds === undefined) return dflt;
  const n = typeof seconds === "string" ? Number(seconds) : seconds;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 3 || n > 3600)
    throw new UsageError(`--ttl must be 3..3600 seconds, not ${shown(seconds)}`);
  return Math.round(n * 1000);
}

function shown(v: unknown): string {
  return typeof v === "number" || typeof v === "string" ? String(v) : typeof v;
}
