// Many writes in flight from one client on three real yasp-kv processes. The server keeps the
// results of at most 1024 requests per client id; the client sends a write only while its request
// number is within 1024 of the lowest one it still waits for, so none of them is forgotten (and
// refused stale_request) before it was applied.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { connect, type KvClient } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-window");
let cluster: KvCluster;
let kv: KvClient;

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir });
  kv = connect({ endpoints: cluster.endpoints, timeoutMs: 60_000 });
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      await kv.put("warm", "up", { timeoutMs: 2000 });
      break;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
  }
}, 60_000);

afterAll(async () => {
  await kv?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the request-number window", () => {
  it.each([0, 1, 2])(
    "5,000 concurrent puts on one client all succeed and all keys exist (rank %i first)",
    async (first) => {
      const n = 5000;
      const eps = [...cluster.endpoints.slice(first), ...cluster.endpoints.slice(0, first)];
      const kv = connect({ endpoints: eps, timeoutMs: 60_000 });
      const results = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          kv.put(`w${first}/${String(i).padStart(5, "0")}`, `v${i}`),
        ),
      );
      const failed = results.flatMap((r, i) =>
        r.status === "rejected" ? [`${i}: ${String(r.reason)}`] : [],
      );
      expect(failed.slice(0, 5)).toEqual([]);
      let count = 0;
      let start = `w${first}/`;
      for (;;) {
        const page = await kv.range({ start, end: `w${first}0` });
        count += page.entries.length;
        if (!page.more) break;
        start = `${page.entries[page.entries.length - 1]?.key ?? ""}\0`;
      }
      await kv.close();
      expect(count).toBe(n);
    },
    120_000,
  );
});
