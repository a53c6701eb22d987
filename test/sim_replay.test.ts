// Determinism across processes: `npm run sim -- --seed S` replays a seed exactly, in a fresh
// process, and prints its trace hash. In one process the same seed could agree with itself through
// shared state (a module-level cache, an interned table); separate processes share nothing.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { drawPlan } from "../src/sim/plan.js";
import { runSeed } from "../src/sim/run_seed.js";
import { killAll, type Ran } from "./helpers.js";

const SIM_ENTRY = join(import.meta.dirname, "..", "src", "harness", "sim.ts");
const RUN_TIMEOUT_MS = 40_000;
const children: ChildProcess[] = [];

/** Run the simulator's entry as its own process; killed by PID if it outlives the timeout. */
function runSim(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", SIM_ENTRY, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => killAll([child]), RUN_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The trace hash of a replayed seed, from its "seed S pass (trace <hash>, commits ...)" line. */
async function traceOf(seed: number): Promise<string> {
  const r = await runSim(["--seed", String(seed), "--ranks", "3"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const found = new RegExp(
    `^seed ${seed} pass \\(trace ([0-9a-f]{8}), commits [\\d,]+\\)$`,
    "m",
  ).exec(r.stdout);
  expect(found, r.stdout).not.toBeNull();
  return found?.[1] ?? "";
}

describe("simulator replay in separate processes", () => {
  afterAll(() => killAll(children));

  it("the same seed gives the same trace hash in two processes (and in this one); another seed another", async () => {
    // Sequential: each process starts tsx, and the machine is small.
    const first = await traceOf(11);
    const second = await traceOf(11);
    const other = await traceOf(12);
    expect(second).toBe(first);
    expect(other).not.toBe(first);
    expect((await runSeed(drawPlan(11, 3))).traceHash).toBe(first);
  }, 120_000);
});
