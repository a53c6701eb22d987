import { describe, expect, it } from "vitest";
import { bucketOf, bucketUs, LatencyBook, mergeSeconds } from "./latency.js";

describe("latency book", () => {
  it("reads percentiles to within 2%, over the seconds asked for only", () => {
    const a = new LatencyBook();
    const b = new LatencyBook();
    for (let i = 1; i <= 100; i++) a.record(1, i * 1000); // 1..100 ms in second 1
    b.record(1, 5_000_000); // one slow command on another rank, same second
    a.record(3, 9_000_000); // outside the window asked for
    const m = mergeSeconds([a.toJSON(), b.toJSON()], 0, 2);
    expect(m.n).toBe(101);
    expect(m.percentile(50) / 51_000).toBeGreaterThanOrEqual(1);
    expect(m.percentile(50) / 51_000).toBeLessThan(1.021);
    expect(m.percentile(100)).toBeGreaterThanOrEqual(5_000_000);
    expect(m.percentile(99) / 100_000).toBeLessThan(1.021);
    expect(mergeSeconds([a.toJSON()], 5, 8).percentile(50)).toBeNaN();
  });

  it("buckets cover every latency, and a bucket's edge is above what it holds", () => {
    for (const us of [0, 0.5, 1, 2, 999, 1e6, 1e12])
      expect(bucketUs(bucketOf(us))).toBeGreaterThanOrEqual(Math.min(us, 1e10));
  });
});
