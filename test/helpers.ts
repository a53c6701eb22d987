// Helpers for tests that start real processes. Every process started is stopped by PID.
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rankEntry } from "../src/cli/launch.js";

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `yasp-${prefix}-`));
}

/** Run the rank CLI with args and wait for it (killed after timeoutMs). */
export function runRank(args: string[], timeoutMs = 20_000): Promise<Ran> {
  const { cmd, args: pre } = rankEntry();
  return new Promise((resolve) => {
    execFile(
      cmd,
      [...pre, ...args],
      { timeout: timeoutMs, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const code = err && typeof err.code === "number" ? err.code : err ? null : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Run the checker CLI (through its own entry point: tests never import checker code into src). */
export function runChecker(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "..", "checker", "cli.ts"), ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err && typeof err.code === "number" ? err.code : err ? null : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export function killAll(children: ChildProcess[]): void {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) c.kill("SIGKILL");
}
