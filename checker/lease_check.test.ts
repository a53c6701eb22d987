// yasp-lease-check: passes logs whose held intervals never overlap across ranks (renewals of one
// rank may), fails overlapping ones naming both lines, and refuses bad input with exit 2.
import { describe, expect, it } from "vitest";
import { checkLeases, parseLeaseLog, runLeaseCheck } from "./lease_check.js";

function run(files: Record<string, string>) {
  let out = "";
  let err = "";
  const code = runLeaseCheck(
    Object.keys(files),
    (t) => (out += t),
    (t) => (err += t),
    (f) => {
      const text = files[f];
      if (text === undefined) throw Object.assign(new Error("no"), { code: "ENOENT" });
      return text;
    },
  );
  return { code, out, err };
}

const r0 = [
  "start 0 1000",
  "held 0 7 2000000 2930000",
  "held 0 7 2250000 3180000",
  "held 0 7 2500000 3430000",
].join("\n");
const r1 = ["start 1 1000", "held 1 9 4500000 5430000", "held 1 9 4750000 5680000", ""].join("\n");

describe("yasp-lease-check", () => {
  it("passes disjoint leases, with masters, terms and the hand-over gap", () => {
    const { code, out } = run({ "a.log": r0, "b.log": r1, "c.log": "start 2 5\n" });
    expect(code).toBe(0);
    expect(out).toBe(
      "pass: 3 logs, 2 masters, 2 terms, 1 hand-overs, gaps min 1070.0 ms / max 1070.0 ms\n",
    );
  });

  it("fails when two ranks' intervals overlap, naming both lines", () => {
    const late = "held 1 9 3400000 4300000\n"; // starts before rank 0's last until (3430000)
    const { code, out } = run({ "a.log": r0, "b.log": late });
    expect(code).toBe(1);
    expect(out).toMatch(/^FAIL: two ranks held the lease at once:\n/);
    expect(out).toContain("rank 0 term 7 [2500000, 3430000) (a.log:4) overlaps rank 1 term 9");
    expect(out).toContain("(b.log:1)");
  });

  it("finds an overlap hidden behind a long interval of the same rank", () => {
    const held = [
      ...parseLeaseLog("held 0 1 0 100\nheld 1 2 50 60\nheld 0 1 10 20\n", "x"),
      ...parseLeaseLog("held 2 3 70 80\n", "y"),
    ];
    expect(checkLeases(held).overlaps.length).toBe(2);
  });

  it("an ended line cuts the lease short: a take-over right after passes", () => {
    const stopped = r0 + "\nended 0 7 2600000\n";
    const next = "held 1 9 2700000 3630000\n";
    expect(run({ "a.log": stopped, "b.log": next }).code).toBe(0);
    expect(run({ "a.log": r0, "b.log": next }).code).toBe(1); // without it, an overlap
  });

  it("refuses bad input with one line and exit 2", () => {
    const bad: Record<string, string>[] = [
      { "a.log": "held 0 1 5 x\n" },
      { "a.log": "held 0 1 5\n" },
      { "a.log": "lease 0 1 5 6\n" },
      { "a.log": "held 0 1 9 5\n" },
      { "a.log": "held -1 1 5 9\n" },
    ];
    for (const files of bad) {
      const { code, err } = run(files);
      expect(code, JSON.stringify(files)).toBe(2);
      expect(err).toMatch(/^yasp-lease-check: a\.log:1: .+\n$/);
    }
    expect(run({ "missing.log": undefined as unknown as string }).err).toBe(
      "yasp-lease-check: cannot read missing.log: ENOENT\n",
    );
    expect(run({}).code).toBe(2);
  });
});
