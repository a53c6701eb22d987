import { randomBytes } from "node:crypto";
import net from "node:net";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePorts } from "../src/cli/launch.js";
import { runRank, tempDir } from "./helpers.js";

const dir = tempDir("cli");

/** One clear line on stderr, exit code 2 (as the README promises for bad input), no stack trace. */
function expectUsageError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^yasp: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("yasp CLI", () => {
  it("--help explains every flag", async () => {
    const r = await runRank(["--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "-i",
      "-o",
      "-l",
      "-t",
      "--cluster",
      "--ranks",
      "--base-port",
      "--rate",
      "--log-dir",
      "--grace",
      "--cluster-secret",
      "--insecure",
    ])
      expect(r.stdout).toContain(flag);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["an unknown flag", ["-i", "0", "-n", "3", "--bogus", "1"], /bogus/],
    ["-i outside the cluster", ["-i", "5", "-n", "3"], /outside the cluster/],
    ["a non-numeric -o", ["-i", "0", "-n", "3", "-o", "abc"], /-o/],
    ["a non-numeric -l", ["-i", "0", "-n", "3", "-l", "x"], /-l/],
    ["a non-numeric -t", ["-i", "0", "-n", "3", "-t", "soon"], /-t/],
    ["a missing -i", ["-n", "3"], /-i/],
    ["no cluster at all", ["-i", "0"], /--cluster|-n/],
  ];
  for (const [name, args, pattern] of bad) {
    it(`rejects ${name} with one line`, async () =>
      expectUsageError(await runRank([...args, "--log-dir", dir]), pattern));
  }

  it("rejects a malformed cluster file", async () => {
    const file = join(dir, "bad-cluster.json");
    writeFileSync(file, JSON.stringify(["127.0.0.1:7000", "nohost"]));
    expectUsageError(
      await runRank(["-i", "0", "--cluster", file, "--log-dir", dir]),
      /cluster file .*\[1\]/,
    );
    writeFileSync(file, "{not json");
    expectUsageError(await runRank(["-i", "0", "--cluster", file, "--log-dir", dir]), /not JSON/);
    expectUsageError(
      await runRank(["-i", "0", "--cluster", join(dir, "missing.json"), "--log-dir", dir]),
      /cannot read/,
    );
  });

  describe("peer authentication flags", () => {
    const secret = join(dir, "secret");
    const run = (...args: string[]) => runRank(["-i", "0", "--log-dir", dir, ...args]);

    it("rejects a cluster secret file that is missing, unreadable or too short", async () => {
      expectUsageError(
        await run("-n", "1", "--cluster-secret", join(dir, "no-secret")),
        /cannot read cluster secret .*no-secret: ENOENT/,
      );
      expectUsageError(await run("-n", "1", "--cluster-secret", dir), /cannot read cluster secret/);
      writeFileSync(secret, "fifteen bytes..\n");
      expectUsageError(
        await run("-n", "1", "--cluster-secret", secret),
        /cluster secret .* has 15 bytes, at least 16 are needed \(make one: head -c 32/,
      );
    });

    it("refuses a non-loopback cluster without a secret, unless --insecure", async () => {
      expectUsageError(
        await run("-n", "3", "--host", "10.11.12.13"),
        /cluster names 10\.11\.12\.13, which is not loopback: give --cluster-secret <file> .* or, .*--insecure/,
      );
      const file = join(dir, "remote-cluster.json");
      writeFileSync(file, JSON.stringify(["127.0.0.1:7000", "db.example:7000"]));
      expectUsageError(await run("--cluster", file), /cluster names db\.example, .*not loopback/);
      // --insecure gets past the check: what stops this rank is the address it cannot listen on.
      expectUsageError(
        await run("-n", "3", "--host", "10.11.12.13", "--insecure"),
        /cannot listen on 10\.11\.12\.13/,
      );
    });

    it("takes either --cluster-secret or --insecure, not both", async () => {
      writeFileSync(secret, randomBytes(32));
      expectUsageError(
        await run("-n", "1", "--cluster-secret", secret, "--insecure"),
        /either --cluster-secret or --insecure/,
      );
    });

    it("a single rank with a secret runs as without one", async () => {
      writeFileSync(secret, "a secret of more than sixteen bytes\n");
      const [port] = await freePorts(1);
      const r = await runRank([
        ...["-i", "0", "-n", "1", "--base-port", String(port), "-t", "0.3", "--rate", "100"],
        ...["--cluster-secret", secret, "--log-dir", join(dir, "with-secret")],
      ]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^rank 0: converged; generated 30, committed 30 /);
    });
  });

  it("rejects an unwritable log directory before starting", async () => {
    const ro = join(dir, "readonly");
    writeFileSync(ro, "a file, not a directory");
    expectUsageError(
      await runRank(["-i", "0", "-n", "1", "--log-dir", join(ro, "sub")]),
      /cannot write log/,
    );
    chmodSync(ro, 0o644);
  });

  it("rejects a port in use", async () => {
    const [port] = await freePorts(1);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      expectUsageError(
        await runRank(["-i", "0", "-n", "1", "--base-port", String(port), "--log-dir", dir]),
        /address already in use/,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("a single rank runs, commits what it generated and exits 0 with a one-line summary", async () => {
    const [port] = await freePorts(1);
    const r = await runRank([
      "-i",
      "0",
      "-n",
      "1",
      "--base-port",
      String(port),
      "-t",
      "0.5",
      "--rate",
      "100",
      "--log-dir",
      dir,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^rank 0: converged; generated 50, committed 50 in [\d.]+ s; round \d+; cpu [\d.]+ s, peak rss \d+ MB; frames in \d+ out \d+, wal syncs \d+ \(avg [\d.]+ ms\)\n$/,
    );
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
