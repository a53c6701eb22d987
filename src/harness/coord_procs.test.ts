import { describe, expect, it } from "vitest";
import { WorkerProc } from "./coord_procs.js";

describe("WorkerProc", () => {
  it("reports a worker's error line and its exit, and stop() after exit is harmless", async () => {
    const w = new WorkerProc("w", { role: "nope", endpoints: ["127.0.0.1:1"] });
    try {
      await expect(w.until("done", 15_000)).rejects.toThrow(/w: Error: no role nope/);
      expect(await w.exited).toBe("exited (1)");
      expect(w.all("error")).toHaveLength(1);
    } finally {
      await w.stop();
    }
  });

  it("stops a stopped (SIGSTOP) worker by PID", async () => {
    const w = new WorkerProc("w", {
      role: "waiter",
      endpoints: ["127.0.0.1:1"],
      timeoutMs: 60_000,
    });
    try {
      w.pause();
      await w.stop();
      expect(await w.exited).toMatch(/exited \((0|SIGTERM|SIGKILL)\)/);
    } finally {
      await w.stop();
    }
  });
});
