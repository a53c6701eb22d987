import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeKvServer, FakeStore } from "./fake_server.test_helper.js";
import {
  BadRequest,
  connect,
  NotFound,
  Timeout,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  Unavailable,
  VersionMismatch,
  type KvClient,
} from "./index.js";

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** Servers and clients of the running test, stopped after it whatever happened. */
const servers: FakeKvServer[] = [];
const clients: KvClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof FakeKvServer.start>): Promise<FakeKvServer> {
  const s = await FakeKvServer.start(...args);
  servers.push(s);
  return s;
}

function client(...endpoints: string[]): KvClient {
  const c = connect({ endpoints, timeoutMs: 2000 });
  clients.push(c);
  return c;
}

/** An endpoint nothing listens on: a port that was just free. */
async function refusedEndpoint(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const addr = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `127.0.0.1:${addr.port}`;
}

const writesOf = (s: FakeKvServer) =>
  s.received.flatMap(({ clientId, request: r }) =>
    r.type === "put" || r.type === "cas" || r.type === "delete"
      ? [{ clientId, type: r.type, req: r.req, low: r.low }]
      : [],
  );

describe("client operations against a fake server", () => {
  it("put, get, getm, cas, delete, range, status", async () => {
    const s = await server();
    const kv = client(s.endpoint);
    const { version: v1 } = await kv.put("a/1", "one");
    const got = await kv.get("a/1");
    expect([text(got.value), got.version, got.expiresInMs]).toEqual(["one", v1, 0]);
    const { version: v2 } = await kv.cas("a/1", v1, Uint8Array.of(0, 13, 10, 255));
    expect(v2).toBeGreaterThan(v1);
    expect([...(await kv.getm("a/1")).value]).toEqual([0, 13, 10, 255]);
    const mismatch = await kv.cas("a/1", v1, "x").catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(VersionMismatch);
    expect((mismatch as VersionMismatch).currentVersion).toBe(v2);
    await kv.put("a/2", "two", { ttlMs: 60_000 });
    await kv.put("b", "three");
    expect((await kv.get("a/2")).expiresInMs).toBeGreaterThan(50_000);
    const byPrefix = await kv.range({ prefix: "a/" });
    expect(byPrefix.entries.map((e) => e.key)).toEqual(["a/1", "a/2"]);
    const limited = await kv.range({ start: "a/2", end: "" }, { limit: 1 });
    expect([limited.entries.map((e) => e.key), limited.more]).toEqual([["a/2"], true]);
    expect((await kv.delete("a/1")).version).toBeGreaterThan(v2);
    await expect(kv.get("a/1")).rejects.toBeInstanceOf(NotFound);
    await expect(kv.delete("a/1")).rejects.toBeInstanceOf(NotFound);
    await expect(kv.cas("nope", 1, "x")).rejects.toBeInstanceOf(NotFound);
    expect(await kv.status()).toEqual({ server: "fake", keys: 2 });
  });

  it("pipelines 1000 concurrent calls on one connection", async () => {
    const s = await server();
    const kv = client(s.endpoint);
    const puts = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => kv.put(`k${i}`, `v${i}`)),
    );
    expect(new Set(puts.map((p) => p.version)).size).toBe(1000);
    const gets = await Promise.all(Array.from({ length: 1000 }, (_, i) => kv.get(`k${i}`)));
    expect(gets.every((g, i) => text(g.value) === `v${i}`)).toBe(true);
    expect(s.connections).toBe(1);
    const reqs = writesOf(s).map((w) => w.req);
    expect(new Set(reqs).size).toBe(1000); // every write its own request number
  });

  it("sends low = the lowest request number still unanswered", async () => {
    const s = await server();
    const kv = client(s.endpoint);
    s.mode = "silent";
    const first = kv.put("x", "1", { timeoutMs: 300 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    s.mode = "normal";
    await kv.put("y", "2");
    expect(await first).toBeInstanceOf(Timeout);
    await kv.put("z", "3");
    const w = writesOf(s);
    expect(w.map((x) => [x.req, x.low])).toEqual([
      [1, 1],
      [2, 1], // request 1 still waiting
      [3, 3], // request 1 given up (timed out), 2 answered
    ]);
  });

  it("refuses bad arguments before sending anything", async () => {
    const s = await server();
    const kv = client(s.endpoint);
    await expect(kv.put("", "v")).rejects.toBeInstanceOf(BadRequest);
    await expect(kv.put("k", "v", { ttlMs: -1 })).rejects.toBeInstanceOf(BadRequest);
    await expect(kv.get("k".repeat(4097))).rejects.toBeInstanceOf(TooLarge);
    await expect(kv.cas("k", 1.5, "v")).rejects.toBeInstanceOf(BadRequest);
    expect(s.received).toHaveLength(0);
    expect(() => connect({ endpoints: ["nohost"] })).toThrow(BadRequest);
    expect(() => connect({ endpoints: [] })).toThrow(BadRequest);
  });
});

