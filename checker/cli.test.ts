// End-to-end tests: the CLI is run as its own process (node with the tsx loader), as during development.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonSummary } from "./report.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const T0 = 1_700_000_000_000_000;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The summary written by --json (read back as the type the checker writes). */
async function readSummary(file: string): Promise<JsonSummary> {
  return JSON.parse(await readFile(file, "utf8")) as JsonSummary;
}

function runChecker(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "checker/cli.ts", ...args],
      { cwd: REPO },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const at = (ms: number): number => T0 + ms * 1000;
const gen = (id: string, seq: number, ms: number): string =>
  `generate Instance[${id}] in seq ${seq} at ${at(ms)}`;
const commit = (id: string, seq: number, ms: number): string =>
  `commit Instance[${id}] in seq ${seq} at ${at(ms)}`;

/** Ranks 0-2; rank 0 generates a, b, rank 1 c, rank 2 d; every rank commits `seqs` (id -> seq). */
function runLogs(commitsOf: (rank: number) => string[]): string[][] {
  const generated = [[gen("a", 0, 0), gen("b", 1, 1)], [gen("c", 0, 2)], [gen("d", 0, 3)]];
  return generated.map((lines, rank) => ["starting rank", ...lines, ...commitsOf(rank), "bye"]);
}

// Latencies a 2, b 3, c 4, d 7 ms; 4 seqs from 0 to 10 ms.
const COMMITS = [commit("a", 0, 2), commit("b", 1, 4), commit("c", 2, 6), commit("d", 3, 10)];
const HEALTHY = runLogs(() => COMMITS);
const FORKED = runLogs((rank) =>
  rank === 2
    ? [commit("a", 0, 2), commit("b", 1, 4), commit("d", 2, 6), commit("c", 3, 10)]
    : [commit("a", 0, 2), commit("b", 1, 4), commit("c", 2, 6), commit("d", 3, 10)],
);
const GAPPED = runLogs(() => [
  commit("a", 0, 2),
  commit("b", 1, 4),
  commit("c", 3, 6),
  commit("d", 4, 10),
]);

const HEALTHY_REPORT = `Check on low pressure
----------begin to check------------
node 0 commits 4 times
node 1 commits 4 times
node 2 commits 4 times
---------- check validity ------------
pass
---------- check safety --------------
pass
---------- end -----------------------
---------- strict checks -------------
no gaps: pass
no double commit: pass
nothing lost: pass
---------- figures -------------------
commits/s: 400.0 (4 instances in 0.01 s)
latency generate->commit: p50 3.00 ms, p99 7.00 ms, max 7.00 ms
`;

