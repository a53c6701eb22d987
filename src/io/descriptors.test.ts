import { describe, expect, it } from "vitest";
import { openFileLimit, reservedDescriptors, shareDescriptors } from "./descriptors.js";

describe("descriptors", () => {
  it("reads the soft open-file limit", () => {
    const text =
      "Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                65536                files\n";
    expect(openFileLimit(text)).toBe(20_000);
    expect(openFileLimit("Max open files  unlimited  unlimited  files")).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(openFileLimit("nothing here")).toBe(1024);
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it("leaves the reserve and the peer port's share untouched, whatever the ports want", () => {
    const want = { peer: 100, client: 16_384, text: 4096 };
    expect(shareDescriptors(1_000_000, 3, want)).toEqual(want);
    const tight = shareDescriptors(1024, 3, want);
    expect(tight).not.toBeNull();
    const used = (tight?.peer ?? 0) + (tight?.client ?? 0) + (tight?.text ?? 0);
    expect(used + reservedDescriptors(3)).toBeLessThanOrEqual(1024);
    expect(tight?.client).toBeGreaterThan(tight?.text ?? 0);
    expect(shareDescriptors(100, 3, want)).toBeNull();
  });
});
