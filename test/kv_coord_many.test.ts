// Thousands of waiters on one lock, and waiters whose client vanishes, on three real yasp-kv
// processes: grants in the queue's order with strictly increasing tokens, and nothing left behind
// (the lock free, no waiting acquires, no sessions) once the waiters are served or gone.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { connect, type KvClient, type Session } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-coord-many");
let cluster: KvCluster;
const clients: KvClient[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir });
  const kv = client(cluster.endpoints);
  await until(async () => ((await kv.checkMaster())?.epoch ?? 0) > 0, 30_000);
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(endpoints: string[]): KvClient {
  const c = connect({ endpoints, timeoutMs: 20_000 });
  clients.push(c);
  return c;
}

interface Counts {
  sessions: number;
  waitingAcquires: number;
  watches: number;
}

/** Each rank's status counters (one client per rank, so each asks that rank). */
async function counts(): Promise<Counts[]> {
  return Promise.all(statusClients.map(async (c) => (await c.status()) as unknown as Counts));
}
let statusClients: KvClient[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean | Promise<boolean>, ms = 20_000, pollMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    if (pollMs > 0) await sleep(pollMs);
  }
}

const WAITERS = 2000;

describe("one lock, many waiters", () => {
  it(`${WAITERS} waiters are granted in queue order with increasing tokens, and nothing is left`, async () => {
    statusClients = cluster.endpoints.map((e) => client([e]));
    const e0 = cluster.endpoints[0] as string;
    const kv = client([e0]); // every waiter's acquire waits on rank 0
    const holder = await kv.session({ ttlMs: 120_000 });
    const { token: first } = await kv.tryAcquire("many/lock", { session: holder });
    const t0 = performance.now();
    const sessions: Session[] = [];
    for (let i = 0; i < WAITERS; i += 500) {
      const batch = Array.from({ length: Math.min(500, WAITERS - i) }, () =>
        kv.session({ ttlMs: 120_000 }),
      );
      sessions.push(...(await Promise.all(batch)));
    }
    const opened = performance.now();
    // One at a time: each acquire is queued (rank 0 counts it waiting) before the next is sent,
    // so the queue's order is the index order.
    const granted: { i: number; token: number }[] = [];
    const done: Promise<void>[] = [];
    const status0 = statusClients[0] as KvClient;
    const base = (await status0.status()).waitingAcquires as number;
    for (let i = 0; i < WAITERS; i++) {
      const got = kv.acquire("many/lock", { session: sessions[i] as Session });
      done.push(
        got.then(async ({ token }) => {
          granted.push({ i, token });
          await kv.release("many/lock", token); // at once: the queue drains
        }),
      );
      const want = base + i + 1; // polled back to back: a status round trip is short
      await until(async () => (await status0.status()).waitingAcquires === want, 20_000, 0);
    }
    const queued = performance.now();
    await kv.release("many/lock", first);
    await Promise.all(done);
    const drained = performance.now();
    console.log(
      `${WAITERS} waiters: sessions opened in ${ms(opened - t0)}, queued one by one in ` +
        `${ms(queued - opened)}, all granted and released in ${ms(drained - queued)} ` +
        `(${((drained - queued) / WAITERS).toFixed(2)} ms a hand-off)`,
    );
    expect(granted.map((g) => g.i)).toEqual([...Array(WAITERS).keys()]);
    for (let k = 1; k < granted.length; k++)
      expect((granted[k] as { token: number }).token).toBeGreaterThan(
        (granted[k - 1] as { token: number }).token,
      );
    expect(granted[0]?.token).toBeGreaterThan(first);
    // Nothing left: a fresh session takes the lock at once; no rank has an acquire waiting.
    const fresh = await kv.session({ ttlMs: 120_000 });
    const { token: last } = await kv.tryAcquire("many/lock", { session: fresh });
    expect(last).toBeGreaterThan((granted.at(-1) as { token: number }).token);
    await kv.release("many/lock", last);
    await Promise.all([...sessions, holder, fresh].map((s) => s.close()));
    await until(async () =>
      (await counts()).every((c) => c.sessions === 0 && c.waitingAcquires === 0),
    );
  }, 90_000);
});

const VANISHING = 500;

/** A child process (the client library) that opens `n` sessions with a short TTL on one rank,
 * makes each wait for the lock, and prints their ids; it keeps them alive until it is killed. */
function vanishingClient(endpoint: string, n: number, lock: string): ChildProcess {
  const index = join(import.meta.dirname, "..", "src", "client", "index.ts");
  const code = `
    import { connect } from ${JSON.stringify(index)};
    const kv = connect({ endpoints: [${JSON.stringify(endpoint)}], timeoutMs: 20000 });
    const sessions = await Promise.all(Array.from({ length: ${n} }, () => kv.session({ ttlMs: 3000 })));
    for (const s of sessions) kv.acquire(${JSON.stringify(lock)}, { session: s }).catch(() => {});
    console.log("sessions " + sessions.length);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

describe("waiters whose client disappears", () => {
  it(`${VANISHING} waiters of a killed client: once their sessions expire the lock is free and nothing waits`, async () => {
    statusClients = cluster.endpoints.map((e) => client([e]));
    const kv = client(cluster.endpoints);
    const holder = await kv.session({ ttlMs: 120_000 });
    const { token } = await kv.tryAcquire("gone/lock", { session: holder });
    const before = await counts();
    const child = vanishingClient(cluster.endpoints[1] as string, VANISHING, "gone/lock");
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const rank1 = statusClients[1] as KvClient;
    const base = (before[1] as Counts).waitingAcquires;
    await until(async () => (await rank1.status()).waitingAcquires === base + VANISHING, 30_000);
    // Rank 1 applied their opens before their acquires: it counts them all.
    expect((await rank1.status()).sessions).toBe((before[1] as Counts).sessions + VANISHING);
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL"); // by its PID: the client vanishes, sockets and keepalives with it
    await gone;
    const killedAt = performance.now();
    // Its connections are gone: rank 1 forgets their acquires at once ...
    await until(async () => (await rank1.status()).waitingAcquires === base);
    // ... and the sessions expire (TTL 2 s) on every rank, taking their places in the queue.
    await until(async () => {
      const now = await counts();
      return now.every((c, r) => c.sessions === (before[r] as Counts).sessions);
    });
    console.log(
      `${VANISHING} vanished waiters (child said: ${out.trim() || "nothing"}): sessions gone ` +
        `${ms(performance.now() - killedAt)} after the kill`,
    );
    // The holder's release finds nobody waiting: a fresh session takes the lock at once.
    await kv.release("gone/lock", token);
    const fresh = await kv.session({ ttlMs: 120_000 });
    const next = await kv.tryAcquire("gone/lock", { session: fresh });
    expect(next.token).toBeGreaterThan(token);
    await kv.release("gone/lock", next.token);
    await Promise.all([holder.close(), fresh.close()]);
    await until(async () =>
      (await counts()).every((c) => c.sessions === 0 && c.waitingAcquires === 0 && c.watches === 0),
    );
  }, 60_000);
});

function ms(x: number): string {
  return `${Math.round(x)} ms`;
}
