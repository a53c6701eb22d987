// A watcher on a rank that is cut off from the majority (its client port still accepts and
// answers; only the peer links are cut) leaves it: without progress frames from that rank for
// ConnectOptions.watchStallMs, the client moves to the next endpoint and resumes from `through`.
// Three real yasp-kv processes; the cut is KvCluster.partition (the ranks' partition file).
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { connect, type KvClient } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-watch-partition");
let cluster: KvCluster;
const clients: KvClient[] = [];

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir, partitionFile: true });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(endpoints: string[]): KvClient {
  const c = connect({ endpoints, timeoutMs: 10_000, watchStallMs: 3000 });
  clients.push(c);
  return c;
}

describe("a watch on a partitioned rank", () => {
  it("fails over to a rank of the majority and sees every later revision once, in order", async () => {
    const e = cluster.endpoints;
    const writer = client([e[0] as string]);
    // The watcher has every endpoint; only their order puts it on rank 2.
    const watcher = client([e[2] as string, e[0] as string, e[1] as string]);
    const start = (await writer.put("pw/start", "0")).version;
    const seen: number[] = [];
    const seenAt: number[] = [];
    const watching = (async () => {
      for await (const ev of watcher.watch("pw/", { prefix: true, fromRevision: start + 1 })) {
        seen.push(ev.revision);
        seenAt.push(performance.now());
        if (seen.length === 40) return;
      }
    })();
    const writes: number[] = [];
    for (let i = 0; i < 20; i++) writes.push((await writer.put(`pw/${i % 3}`, String(i))).version);
    await until(() => seen.length === 20, 15_000);
    // The watch is on rank 2 (its status counts the watches of its client connections).
    const rank2 = client([e[2] as string]);
    expect((await rank2.status()).watches).toBe(1);
    cluster.partition([[0, 1], [2]]);
    await sleep(500); // the ranks poll the partition file every 50 ms
    const cutAt = performance.now();
    for (let i = 20; i < 40; i++) writes.push((await writer.put(`pw/${i % 3}`, String(i))).version);
    const written = performance.now();
    await Promise.race([
      watching,
      sleep(20_000).then(() => {
        throw new Error(`the watcher saw ${seen.length} of 40 revisions within 20 s of the writes`);
      }),
    ]);
    expect(seen).toEqual(writes);
    expect((await rank2.status()).watches).toBe(0); // it left rank 2 (still up, still answering)
    const lastSeen = seenAt.at(-1) ?? 0;
    console.log(
      `partitioned watcher: writes done ${Math.round(written - cutAt)} ms after the cut, ` +
        `all seen ${Math.round(lastSeen - cutAt)} ms after the cut`,
    );
    cluster.partition([]);
  }, 60_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await sleep(25);
  }
}
