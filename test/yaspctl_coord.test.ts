// yaspctl's coordination commands against three real yasp-kv processes: lock runs a command with
// the fencing token in its environment and releases afterwards, a second lock waits its turn,
// --no-wait fails while the lock is held, watch prints the changes, master names the master.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { main } from "../src/cli/yaspctl.js";
import { connect, LockHeldError, type KvClient } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("yaspctl-coord");
let cluster: KvCluster;
let kv: KvClient;

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir });
  kv = connect({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  const deadline = Date.now() + 30_000;
  while (((await kv.checkMaster())?.epoch ?? 0) === 0) {
    if (Date.now() > deadline) throw new Error("no active master in 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  await kv?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function ctl(args: string[], stop?: AbortSignal) {
  let out = "";
  let err = "";
  const code = await main(["--endpoints", cluster.endpoints.join(","), ...args], {
    stdout: { write: (c: string | Uint8Array) => (out += c.toString()) },
    stderr: { write: (c: string | Uint8Array) => (err += c.toString()) },
    ...(stop ? { stop } : {}),
  });
  return { code, out, err };
}

const node = (script: string) => ["--", process.execPath, "-e", script];

describe("yaspctl lock / watch / master", () => {
  it("master prints the master's rank and a non-zero epoch", async () => {
    const r = await ctl(["--json", "master"]);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as { rank: number; epoch: number };
    expect(m.rank).toBeGreaterThanOrEqual(0);
    expect(m.epoch).toBeGreaterThan(0);
  });

  it("lock runs the command with the token, exits with its code, and releases the lock", async () => {
    // The command checks that it was given the token and the lock's name, then exits 7.
    const script = `process.exit(process.env.YASP_LOCK_TOKEN && process.env.YASP_LOCK_NAME === "L1" ? 7 : 1)`;
    const r = await ctl(["lock", "L1", ...node(script)]);
    expect(r.err).toBe("");
    expect(r.code).toBe(7);
    // Released: a tryAcquire by another session succeeds at once.
    const s = await kv.session({ ttlMs: 5000 });
    const { token } = await kv.tryAcquire("L1", { session: s });
    await kv.release("L1", token);
    await s.close();
  });

  it("a second lock waits for the first; --no-wait fails while it is held; tokens increase", async () => {
    const s = await kv.session({ ttlMs: 5000 });
    const held = await kv.tryAcquire("L2", { session: s });
    const busy = await ctl(["lock", "--no-wait", "L2", ...node("process.exit(0)")]);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/L2 is held/);
    const stop = new AbortController();
    const waiting = ctl(["--json", "lock", "L2"], stop.signal); // no command: print, hold
    await new Promise((r) => setTimeout(r, 300));
    await kv.release("L2", held.token);
    // The waiting yaspctl gets it: a tryAcquire of ours is then refused.
    let takenByCtl = false;
    for (let i = 0; i < 200 && !takenByCtl; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const l = await kv.tryAcquire("L2", { session: s }).then(
        (g) => g,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      if (l instanceof LockHeldError) takenByCtl = true;
      else if (!(l instanceof Error)) await kv.release("L2", l.token); // before yaspctl queued
    }
    expect(takenByCtl).toBe(true);
    stop.abort();
    const r = await waiting;
    expect(r.code).toBe(0);
    const token = (JSON.parse(r.out) as { token: number }).token;
    expect(token).toBeGreaterThan(held.token);
    await s.close();
  });

  it("as a process, lock without a command holds the lock until SIGINT, then releases it", async () => {
    // In-process runs cannot see this: the process must not exit while it holds the lock.
    const entry = join(dir, "yaspctl-entry.mjs");
    const src = join(import.meta.dirname, "..", "src", "cli", "yaspctl.ts");
    writeFileSync(entry, `import { run } from ${JSON.stringify(src)};\nrun();\n`);
    const args = [
      "--import",
      "tsx",
      entry,
      "--endpoints",
      cluster.endpoints.join(","),
      "lock",
      "L4",
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("exit", r));
      for (let i = 0; i < 300 && !out.includes("L4 "); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(/^L4 \d+\n$/);
      await new Promise((r) => setTimeout(r, 1000));
      expect(child.exitCode).toBeNull(); // still holding
      const s = await kv.session({ ttlMs: 5000 });
      await expect(kv.tryAcquire("L4", { session: s })).rejects.toBeInstanceOf(LockHeldError);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      const { token } = await kv.tryAcquire("L4", { session: s }); // released, not left to expire
      expect(token).toBeGreaterThan(Number(out.split(" ")[1]));
      await s.close();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("watch prints puts and deletes in order, with previous values", async () => {
    const rev = (await kv.put("w/a", "1")).version;
    await kv.put("w/a", "2");
    await kv.delete("w/a");
    const r = await ctl([
      "watch",
      "w/",
      "--prefix",
      "--prev",
      "--rev",
      String(rev),
      "--count",
      "3",
    ]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toEqual([
      `${rev} PUT w/a 1`,
      `${rev + 1} PUT w/a 2 (was 1)`,
      `${rev + 2} DELETE w/a (was 2)`,
    ]);
  });

  it("refuses bad arguments with one line and exit 2", async () => {
    for (const args of [
      ["lock"],
      ["lock", "L", "--ttl", "0", ...node("0")],
      ["session", "--ttl", "99999"],
      ["watch", "k", "--rev", "-1"],
      ["master", "--", "ls"],
    ]) {
      const r = await ctl(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
