// A client process of the coordination scenarios (coord_procs.ts starts it): argv[2] is its
// role as JSON; it reports JSON lines on stdout ({"ev": ..., "t": monotonic ms, ...}) and takes
// commands as JSON lines on stdin ({"cmd": "write" | "release" | "stop"}). Roles:
//   basic    put, get, session, tryAcquire, release, and a watch that fires with the new value
//   counter  rounds of acquire -> get -> put(value + 1, ifHolds) -> release
//   holder   acquire a lock, put an ephemeral key, then on "write" a fenced write
//   waiter   acquire (waiting), report the grant, release on "release"
//   watcher  watch a key or prefix and report every event (batched)
//   writer   puts (and some deletes) under a prefix until a deadline, reporting acknowledged ones
//   fanout   `watches` watches of one prefix (bench:kv), reporting each event's key and arrival
import { createInterface } from "node:readline";
import { connect, type KvClient, type WatchEvent } from "../client/index.js";
import type { Spec } from "./coord_worker_api.js";

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString("utf8") : undefined);
const codeOf = (e: unknown) => (e as { code?: unknown } | null)?.code;

function emit(ev: string, fields: object = {}): void {
  process.stdout.write(JSON.stringify({ ev, t: nowMs(), ...fields }) + "\n");
}

/** The commands the harness writes to stdin, one awaited at a time. */
const commands: string[] = [];
let onCommand: (() => void) | null = null;
createInterface({ input: process.stdin }).on("line", (l) => {
  try {
    commands.push(String((JSON.parse(l) as { cmd?: unknown }).cmd));
  } catch {
    return;
  }
  onCommand?.();
});
async function command(): Promise<string> {
  while (commands.length === 0) await new Promise<void>((r) => (onCommand = r));
  return commands.shift() ?? "";
}

/** The first event of a watch (the iterator is closed after it). */
async function firstEvent(events: AsyncIterable<WatchEvent>): Promise<WatchEvent | null> {
  for await (const e of events) return e;
  return null;
}

const shown = (e: WatchEvent | null) =>
  e && { kind: e.kind, revision: e.revision, value: text(e.value) };

async function basic(c: KvClient, spec: Spec): Promise<void> {
  const key = spec.key ?? "basic/k";
  const lock = spec.lock ?? "basic/lock";
  const v0 = await c.put(key, "v0");
  const watched = firstEvent(c.watch(key, { fromRevision: v0.version + 1 }));
  const written = await c.put(key, "v1");
  const got = text((await c.get(key)).value);
  const event = await watched;
  const once = c.watchOnce(key);
  await new Promise((r) => setTimeout(r, 300)); // watching by then
  const v2 = await c.put(key, "v2");
  const onceEvent = await once;
  const s = await c.session({ ttlMs: spec.ttlMs ?? 5000 });
  const askedAt = nowMs();
  const { token } = await c.tryAcquire(lock, { session: s });
  emit("grant", { lock, token, askedAt, at: nowMs() });
  const fenced = await c.put(`${key}-fenced`, "v3", { ifHolds: { lock, token } });
  emit("release", { lock, token, at: nowMs() });
  await c.release(lock, token);
  const master = await c.checkMaster();
  await s.close();
  emit("basic", {
    version: written.version,
    got,
    event: shown(event),
    v2: v2.version,
    once: shown(onceEvent),
    fencedVersion: fenced.version,
    master,
  });
}

async function counter(c: KvClient, spec: Spec): Promise<void> {
  const lock = spec.lock ?? "counter/lock";
  const key = spec.key ?? "counter";
  const s = await c.session({ ttlMs: spec.ttlMs ?? 5000 });
  let done = 0;
  let fenced = 0;
  while (done < (spec.rounds ?? 50)) {
    const askedAt = nowMs();
    const { token } = await c.acquire(lock, { session: s });
    emit("grant", { lock, token, askedAt, at: nowMs() });
    const value = Number(text((await c.get(key)).value));
    try {
      await c.put(key, String(value + 1), { ifHolds: { lock, token } });
      emit("write", { token, value: value + 1 });
      done++;
    } catch (e) {
      if (codeOf(e) !== "fence_failed") throw e;
      emit("fenced", { token });
      fenced++;
    }
    emit("release", { lock, token, at: nowMs() });
    await c.release(lock, token).catch((e: unknown) => {
      if (codeOf(e) !== "not_holder") throw e;
    });
  }
  await s.close();
  emit("done", { rounds: done, fenced });
}

