// Keepalive routing during a failover, and reconnecting after an idle spell, against fake ranks.
import { afterEach, describe, expect, it } from "vitest";
import type { ClientRequest } from "../kv/client_wire.js";
import { KvCore } from "./client.js";
import { FakeKvServer, type Answer } from "./fake_server.test_helper.js";
import { MasterRouter } from "./master.js";

const servers: FakeKvServer[] = [];
const closers: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(name: string, port?: number): Promise<FakeKvServer> {
  const s = await FakeKvServer.start(name, undefined, port === undefined ? {} : { port });
  servers.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A rank that answers status with its number and keepalives as master() says. */
function rank(s: FakeKvServer, n: number, master: () => number): void {
  s.answerWith = (r: ClientRequest): Answer | undefined => {
    if (r.type === "status") return { type: "status", json: JSON.stringify({ rank: n }) };
    if (r.type !== "session_keepalive") return undefined;
    const m = master();
    return m === n
      ? { type: "kept", ttlMs: 3000 }
      : { type: "error", code: "not_master", message: "", master: m };
  };
}

const keepalives = (s: FakeKvServer) =>
  s.received.filter((r) => r.request.type === "session_keepalive").length;

describe("MasterRouter.keepalive during a failover", () => {
  it("does not follow hints back to the master that just failed, and tries until the deadline", async () => {
    const s = [await server("r0"), await server("r1"), await server("r2")];
    let master = 1;
    s.forEach((x, i) => rank(x, i, () => master));
    const router = new MasterRouter({ endpoints: s.map((x) => x.endpoint), timeoutMs: 2000 });
    closers.push(router);
    const at = () => performance.now() + 3000;
    // Rank 1 is master, then rank 0: the router learns where ranks 0 and 1 are.
    expect(await router.keepalive(7, at(), 500)).toBe(3000);
    master = 0;
    expect(await router.keepalive(7, at(), 500)).toBe(3000);
    expect(keepalives(s[0] as FakeKvServer)).toBeGreaterThan(0);

    // Rank 0 stops; the others still name it (their acceptors hold its lease) for 1.6 s, then
    // rank 2 takes over.
    (s[0] as FakeKvServer).mode = "silent";
    const t0 = performance.now();
    const r2At: number[] = [];
    const r2 = s[2] as FakeKvServer;
    const plain = r2.answerWith;
    r2.answerWith = (r) => {
      if (r.type === "session_keepalive") r2At.push(performance.now() - t0);
      return plain(r);
    };
    setTimeout(() => (master = 2), 1600).unref();
    const ttl = await router.keepalive(7, t0 + 3000, 500);
    expect(ttl).toBe(3000);
    // Rank 2 was asked in the first round (not only after going back to rank 0 again and
    // again), and rank 0 was asked once per round, not after every hint.
    expect(r2At[0]).toBeLessThan(700);
    expect(keepalives(s[0] as FakeKvServer)).toBeLessThanOrEqual(1 + 1 + 4);
  }, 15_000);
});

describe("KvCore's reconnect backoff", () => {
  it("connects at once to an endpoint that failed a while ago (a rank since restarted)", async () => {
    const first = await server("before");
    const port = first.port;
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const core = new KvCore({ endpoints: [`127.0.0.1:${port}`], timeoutMs: 2000 });
    closers.push(core);
    // Refused again and again while a call waits: the backoff grows towards 1 s.
    const gone = await core.call({ type: "status" }, { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(String(gone)).toMatch(/ECONNREFUSED/);
    await sleep(1200); // idle: the rank comes back meanwhile
    await server("after", port);
    const st = await core.call({ type: "status" }, { timeoutMs: 300 });
    expect(st).toMatchObject({ server: "after" });
  }, 10_000);
});