describe("client failover", () => {
  it("moves on when the first endpoint refuses", async () => {
    const s = await server("b");
    const kv = client(await refusedEndpoint(), s.endpoint);
    expect((await kv.put("k", "v")).version).toBe(1);
  });

  it.each(["drop-before", "drop-after"] as const)(
    "resends with the same client id and request number after a %s",
    async (fault) => {
      const store = new FakeStore();
      const a = await server("a", store);
      const b = await server("b", store);
      let dropped = false;
      a.fault = (req) => (req.type === "put" && !dropped ? ((dropped = true), fault) : undefined);
      const kv = client(a.endpoint, b.endpoint);
      const { version } = await kv.put("k", "v");
      expect(version).toBe(1);
      const sent = [...writesOf(a), ...writesOf(b)];
      expect(sent).toEqual([
        { clientId: kv.clientId, type: "put", req: 1, low: 1 },
        { clientId: kv.clientId, type: "put", req: 1, low: 1 },
      ]);
      expect(b.received).toHaveLength(1);
      expect(store.applied.get(`${kv.clientId}/1`)).toBe(1);
      expect(store.revision).toBe(1); // applied once although sent twice
    },
  );

  it("resends every unanswered pipelined call after a drop", async () => {
    const store = new FakeStore();
    const a = await server("a", store);
    const b = await server("b", store);
    a.mode = "silent";
    const kv = client(a.endpoint, b.endpoint);
    const calls = Array.from({ length: 50 }, (_, i) => kv.put(`k${i}`, "v"));
    while (a.received.length < 50) await new Promise((r) => setTimeout(r, 5));
    a.dropAll();
    expect((await Promise.all(calls)).length).toBe(50);
    expect(writesOf(b).map((w) => w.req)).toEqual(writesOf(a).map((w) => w.req));
  });

  it("retries on the next endpoint when a rank is not ready", async () => {
    const store = new FakeStore();
    const a = await server("a", store);
    const b = await server("b", store);
    a.mode = "not_ready";
    const kv = client(a.endpoint, b.endpoint);
    await kv.put("k", "v");
    expect(text((await kv.get("k")).value)).toBe("v");
    expect([a.received.length, b.received.length]).toEqual([1, 2]);
  });

  it("leaves a rank that answers nothing for a whole call timeout", async () => {
    const store = new FakeStore();
    const a = await server("a", store);
    const b = await server("b", store);
    a.mode = "silent";
    const kv = client(a.endpoint, b.endpoint);
    await expect(kv.get("k", { timeoutMs: 200 })).rejects.toBeInstanceOf(Timeout);
    await kv.put("k", "v");
    expect(b.received).toHaveLength(1);
  });

  it("fails with Unavailable when no endpoint can be reached", async () => {
    const kv = connect({ endpoints: [await refusedEndpoint(), await refusedEndpoint()] });
    clients.push(kv);
    const e = await kv.put("k", "v", { timeoutMs: 300 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Unavailable);
    expect((e as Error).message).toMatch(/no endpoint reachable.*ECONNREFUSED/);
  });
});

describe("client limits, timeouts and errors", () => {
  it("times out, saying a write's outcome is unknown", async () => {
    const s = await server();
    s.mode = "silent";
    const kv = client(s.endpoint);
    const put = await kv.put("k", "v", { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(put).toBeInstanceOf(Timeout);
    expect((put as Error).message).toMatch(
      /within 100 ms; the put may or may not have taken effect/,
    );
  });

  it("rejects with the abort reason", async () => {
    const s = await server();
    s.mode = "silent";
    const kv = client(s.endpoint);
    const ac = new AbortController();
    const get = kv.get("k", { signal: ac.signal });
    ac.abort(new Error("user gave up"));
    await expect(get).rejects.toThrow("user gave up");
    await expect(kv.get("k", { signal: ac.signal })).rejects.toThrow("user gave up");
  });

  it("maps the server's too_large to TooLarge, and refuses a value that cannot fit a frame", async () => {
    const s = await server("fake", undefined, { maxValueBytes: 10 });
    const kv = client(s.endpoint);
    await expect(kv.put("k", "x".repeat(11))).rejects.toBeInstanceOf(TooLarge);
    await expect(kv.put("k", new Uint8Array(3 * 1024 * 1024))).rejects.toBeInstanceOf(TooLarge);
    expect((await kv.put("k", "x".repeat(10))).version).toBeGreaterThan(0);
  });

  it("queues past maxInFlight and refuses past maxQueued", async () => {
    const s = await server();
    s.mode = "silent";
    const kv = connect({ endpoints: [s.endpoint], maxInFlight: 2, maxQueued: 2, timeoutMs: 500 });
    clients.push(kv);
    const calls = Array.from({ length: 4 }, (_, i) => kv.get(`k${i}`).catch((e: unknown) => e));
    await expect(kv.get("k5")).rejects.toBeInstanceOf(TooManyRequests);
    while (s.received.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(s.received).toHaveLength(2); // the queued two were never sent
    await kv.close();
    for (const c of await Promise.all(calls)) expect(c).toBeInstanceOf(Unavailable);
  });

  it("sends the auth token in hello, and fails every call when it is refused", async () => {
    const s = await server("fake", undefined, { token: "s3cret-token" });
    const good = connect({ endpoints: [s.endpoint], token: "s3cret-token", clientId: "me" });
    clients.push(good);
    await good.put("k", "v");
    expect(s.hellos).toEqual([{ clientId: "me", token: "s3cret-token" }]);
    const bad = connect({ endpoints: [s.endpoint], token: "wrong" });
    clients.push(bad);
    const calls = [bad.get("k"), bad.put("k", "w")];
    for (const c of calls) await expect(c).rejects.toBeInstanceOf(Unauthenticated);
    expect(s.received.filter((r) => r.clientId !== "me")).toHaveLength(0);
  });
});

describe("client over TLS", () => {
  /** A self-signed certificate for 127.0.0.1 (openssl; the test is skipped without it). */
  function selfSigned(): { cert: string; key: string } | undefined {
    const dir = mkdtempSync(join(tmpdir(), "yasp-tls-"));
    try {
      const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
          .concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=yasp-test"])
          .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
        { stdio: "ignore" },
      );
      return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
    } catch {
      return undefined;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const pem = selfSigned();

  it.skipIf(pem === undefined)("connects with the server's CA and refuses without it", async () => {
    const { cert, key } = pem as { cert: string; key: string };
    const s = await server("tls", undefined, { tls: { cert, key } });
    const trusted = connect({ endpoints: [s.endpoint], tls: { ca: cert } });
    clients.push(trusted);
    expect((await trusted.put("k", "v")).version).toBe(1);
    const untrusted = connect({ endpoints: [s.endpoint], tls: {}, timeoutMs: 300 });
    clients.push(untrusted);
    const e = await untrusted.get("k").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Unavailable);
    expect((e as Error).message).toMatch(/SELF_SIGNED|self.signed/i);
  });
});