async function holder(c: KvClient, spec: Spec): Promise<void> {
  const lock = spec.lock ?? "se/lock";
  const s = await c.session({ ttlMs: spec.ttlMs ?? 3000 });
  s.on("expired", () => emit("expired", { session: s.id }));
  const askedAt = nowMs();
  const { token } = await c.tryAcquire(lock, { session: s });
  emit("grant", { lock, token, askedAt, at: nowMs() });
  const eph = await c.put(spec.key ?? "se/eph", "mine", { session: s });
  emit("held", { token, session: s.id, ephemeralVersion: eph.version });
  while ((await command()) === "write") {
    try {
      const w = await c.put(spec.dataKey ?? "se/data", "late", { ifHolds: { lock, token } });
      emit("write", { ok: true, version: w.version });
    } catch (e) {
      emit("write", { ok: false, code: codeOf(e), message: (e as Error).message });
    }
  }
}

async function waiter(c: KvClient, spec: Spec): Promise<void> {
  const lock = spec.lock ?? "se/lock";
  const s = await c.session({ ttlMs: spec.ttlMs ?? 5000 });
  const askedAt = nowMs();
  emit("waiting", { lock });
  const { token } = await c.acquire(lock, { session: s });
  emit("grant", { lock, token, askedAt, at: nowMs() });
  if ((await command()) !== "release") return;
  emit("release", { lock, token, at: nowMs() });
  await c.release(lock, token);
  emit("released", { token });
}

async function watcher(c: KvClient, spec: Spec): Promise<void> {
  const target = spec.prefix ?? spec.key ?? "";
  const it = c.watch(target, {
    prefix: spec.prefix !== undefined,
    ...(spec.fromRevision ? { fromRevision: spec.fromRevision } : {}),
  });
  emit("watching", { target });
  let batch: (string | number | undefined)[][] = [];
  const flush = () => {
    if (batch.length) emit("events", { list: batch });
    batch = [];
  };
  const timer = setInterval(flush, 50);
  try {
    for await (const e of it) {
      batch.push([e.revision, e.kind, e.key, spec.values ? text(e.value) : undefined]);
      if (batch.length >= 500) flush();
    }
  } finally {
    clearInterval(timer);
    flush();
  }
}

async function writer(c: KvClient, spec: Spec): Promise<void> {
  const until = nowMs() + (spec.forMs ?? 3000);
  const keys = spec.keys ?? 100;
  let acked: (string | number)[][] = [];
  let n = 0;
  let i = 0;
  const flush = setInterval(() => {
    if (acked.length) emit("acked", { list: acked });
    acked = [];
  }, 100);
  const one = async () => {
    while (nowMs() < until) {
      const k = `${spec.prefix ?? "w/"}${(i * 7919) % keys}`;
      const del = spec.deleteEvery && i % spec.deleteEvery === 0;
      i++;
      const w = del
        ? await c.delete(k).catch((e: unknown) => {
            if (codeOf(e) !== "not_found") throw e;
          })
        : await c.put(k, String(i));
      if (w) acked.push([w.version, k, del ? "delete" : "put"]);
      n++;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency ?? 32 }, one));
  clearInterval(flush);
  if (acked.length) emit("acked", { list: acked });
  emit("done", { writes: n });
}

/** `watches` watches of one prefix from fromRevision, each until it saw `rounds` events; every
 * arrival reported as [key, monotonic ms] in batches (the bench's fan-out delay). */
async function fanout(c: KvClient, spec: Spec): Promise<void> {
  const arrivals: [string, number][] = [];
  const flush = setInterval(() => {
    if (arrivals.length) emit("arrived", { list: arrivals.splice(0) });
  }, 100);
  const one = async () => {
    let seen = 0;
    const it = c.watch(spec.prefix ?? "", {
      prefix: true,
      ...(spec.fromRevision ? { fromRevision: spec.fromRevision } : {}),
    });
    for await (const e of it) {
      arrivals.push([e.key, nowMs()]);
      if (++seen >= (spec.rounds ?? 1)) return;
    }
  };
  const all = Promise.all(Array.from({ length: spec.watches ?? 1 }, one));
  emit("watching", { watches: spec.watches ?? 1 });
  await all;
  clearInterval(flush);
  emit("arrived", { list: arrivals.splice(0) });
  emit("done");
}

const ROLES = { basic, counter, holder, waiter, watcher, writer, fanout };

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
  const role = ROLES[spec.role];
  if (!role) throw new Error(`no role ${String(spec.role)}`);
  const c = connect({ endpoints: spec.endpoints, timeoutMs: spec.timeoutMs ?? 20_000 });
  await role(c, spec);
  await c.close();
}

process.on("SIGTERM", () => process.exit(0));
main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit("error", { message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    process.exit(1);
  },
);
