// The command: output, exit codes, options (in process), and one run as its own process.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runLincheck } from "./lincheck_main.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const lines = (...records: unknown[]): string => records.map((r) => JSON.stringify(r)).join("\n");
const op = (client: number, fields: Record<string, unknown>) => ({
  client,
  key: "x",
  status: "ok",
  ...fields,
});

const GOOD = lines(
  op(1, { op: "write", value: "1", call: 0, ret: 10 }),
  op(2, { op: "read", value: "1", call: 20, ret: 30 }),
);
const STALE = lines(
  op(1, { op: "write", value: "1", call: 0, ret: 10 }),
  op(1, { op: "write", value: "2", call: 20, ret: 30 }),
  op(2, { op: "read", value: "1", call: 40, ret: 50 }),
  op(3, { op: "read", value: "2", call: 60, ret: null, status: "unknown" }),
  op(4, { op: "cas", key: "y", from: null, to: "a", call: 0, ret: 5 }),
);

function run(args: string[], input: string) {
  let stdout = "";
  let stderr = "";
  const code = runLincheck(
    args,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    () => input,
  );
  return { code, stdout, stderr };
}

describe("yasp-lincheck", () => {
  it("says linearizable and exits 0", () => {
    expect(run(["h.jsonl"], GOOD)).toEqual({ code: 0, stdout: "linearizable\n", stderr: "" });
  });

  it("prints the failing key's ops, marking the op that made it impossible, and exits 1", () => {
    const { code, stdout } = run(["h.jsonl"], STALE);
    expect(code).toBe(1);
    expect(stdout.split("\n")).toEqual([
      "not linearizable",
      'key "x": no order of its 4 operations fits a register',
      "it goes wrong when line 3 returns (marked >); the operations called by then:",
      '  line 1  client 1  write "1"  0..10  ok',
      '  line 2  client 1  write "2"  20..30  ok',
      '> line 3  client 2  read -> "1"  40..50  ok',
      "  (1 later operations not shown)",
      "",
    ]);
  });

  it("prints a JSON result with --json", () => {
    const { code, stdout } = run(["--json", "h.jsonl"], STALE);
    expect(code).toBe(1);
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      result: "not linearizable",
      keys: 2,
      operations: 5,
      failingKeys: ["x"],
      gaveUpKeys: [],
      smallestFailingKey: { key: "x", culpritLine: 3 },
    });
    expect(JSON.parse(run(["--json"], GOOD).stdout)).toMatchObject({ result: "linearizable" });
  });

  it("exits 2 with one line naming the bad line", () => {
    const { code, stdout, stderr } = run(["h.jsonl"], `${GOOD}\n{"client": 1`);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toBe("yasp-lincheck: line 3: not valid JSON\n");
  });

  it("exits 2 on bad arguments and shows help with --help", () => {
    expect(run(["--max-memo-mb", "0"], GOOD).code).toBe(2);
    expect(run(["a", "b"], GOOD).stderr).toContain("one history file at a time");
    expect(run(["--bogus"], GOOD).code).toBe(2);
    const help = run(["--help"], GOOD);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--max-memo-mb");
  });

  it("runs as a command reading standard input", async () => {
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ["--import", "tsx", "checker/lincheck_cli.ts"],
        { cwd: REPO },
        (error, stdout) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
          resolve({ code, stdout });
        },
      );
      child.stdin?.end(STALE);
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^not linearizable\n/);
  });
});
