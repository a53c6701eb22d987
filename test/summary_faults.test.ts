// The rank's summary line carries the fault counters when fault injection is on (the scenario
// runner reads them as proof that drops, duplicates and delays happened); without fault injection
// the line is unchanged (test/cli.test.ts pins it).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePorts, runCluster } from "../src/cli/launch.js";
import { parseFaultCounters } from "../src/harness/scenario_evidence.js";
import { runRank, tempDir } from "./helpers.js";

const dir = tempDir("summary-faults");

describe("summary line with fault injection", () => {
  it("ends with the fault counters when a partition file is watched", async () => {
    const [port] = await freePorts(1);
    const r = await runRank([
      "-i",
      "0",
      "-n",
      "1",
      "--base-port",
      String(port),
      "-t",
      "0.3",
      "--rate",
      "100",
      "--log-dir",
      join(dir, "one"),
      "--partition-file",
      join(dir, "none.json"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^rank 0: converged; generated 30, committed 30 in [\d.]+ s; round \d+; cpu .*; frames in \d+ out \d+, wal syncs \d+ \(avg [\d.]+ ms\); faults dropped 0, duplicated 0, delayed 0, cut 0\n$/,
    );
  });

  it("counts the frames each rank dropped", async () => {
    const outcomes = await runCluster({
      n: 2,
      logDir: join(dir, "two"),
      rankArgs: ["-o", "100", "-t", "0.5", "--rate", "100", "--drop", "0.2", "--seed", "4"],
      deadlineMs: 40_000,
    });
    for (const o of outcomes) {
      expect(o.code).toBe(0);
      const c = parseFaultCounters(o.stdout.trim());
      expect(c).not.toBeNull();
      expect(c?.dropped).toBeGreaterThan(0);
      expect(c).toMatchObject({ duplicated: 0, delayed: 0, cut: 0 });
    }
  }, 60_000);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