// Sequential on purpose: each run starts tsx (~2 s of CPU), and parallel runs
// on a small machine would approach the per-test timeout.
describe("yasp-check CLI", () => {
  let dir = "";

  /** Writes rank-<i>.log files into a fresh directory and returns their paths, highest rank first. */
  async function writeSet(name: string, ranks: readonly string[][]): Promise<string[]> {
    const setDir = join(dir, name);
    await mkdir(setDir);
    const files = ranks.map((_, rank) => join(setDir, `rank-${rank}.log`));
    await Promise.all(
      files.map((file, rank) => writeFile(file, `${(ranks[rank] ?? []).join("\n")}\n`)),
    );
    return files.reverse();
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "yasp-check-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the exact report and exits 0 on a good set", async () => {
    const files = await writeSet("good", HEALTHY);
    const result = await runChecker(["--title", "low pressure", ...files]);
    expect(result).toEqual({ code: 0, stdout: HEALTHY_REPORT, stderr: "" });
  });

  it("exits 1 on a fork and says where", async () => {
    const result = await runChecker(await writeSet("fork", FORKED));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "---------- check safety --------------\nfail\n  rule 3: node 0 and node 2 differ at seq 2: Instance[c] vs Instance[d]\n",
    );
  });

  it("exits 1 on a gap, and 0 with --no-strict", async () => {
    const files = await writeSet("gap", GAPPED);
    const strict = await runChecker(files);
    const relaxed = await runChecker(["--no-strict", ...files]);
    expect(strict.code).toBe(1);
    expect(relaxed.code).toBe(0);
    for (const run of [strict, relaxed]) {
      expect(run.stdout).toContain("no gaps: fail\n  node 0 has no commit at seq 2\n");
      expect(run.stdout).toContain("---------- check safety --------------\npass\n");
    }
  });

  it("writes a JSON summary with --json", async () => {
    const files = await writeSet("json", FORKED);
    const summaryFile = join(dir, "summary.json");
    const result = await runChecker(["--json", summaryFile, ...files]);
    expect(result.code).toBe(1);
    const summary = await readSummary(summaryFile);
    expect(summary.ranks.map((rank: { commits: number }) => rank.commits)).toEqual([4, 4, 4]);
    expect(summary.rules.rule3).toMatchObject({ pass: false, violationCount: 4 });
    expect(summary.rules.rule1).toEqual({ pass: true, violationCount: 0, violations: [] });
    expect(summary.instances).toEqual({ generated: 4, committed: 4 });
    // On the forked rank 2, d (generated there) is committed at 6 ms: latencies 2, 3, 4, 3.
    expect(summary.latencyMs).toEqual({ p50: 3, p99: 4, max: 4, count: 4 });
    expect(summary.commitsPerSecond).toBeCloseTo(400, 6);
    expect(summary).toMatchObject({ pass: false, exitCode: 1, safety: false, validity: true });
  });

  it("exits 1 when one rank committed nothing, even with --no-strict, and says which", async () => {
    // Rank 1's log has its generate line and no commit line: a rank that never caught up.
    const files = await writeSet(
      "empty-rank",
      runLogs((rank) => (rank === 1 ? [] : COMMITS)),
    );
    const summaryFile = join(dir, "empty-rank.json");
    for (const args of [files, ["--no-strict", "--json", summaryFile, ...files]]) {
      const result = await runChecker(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain("node 1 commits 0 times\n");
      expect(result.stdout).toContain(
        "---------- check validity ------------\nfail\n" +
          "  node 1 have empty commit (hint: run longer, e.g. a larger -t, or check that the rank started)\n" +
          "---------- check safety --------------\npass\n",
      );
    }
    const summary = await readSummary(summaryFile);
    expect(summary).toMatchObject({
      pass: false,
      exitCode: 1,
      validity: false,
      safety: true,
      strict: false,
    });
    expect(summary.rules.nonEmpty).toMatchObject({ pass: false, violationCount: 1 });
  });

  it("exits 1, not 2, when one rank's file is empty (a rank that never wrote a line) beside real logs", async () => {
    const files = await writeSet("empty-file", HEALTHY);
    await writeFile(files.find((file) => file.endsWith("rank-2.log")) as string, "");
    const result = await runChecker(files);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("node 2 commits 0 times\n");
    expect(result.stdout).toMatch(/check validity -+\nfail\n {2}node 2 have empty commit \(hint: /);
  });

  it.each([
    [
      "files without a single generate or commit line",
      async () =>
        writeSet("not-logs", [
          ["starting rank"],
          ["INFO commit Instance[x] in seq 0 at 5"],
          ["bye"],
        ]),
      /^yasp-check: no generate or commit line in any of the 3 files \(are these yasp rank logs\?\)$/,
    ],
    [
      "a missing file",
      async () => [join(dir, "nowhere", "rank-0.log")],
      /^yasp-check: cannot read .*rank-0\.log: no such file$/,
    ],
    [
      "an empty file",
      async () => {
        const file = join(dir, "rank-9.log");
        await writeFile(file, "");
        return [file];
      },
      /^yasp-check: no generate or commit line in .*rank-9\.log \(are these yasp rank logs\?\)$/,
    ],
    ["no files", async () => [], /^yasp-check: no log files given/],
    [
      "an unknown flag",
      async () => ["--frobnicate", "x.log"],
      /^yasp-check: Unknown argument: frobnicate$/,
    ],
  ])("exits 2 with one stderr line on %s", async (_case, makeArgs, message) => {
    const result = await runChecker(await makeArgs());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
