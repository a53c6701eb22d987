// Sessions, locks with fencing tokens, watches and the master on three real yasp-kv processes,
// through the client library (and the raw wire where a client must misbehave: one that never
// sends keepalives, one that vanishes while waiting).
import net from "node:net";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import {
  AbortError,
  BadRequest,
  CompactedError,
  connect,
  FenceError,
  LockHeldError,
  NoSession,
  NotHolderError,
  type KvClient,
  type WatchEvent,
} from "../src/client/index.js";
import {
  decodeResponse,
  encodeRequest,
  FrameReader,
  type ClientRequest,
  type ClientResponse,
} from "../src/kv/client_wire.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-coord");
let cluster: KvCluster;
const clients: KvClient[] = [];

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir });
  // Sessions need an active master (one whose log entry is applied): wait for it once.
  const kv = client();
  await until(async () => ((await kv.checkMaster())?.epoch ?? 0) > 0, 30_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(endpoints = cluster.endpoints): KvClient {
  const c = connect({ endpoints, timeoutMs: 10_000 });
  clients.push(c);
  return c;
}

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString() : undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until f() is true (a real cluster's timing varies; the bound only stops a hung test). */
async function until(f: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await sleep(25);
  }
}

/** A connection speaking the wire by hand: send frames, collect every answer. */
class Raw {
  readonly answers: ClientResponse[] = [];
  private readonly socket: net.Socket;
  private readonly ready: Promise<void>;

  constructor(address: string, clientId: string) {
    const [host, port] = address.split(":");
    this.socket = net.connect(Number(port), host);
    const frames = new FrameReader(1 << 22);
    this.socket.on("data", (chunk) => {
      for (const f of frames.push(chunk).frames) {
        const d = decodeResponse(f);
        if (d.ok && d.message.id !== 0) this.answers.push(d.message);
      }
    });
    this.socket.on("error", () => {});
    this.ready = new Promise((resolve) => this.socket.on("connect", () => resolve()));
    this.socket.write(encodeRequest({ type: "hello", id: 0, version: 1, clientId, token: "" }));
  }

  async ask(req: ClientRequest): Promise<ClientResponse> {
    await this.ready;
    this.socket.write(encodeRequest(req));
    let found: ClientResponse | undefined;
    await until(() => (found = this.answers.find((a) => a.id === req.id)) !== undefined);
    return found as ClientResponse;
  }

  send(req: ClientRequest): void {
    this.socket.write(encodeRequest(req));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe("sessions and locks", () => {
  it("tryAcquire, a held lock's typed error, release with a wrong token, fencing", async () => {
    const kv = client();
    const a = await kv.session({ ttlMs: 10_000 });
    const b = await kv.session({ ttlMs: 10_000 });
    const { token: t1 } = await kv.tryAcquire("locks/one", { session: a });
    expect(await kv.tryAcquire("locks/one", { session: a })).toEqual({ token: t1 }); // again: same
    const held = await kv.tryAcquire("locks/one", { session: b }).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(LockHeldError);
    expect((held as LockHeldError).holderToken).toBe(t1);
    await kv.put("guarded", "by a", { ifHolds: { lock: "locks/one", token: t1 } });
    await expect(kv.release("locks/one", t1 + 1)).rejects.toBeInstanceOf(NotHolderError);
    await kv.release("locks/one", t1);
    await expect(kv.release("locks/one", t1)).rejects.toBeInstanceOf(NotHolderError);
    const { token: t2 } = await kv.tryAcquire("locks/one", { session: b });
    expect(t2).toBeGreaterThan(t1);
    const late = kv.put("guarded", "late a", { ifHolds: { lock: "locks/one", token: t1 } });
    await expect(late).rejects.toBeInstanceOf(FenceError);
    const fencedDelete = kv.delete("guarded", { ifHolds: { lock: "locks/one", token: t1 } });
    await expect(fencedDelete).rejects.toBeInstanceOf(FenceError);
    expect(text((await kv.get("guarded")).value)).toBe("by a");
    await kv.put("guarded", "by b", { ifHolds: { lock: "locks/one", token: t2 } });
    await Promise.all([a.close(), b.close()]);
    await expect(kv.tryAcquire("locks/one", { session: a })).rejects.toBeInstanceOf(NoSession);
    // b's close released its lock: a new session takes it with a larger token.
    const c = await kv.session({ ttlMs: 10_000 });
    expect((await kv.tryAcquire("locks/one", { session: c })).token).toBeGreaterThan(t2);
    await c.close();
  });

  it("refuses a TTL of 0 or of a year, and an unknown session, with typed errors", async () => {
    const kv = client();
    await expect(kv.session({ ttlMs: 0 })).rejects.toBeInstanceOf(BadRequest);
    await expect(kv.session({ ttlMs: 365 * 86_400_000 })).rejects.toBeInstanceOf(BadRequest);
    await expect(kv.tryAcquire("locks/x", { session: 999_999_999 })).rejects.toBeInstanceOf(
      NoSession,
    );
    // The server refuses them too (a client that skips the library's checks).
    const raw = new Raw(cluster.endpoints[1] as string, "raw-ttl");
    const r = await raw.ask({ type: "session_open", id: 1, ttlMs: 0, req: 1, low: 1 });
    expect(r).toMatchObject({ type: "error", code: "bad_request" });
    raw.destroy();
  });

  it("checkMaster names a rank and its epoch", async () => {
    const kv = client();
    let master: Awaited<ReturnType<KvClient["checkMaster"]>> = null;
    await until(async () => (master = await kv.checkMaster()) !== null && master.epoch > 0);
    expect(master).toMatchObject({ rank: expect.any(Number) as number });
  });

  it("a session without keepalives expires: its lock goes to the waiter with a larger token, its ephemeral key is deleted and watchers see it", async () => {
    const kv = client();
    const raw = new Raw(cluster.endpoints[0] as string, "raw-holder");
    const opened = await raw.ask({ type: "session_open", id: 1, ttlMs: 3000, req: 1, low: 1 });
    if (opened.type !== "session") throw new Error(`no session: ${JSON.stringify(opened)}`);
    const got = await raw.ask({
      ...{ type: "acquire", id: 2, lock: "locks/exp", session: opened.session },
      ...{ wait: false, req: 2, low: 1 },
    });
    if (got.type !== "granted") throw new Error(`not granted: ${JSON.stringify(got)}`);
    const eph = { type: "put", id: 3, key: "eph/holder", value: Uint8Array.of(1), ttlMs: 0 };
    await raw.ask({ ...eph, req: 3, low: 1, session: opened.session } as ClientRequest);
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const e of kv.watch("eph/", { prefix: true, fromRevision: 1 })) {
        events.push(e);
        if (e.kind === "delete") return;
      }
    })();
    const waiter = await kv.session({ ttlMs: 10_000 });
    const { token } = await kv.acquire("locks/exp", { session: waiter }); // no keepalives: expiry
    expect(token).toBeGreaterThan(got.token);
    await watching;
    expect(events.map((e) => [e.kind, e.key])).toEqual([
      ["put", "eph/holder"],
      ["delete", "eph/holder"],
    ]);
    await expect(kv.get("eph/holder")).rejects.toThrow(/not found/);
    raw.destroy();
    await waiter.close();
  });

  it("a session whose keepalives cannot reach the master emits expired", async () => {
    const kv = client();
    const master = await kv.checkMaster();
    const others = cluster.endpoints.filter((_, i) => i !== master?.rank);
    const lonely = client(others.slice(0, 1));
    const s = await lonely.session({ ttlMs: 3000 });
    const expired = new Promise<string>((resolve) => s.on("expired", resolve));
    expect(await expired).toMatch(/no keepalive|ended/);
    expect(s.alive).toBe(false);
    await expect(lonely.tryAcquire("locks/lonely", { session: s })).rejects.toBeInstanceOf(
      NoSession,
    );
  });

  it("an aborted acquire gives up its place; a waiter that vanishes is cleaned up with its session", async () => {
    const kv = client();
    const holder = await kv.session({ ttlMs: 10_000 });
    const { token } = await kv.tryAcquire("locks/q", { session: holder });
    // A waiter that aborts.
    const aborting = await kv.session({ ttlMs: 10_000 });
    const ac = new AbortController();
    const waiting = kv.acquire("locks/q", { session: aborting, signal: ac.signal });
    await sleep(100);
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    // A waiter whose client vanishes (its connection closes, its session is never kept alive).
    const raw = new Raw(cluster.endpoints[2] as string, "raw-vanish");
    const opened = await raw.ask({ type: "session_open", id: 1, ttlMs: 3000, req: 1, low: 1 });
    if (opened.type !== "session") throw new Error("no session");
    raw.send({
      ...{ type: "acquire", id: 2, lock: "locks/q", session: opened.session },
      ...{ wait: true, req: 2, low: 1 },
    });
    raw.destroy();
    // Once that session expired, a release leaves the lock free: nobody is left waiting.
    await until(async () => {
      const r = await kv
        .tryAcquire("locks/probe", { session: opened.session })
        .catch((e: unknown) => e);
      return r instanceof NoSession;
    });
    const probe = await kv.session({ ttlMs: 10_000 });
    await kv.release("locks/q", token);
    const next = await kv.tryAcquire("locks/q", { session: probe });
    expect(next.token).toBeGreaterThan(token);
    await Promise.all([holder.close(), aborting.close(), probe.close()]);
  });
});

