// The request-number window against a fake server: a write is sent only while its request number
// is below the lowest one still unanswered plus REQUEST_WINDOW (the server keeps 1024 results per
// client); the others wait in the client and go, with the numbers they were given, as it moves.
import { afterEach, describe, expect, it } from "vitest";
import { MAX_RESULTS_PER_CLIENT } from "../kv/kv_tables.js";
import { REQUEST_WINDOW } from "./client.js";
import { FakeKvServer } from "./fake_server.test_helper.js";
import { connect, Timeout, type KvClient } from "./index.js";

const servers: FakeKvServer[] = [];
const clients: KvClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(): Promise<{ s: FakeKvServer; kv: KvClient }> {
  const s = await FakeKvServer.start("window");
  servers.push(s);
  const kv = connect({ endpoints: [s.endpoint], timeoutMs: 10_000 });
  clients.push(kv);
  return { s, kv };
}

const writes = (s: FakeKvServer) =>
  s.received.flatMap(({ request: r }) => ("req" in r ? [{ req: r.req, low: r.low }] : []));

const until = async (f: () => boolean) => {
  const end = Date.now() + 10_000;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("the request-number window", () => {
  it("is the server's table size", () => {
    expect(REQUEST_WINDOW).toBe(MAX_RESULTS_PER_CLIENT);
  });

  it("holds writes 1024 or more above the lowest unanswered one until it is answered", async () => {
    const { s, kv } = await setup();
    s.answerWith = (r) => (r.type === "put" && r.req === 1 ? null : undefined); // 1 hangs
    const first = kv.put("k0", "v", { timeoutMs: 1000 }).catch((e: unknown) => e);
    const rest = Array.from({ length: 2000 }, (_, i) => kv.put(`k${i + 1}`, "v"));
    await until(() => writes(s).length >= REQUEST_WINDOW);
    await new Promise((r) => setTimeout(r, 200)); // nothing more goes while request 1 waits
    expect(Math.max(...writes(s).map((w) => w.req))).toBe(REQUEST_WINDOW);
    expect(await first).toBeInstanceOf(Timeout); // given up: the window moves past it
    await Promise.all(rest);
    const sent = writes(s);
    expect(sent).toHaveLength(2001);
    for (const w of sent) expect(w.req).toBeLessThan(w.low + REQUEST_WINDOW);
    expect(new Set(sent.map((w) => w.req)).size).toBe(2001); // each sent once, its own number
    expect(s.store.data.size).toBe(2000);
  });

  it("a write held past its timeout fails Timeout, saying it did not take effect", async () => {
    const { s, kv } = await setup();
    s.answerWith = (r) => (r.type === "put" && r.req === 1 ? null : undefined);
    const first = kv.put("k0", "v", { timeoutMs: 600 }).catch(() => {});
    const puts = Array.from({ length: REQUEST_WINDOW }, (_, i) =>
      kv.put(`k${i + 1}`, "v", { timeoutMs: 300 }).catch((e: unknown) => e),
    );
    const last = (await Promise.all(puts)).at(-1);
    expect(last).toBeInstanceOf(Timeout);
    expect((last as Error).message).toMatch(/not sent within 300 ms.*did not take effect/);
    expect(writes(s).some((w) => w.req === REQUEST_WINDOW + 1)).toBe(false);
    await first;
  });

  it("is not held back by a waiting acquire (it may wait for ever)", async () => {
    const { s, kv } = await setup();
    s.answerWith = (r) => (r.type === "acquire" ? null : undefined); // waits
    const ac = new AbortController();
    const waiting = kv.acquire("L", { session: 5, signal: ac.signal }).catch((e: unknown) => e);
    const puts = await Promise.all(
      Array.from({ length: 1500 }, (_, i) => kv.put(`k${i}`, "v", { timeoutMs: 5000 })),
    );
    expect(puts).toHaveLength(1500);
    // low still names the acquire: the server keeps its place until it is answered or evicted
    expect(writes(s).every((w) => w.low === 1)).toBe(true);
    ac.abort();
    await waiting;
  });

  it("resends the unanswered writes in the window after a drop, with their numbers", async () => {
    const { s, kv } = await setup();
    s.mode = "silent";
    const puts = Array.from({ length: 1500 }, (_, i) => kv.put(`k${i}`, "v"));
    await until(() => writes(s).length >= REQUEST_WINDOW);
    await new Promise((r) => setTimeout(r, 100));
    expect(writes(s)).toHaveLength(REQUEST_WINDOW);
    s.mode = "normal";
    s.dropAll();
    await Promise.all(puts);
    const sent = writes(s).map((w) => w.req);
    // 1..1024 twice (sent, then resent), 1025..1500 once
    expect(sent.length).toBe(2 * REQUEST_WINDOW + (1500 - REQUEST_WINDOW));
    expect(new Set(sent).size).toBe(1500);
    for (const w of writes(s)) expect(w.req).toBeLessThan(w.low + REQUEST_WINDOW);
  });
});
