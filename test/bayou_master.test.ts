// yasp-bayou as a user runs it (the built bin, real processes over loopback TCP): the corpus
// through --check (background gossip on, and part of it with --no-gossip), a write spread by
// gossip alone, contradicting gossip flags refused, a wrong expectation caught, scripts on
// stdin, bad lines, a server that dies, and an interrupted master that leaves nothing running. Every process started is stopped by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "yasp-bayou.js");
const started: ChildProcess[] = [];
const pidsSeen: number[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bayou(args: string[], input?: string): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  if (input !== undefined) child.stdin.end(input);
  const done = new Promise<Run>((resolve) =>
    child.once("exit", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for a condition, checking every 20 ms; fails the test after ms. */
async function until(what: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !what();) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${what.toString()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** "server 1 is node 1, pid 1234" lines (--verbose) → id → pid. */
function pidsIn(stderr: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [, id, pid] of stderr.matchAll(/(?:server|client) (\d+) is node \d+, pid (\d+)/g))
    m.set(id!, Number(pid));
  return m;
}

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.pid) c.kill("SIGKILL");
  for (const pid of pidsSeen.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});

describe("yasp-bayou", () => {
  const pairs = readdirSync(join(ROOT, "test", "bayou")).filter((f) => f.endsWith(".test")).length;

  it("passes every pair in test/bayou through --check, background gossip on (exact, ordered)", async () => {
    expect(pairs).toBeGreaterThanOrEqual(55);
    const r = await bayou(["--check", join(ROOT, "test", "bayou")]).done;
    expect(r.stdout).toMatch(new RegExp(`^${pairs} passed, 0 failed`, "m"));
    expect(r.stdout.match(/^pass /gm)?.length).toBe(pairs);
    expect(r.code).toBe(0);
  }, 300_000);

  it("passes the restore, retire, pause and spec pairs with --no-gossip too", async () => {
    // The whole corpus in this mode is run by hand (README); the simulator holds the mode to the
    // in-process reference on random scripts.
    const some = readdirSync(join(ROOT, "test", "bayou"))
      .filter((f) => /^(restore_|client_move_|retire_|pause_|spec_example).*\.test$/.test(f))
      .map((f) => join(ROOT, "test", "bayou", f));
    expect(some.length).toBeGreaterThanOrEqual(15);
    const r = await bayou(["--check", ...some, "--no-gossip"]).done;
    expect(r.stdout).toMatch(new RegExp(`^${some.length} passed, 0 failed`, "m"));
    expect(r.code).toBe(0);
  }, 300_000);

  it("spreads a write and its commit in the background, with no stabilize", async () => {
    const { child, done } = bayou([]);
    let stdout = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stdin!.write("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 2\nput 3 k v\n");
    // Asks server 0 for its log until the write shows there, stable.
    await until(() => {
      if (!stdout.includes("PUT:(k, v):TRUE")) child.stdin!.write("printLog 0\n");
      return stdout.includes("PUT:(k, v):TRUE");
    }, 20_000);
    child.stdin!.end("printLog 1\n");
    const r = await done;
    expect(r.stdout).toMatch(/PUT:\(k, v\):TRUE\nPUT:\(k, v\):TRUE\n$/);
    expect(r.code).toBe(0);
  }, 30_000);

  it("refuses --no-gossip with --gossip-ms, and a bad period, with one line and exit 2", async () => {
    for (const args of [
      ["--no-gossip", "--gossip-ms", "5"],
      ["--gossip-ms", "soon"],
    ]) {
      const r = await bayou(args, "").done;
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toMatch(
        /^yasp-bayou: (--no-gossip and --gossip-ms contradict|--gossip-ms needs a whole number)/,
      );
      expect(r.stdout).toBe("");
    }
  });

  it("--check reports a wrong expectation as FAIL and exits 1", async () => {
    const dir = tempDir("bayou-check");
    copyFileSync(join(ROOT, "test/bayou/spec_example_2.test"), join(dir, "wrong.test"));
    writeFileSync(join(dir, "wrong.sol"), "k:ERR_DEP\nk:v\nPUT:(k, v):FALSE\n");
    const r = await bayou(["--check", dir]).done;
    expect(r.stdout).toContain("FAIL wrong");
    expect(r.stdout).toContain('line 3: expected "PUT:(k, v):FALSE", got "PUT:(k, v):TRUE"');
    expect(r.code).toBe(1);
  }, 60_000);

  it("runs a script from stdin; bad lines get one stderr line each and the run goes on", async () => {
    const script = [
      "joinServer 0",
      "put 2",
      "joinServer x",
      "joinClient 2 0",
      "frobnicate 1 2",
      `put 2 k ${"x".repeat(5000)}`,
      "put 2 k v",
      "get 2 k",
      "get 2 nope",
      "printLog 0",
    ].join("\n");
    const r = await bayou([], `${script}\n`).done;
    expect(r.stdout).toBe("k:v\nnope:ERR_KEY\nPUT:(k, v):TRUE\n");
    expect(r.stderr.trim().split("\n")).toHaveLength(3);
    expect(r.stderr).toContain("line 6: put: <url> is longer than 4096 characters");
    expect(r.stderr).toContain("line 2: missing arguments");
    expect(r.stderr).toContain('line 3: joinServer: <sid> "x" is not a numeric id');
    expect(r.code).toBe(0);
  }, 30_000);

  it("reports a server that dies on stderr and goes on with the rest", async () => {
    const { child, done } = bayou(["--verbose"]);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin!.write("joinServer 0\njoinServer 1\njoinClient 2 0\nput 2 a 1\nstabilize\n");
    await until(() => pidsIn(stderr).has("2"), 20_000);
    const pid = pidsIn(stderr).get("1");
    expect(pid).toBeDefined();
    process.kill(pid!, "SIGKILL");
    await until(() => !alive(pid!), 5000);
    child.stdin!.end("printLog 1\nput 2 b 2\nstabilize\nprintLog 0\n");
    const r = await done;
    expect(r.stderr).toContain("server 1 died; continuing without it");
    expect(r.stdout).toBe("PUT:(a, 1):TRUE\nPUT:(b, 2):TRUE\n");
    expect(r.code).toBe(0);
  }, 30_000);

  it("stops every process it started when interrupted", async () => {
    const { child, done } = bayou(["--verbose"]);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin!.write("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 1\n");
    await until(() => pidsIn(stderr).size === 4, 20_000);
    const pids = [...pidsIn(stderr).values()];
    pidsSeen.push(...pids);
    expect(pids.every(alive)).toBe(true);
    child.kill("SIGINT");
    const r = await done;
    await until(() => !pids.some(alive), 5000);
    expect(pids.filter(alive)).toEqual([]);
    expect(r.code).toBe(130);
  }, 30_000);
});