describe("bad coordination frames", () => {
  it("are answered with errors or close the connection; the rank keeps serving", async () => {
    const frames: ClientRequest[] = [
      { type: "session_open", id: 1, ttlMs: 5000, req: 1, low: 1 },
      { type: "session_keepalive", id: 2, session: 1 },
      { type: "acquire", id: 3, lock: "L", session: 1, wait: true, req: 2, low: 1 },
      { type: "release", id: 4, lock: "L", token: 1, req: 3, low: 1 },
      { type: "cancel_wait", id: 5, lock: "L", session: 1, req: 4, low: 1 },
      { type: "watch", id: 6, selector: { prefix: "" }, fromRevision: 0, prevValue: true },
      { type: "unwatch", id: 7, watch: 6 },
      { type: "master", id: 8 },
    ];
    let seed = 99;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const raw = new Raw(cluster.endpoints[round % 3] as string, `fuzz-${round}`);
      for (const f of frames) {
        const bytes = Uint8Array.from(encodeRequest(f));
        for (let j = 0; j < 3; j++) {
          const at = 9 + Math.floor(random() * (bytes.length - 9)); // past length, type and id
          if (at < bytes.length) bytes[at] = Math.floor(random() * 256);
        }
        raw.write(bytes);
      }
      await sleep(20);
      raw.destroy();
    }
    const kv = client();
    expect((await kv.put("after/fuzz", "ok")).version).toBeGreaterThan(0);
    expect(await kv.checkMaster()).not.toBeNull();
  });
});

