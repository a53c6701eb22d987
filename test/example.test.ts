// The README's example program runs as written: three ranks of the counter service in one process.
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const dir = tempDir("example");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the counter example", () => {
  it("submits on three ranks and reads the same total on each after a read barrier", async () => {
    const entry = join(import.meta.dirname, "..", "src", "examples", "counter_cluster.ts");
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", entry, dir],
        { timeout: 60_000, killSignal: "SIGKILL" },
        (err, stdout) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout }),
      ),
    );
    expect(out.code).toBe(0);
    // 1+2+3 from each of three ranks.
    expect(out.stdout.match(/visits = 18 \(read at seq \d+\)/g)).toHaveLength(3);
    expect(out.stdout.match(/add visits \d -> \d+ \(seq \d+\)/g)).toHaveLength(9);
  }, 70_000);
});
