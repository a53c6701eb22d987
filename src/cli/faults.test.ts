import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NO_FAULTS } from "../faults/fault_model.js";
import { FaultyTransport } from "../faults/faulty_transport.js";
import { Prng } from "../faults/prng.js";
import type { WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import { SimClock } from "../sim/clock.js";
import { faultSettings, faultSpec, parseDelay, watchPartition } from "./faults.js";

class Counter implements Transport {
  sent = 0;
  send(): void {
    this.sent++;
  }
  onMessage(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const ping: WireMsg = { t: "ping", from: 0, round: 0 };

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("the fault flags", () => {
  it("parses --delay ranges", () => {
    expect(parseDelay("1-30")).toEqual({ minDelayMs: 1, maxDelayMs: 30 });
    expect(parseDelay("5")).toEqual({ minDelayMs: 5, maxDelayMs: 5 });
    expect(parseDelay("0.5-1.25")).toEqual({ minDelayMs: 0.5, maxDelayMs: 1.25 });
    expect(parseDelay("30-1")).toBeNull();
    expect(parseDelay("soon")).toBeNull();
  });

  it("keeps --delay in ms for the user and hands the fault model µs", () => {
    expect(() => faultSpec(0, 0, "soon")).toThrow(/--delay must look like 1-30/);
    const spec = faultSpec(0.1, 0.2, "1-30");
    expect(spec).toEqual({ drop: 0.1, dup: 0.2, minDelayMs: 1, maxDelayMs: 30 });
    expect(faultSettings(spec)).toEqual({
      drop: 0.1,
      dup: 0.2,
      minDelayUs: 1000,
      maxDelayUs: 30_000,
    });
    expect(faultSettings(faultSpec(0, 0, "0.5-1.25"))).toMatchObject({
      minDelayUs: 500,
      maxDelayUs: 1250,
    });
    expect(faultSettings(faultSpec(0.3, 0, undefined))).toEqual({
      drop: 0.3,
      dup: 0,
      minDelayUs: 0,
      maxDelayUs: 0,
    });
  });
});

describe("watchPartition (the --partition-file watcher)", () => {
  let dir: string;
  let file: string;
  let ft: FaultyTransport;
  let inner: Counter;
  let warnings: string[];
  let stop: () => void = () => {};

  /** Replace the file at once (temp + rename), as the scenario runner does. */
  const put = (text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const groups = () => JSON.stringify(ft.groups);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "yasp-partition-"));
    file = join(dir, "partition.json");
    inner = new Counter();
    const clock = new SimClock(0);
    ft = new FaultyTransport(inner, 0, NO_FAULTS, new Prng(1), clock);
    warnings = [];
  });

  afterEach(() => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies the groups of the file, follows a replacement, and heals when the file is removed", async () => {
    stop = watchPartition(file, ft, (l) => warnings.push(l), 5);
    expect(groups()).toBe("[]");
    put("[[0,1],[2]]");
    await until(() => groups() === "[[0,1],[2]]", "the first partition");
    ft.send(2, ping); // another group: cut
    ft.send(1, ping); // same group: through
    expect(ft.stats.cut).toBe(1);
    expect(inner.sent).toBe(1);

    put("[[0,2],[1]]");
    await until(() => groups() === "[[0,2],[1]]", "the replacement");
    ft.send(2, ping);
    expect(inner.sent).toBe(2);

    rmSync(file);
    await until(() => groups() === "[]", "the heal");
    ft.send(1, ping);
    ft.send(2, ping);
    expect(inner.sent).toBe(4);
    expect(ft.stats.cut).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("ignores a garbage file with one warning and keeps the partition in force; a later valid file applies", async () => {
    put("[[0],[1,2]]");
    stop = watchPartition(file, ft, (l) => warnings.push(l), 5);
    expect(groups()).toBe("[[0],[1,2]]"); // read at once, before the first interval

    put("{ not json");
    await until(() => warnings.length > 0, "the warning");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/is not a JSON list of rank groups; ignored/);
    expect(groups()).toBe("[[0],[1,2]]");

    put('[[0,"one"]]'); // JSON, but not groups of ranks: ignored too, and no second warning
    await new Promise((r) => setTimeout(r, 60));
    put("[1,2]");
    await new Promise((r) => setTimeout(r, 60));
    expect(groups()).toBe("[[0],[1,2]]");
    expect(warnings).toHaveLength(1);

    put("[[0,1,2]]");
    await until(() => groups() === "[[0,1,2]]", "the valid file after garbage");
  });

  it("a garbage file with no partition in force leaves every link up", async () => {
    put("garbage");
    stop = watchPartition(file, ft, (l) => warnings.push(l), 5);
    expect(warnings).toHaveLength(1);
    expect(groups()).toBe("[]");
    ft.send(1, ping);
    expect(inner.sent).toBe(1);
  });

  it("stops reading the file once stopped", async () => {
    stop = watchPartition(file, ft, (l) => warnings.push(l), 5);
    stop();
    put("[[0],[1]]");
    await new Promise((r) => setTimeout(r, 60));
    expect(groups()).toBe("[]");
  });
});