describe("an acquire resent after a lost connection", () => {
  it("is granted once: the same token, one holder", async () => {
    const kv = client();
    const waiterClient = client([...cluster.endpoints].reverse());
    const holder = await kv.session({ ttlMs: 10_000 });
    const waiter = await waiterClient.session({ ttlMs: 10_000 });
    const { token } = await kv.tryAcquire("locks/resend", { session: holder });
    const waiting = waiterClient.acquire("locks/resend", { session: waiter });
    await sleep(200);
    cut(waiterClient); // the acquire is sent again, with the same request number, elsewhere
    await sleep(200);
    await kv.release("locks/resend", token);
    const got = await waiting;
    expect(got.token).toBeGreaterThan(token);
    const again = await kv.tryAcquire("locks/resend", { session: holder }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(LockHeldError);
    expect((again as LockHeldError).holderToken).toBe(got.token);
    await waiterClient.release("locks/resend", got.token);
    await Promise.all([holder.close(), waiter.close()]);
  });
});

/** Cuts a client's connection under it, as a network failure would. */
function cut(kv: KvClient): void {
  (kv as unknown as { core: { reconnect(r: string): void } }).core.reconnect("test cut");
}

describe("watches", () => {
  it("resume after the client's connection is cut: every revision once, in order", async () => {
    const kv = client();
    const watcher = client([...cluster.endpoints].reverse());
    const start = (await kv.put("w/start", "0")).version;
    const seen: number[] = [];
    const it = watcher.watch("w/", { prefix: true, fromRevision: start + 1 });
    const writes: number[] = [];
    const writing = (async () => {
      for (let i = 0; i < 200; i++) writes.push((await kv.put(`w/${i % 7}`, String(i))).version);
    })();
    let cuts = 0;
    for await (const e of it) {
      seen.push(e.revision);
      if (seen.length % 50 === 0 && cuts < 3) {
        cuts++;
        cut(watcher);
      }
      if (seen.length === 200) break;
    }
    await writing;
    expect(cuts).toBe(3);
    expect(seen).toEqual(writes);
  });

  it("a revision no longer kept is a CompactedError", async () => {
    const kv = client();
    const big = new Uint8Array(1024 * 1024 - 64).fill(7);
    // Each put of the same key keeps value and previous value: 20 of them pass the 32 MiB bound.
    for (let i = 0; i < 20; i++) await kv.put("compact/me", big);
    const it = kv.watch("compact/me", { fromRevision: 1 });
    const err = await it.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactedError);
    expect((err as CompactedError).oldestRevision).toBeGreaterThan(1);
  }, 60_000);

  it("watchOnce set just before a put sees that put", async () => {
    const kv = client();
    const once = kv.watchOnce("once/k");
    const { version } = await kv.put("once/k", "fired");
    const e = await once;
    expect([e.kind, e.revision, text(e.value)]).toEqual(["put", version, "fired"]);
  });

  it("resumes on another rank when the one it watches on is killed", async () => {
    const kv = client();
    const master = (await kv.checkMaster())?.rank ?? 0;
    const victim = (master + 1) % 3;
    const order = [victim, ...[0, 1, 2].filter((r) => r !== victim)];
    const watcher = client(order.map((r) => cluster.endpoints[r] as string));
    const start = (await kv.put("f/start", "0")).version;
    const seen: number[] = [];
    const writes: number[] = [];
    const writing = (async () => {
      for (let i = 0; i < 150; i++) writes.push((await kv.put(`f/${i % 5}`, String(i))).version);
    })();
    let killed = false;
    for await (const e of watcher.watch("f/", { prefix: true, fromRevision: start + 1 })) {
      seen.push(e.revision);
      if (seen.length === 40 && !killed) {
        killed = true;
        await cluster.kill(victim);
      }
      if (seen.length === 150) break;
    }
    await writing;
    expect(seen).toEqual(writes);
    await cluster.startRank(victim);
  }, 60_000);
});
