// yasp-kv-cluster as a user runs it: it prints every rank's addresses, serves, and a Ctrl-C
// (SIGINT, sent by PID) stops every rank it started.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-cluster-cli");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("yasp-kv-cluster", () => {
  it("prints the ranks' addresses, serves them, and stops every rank on SIGINT", async () => {
    const entry = join(import.meta.dirname, "..", "src", "cli", "kv_cluster_cli.ts");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", entry, "-n", "3", "--base-port", "0", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let stoppedAll = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start: ${out}`)), 30_000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("Ctrl-C stops the cluster")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const endpoints = [...out.matchAll(/client (127\.0\.0\.1:\d+)/g)].map((m) => m[1] as string);
      expect(endpoints).toHaveLength(3);
      expect(out).toMatch(/rank 2: client 127\.0\.0\.1:\d+, text 127\.0\.0\.1:\d+, peer/);
      const kv = connect({ endpoints });
      try {
        await kv.put("greeting", "hello");
        expect(Buffer.from((await kv.get("greeting")).value).toString()).toBe("hello");
      } finally {
        await kv.close();
      }
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      // Every rank is gone: nobody answers on the client ports.
      const after = connect({ endpoints, timeoutMs: 1000 });
      try {
        await expect(after.status()).rejects.toThrow();
        stoppedAll = true;
      } finally {
        await after.close();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      // If the test failed before its ranks were seen gone, none of them outlives it.
      for (const m of stoppedAll ? [] : out.matchAll(/\(pid (\d+)\)/g)) {
        try {
          process.kill(Number(m[1]), "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }, 60_000);
});

describe("yasp-kv-cluster's usage", () => {
  const entry = join(import.meta.dirname, "..", "src", "cli", "kv_cluster_cli.ts");
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", entry, ...args], { encoding: "utf8" });

  it("--help prints the usage and exits 0; an unknown flag is one line and exit 2", () => {
    const help = run("--help");
    expect([help.status, help.stdout]).toEqual([
      0,
      expect.stringMatching(/^usage: yasp-kv-cluster/),
    ]);
    const bad = run("--bogus", "1");
    expect(bad.status).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe("yasp-kv-cluster: unknown flag --bogus");
  });
});
