// The rank command with payloads, durable snapshots and the status file's state fields: real
// processes (each run to its end, killed by the helper's timeout otherwise).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRank, tempDir } from "../../test/helpers.js";
import { freePorts } from "./launch.js";

const dir = tempDir("payload");

interface Status {
  appliedSeq: number;
  snapshotSeq: number;
  stateHash: string;
  commands: number;
  commitIndex: number;
  submits?: { submitted: number; resolved: number; maxResolvedSeq: number; waits: number };
}

function expectUsageError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^yasp: /);
  expect(lines[0]).toMatch(pattern);
}

describe("yasp --payload, --checkpoint-bytes, --rejoin", () => {
  const bad: Array<[string, string[], RegExp]> = [
    ["a negative payload", ["--payload", "-1"], /--payload must be from 0 to 1048576 bytes/],
    ["a fractional payload", ["--payload", "1.5"], /--payload must be a whole number/],
    ["a payload over 1 MiB", ["--payload", "1048577"], /--payload must be from 0 to 1048576/],
    ["a non-numeric payload", ["--payload", "big"], /--payload/],
    ["a tiny checkpoint size", ["--checkpoint-bytes", "100"], /--checkpoint-bytes must be >= 4096/],
  ];
  for (const [name, args, pattern] of bad) {
    it(`rejects ${name} with one line`, async () =>
      expectUsageError(await runRank(["-i", "0", "-n", "3", ...args, "--log-dir", dir]), pattern));
  }

  it("--help names the new flags and warns that --rejoin is never for a new cluster", async () => {
    const r = await runRank(["--help"]);
    expect(r.stdout).toContain("--payload");
    expect(r.stdout).toContain("--checkpoint-bytes");
    expect(r.stdout).toMatch(/--rejoin[\s\S]*Never for the ranks of a new cluster/);
  });

  it("submits commands, snapshots them durably, and a restart finds the same state", async () => {
    const [port] = await freePorts(1);
    const status = join(dir, "status.json");
    const run = (t: string) =>
      runRank([
        ...["-i", "0", "-n", "1", "--base-port", String(port), "--log-dir", dir],
        ...["-t", t, "--rate", "300", "--payload", "100", "--checkpoint-bytes", "4096"],
        ...["--status-file", status, "--no-fsync"],
      ]);
    const first = await run("2.5");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /; submitted 750, resolved 750, waited 0 times at the in-flight bound\n$/,
    );
    const before = JSON.parse(readFileSync(status, "utf8")) as Status;
    expect(before.appliedSeq).toBe(749);
    expect(before.commands).toBe(750);
    expect(before.snapshotSeq).toBeGreaterThanOrEqual(0); // a checkpoint happened
    expect(before.stateHash).toMatch(/^[0-9a-f]{16}$/);
    expect(before.submits).toMatchObject({ submitted: 750, resolved: 750, maxResolvedSeq: 749 });
    // The WAL was rewritten above the snapshot: the state below it comes from the snapshot file.
    const again = await run("0");
    expect(again.code).toBe(0);
    const after = JSON.parse(readFileSync(status, "utf8")) as Status;
    expect(after).toMatchObject({
      appliedSeq: 749,
      stateHash: before.stateHash,
      commands: 750,
      snapshotSeq: before.snapshotSeq,
    });
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
