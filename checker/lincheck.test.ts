// Known answers for the search and the per-key check, and a generated history that is
// linearizable by construction.
import { describe, expect, it } from "vitest";
import { checkHistory } from "./lincheck_check.js";
import { generateHistory, type RecordedOp } from "./lincheck_generate.js";
import { parseHistory, type OpStatus } from "./lincheck_history.js";

type V = string | null;
const line = (fields: Record<string, unknown>): string => JSON.stringify(fields);
const status = (s: OpStatus | undefined): OpStatus => s ?? "ok";

/** Builders for history lines: client, key and interval, then what the op did. */
const write = (c: number, key: string, value: V, call: number, ret: number | null, s?: OpStatus) =>
  line({ client: c, op: "write", key, value, call, ret, status: status(s) });
const read = (c: number, key: string, value: V, call: number, ret: number | null, s?: OpStatus) =>
  line({ client: c, op: "read", key, value, call, ret, status: status(s) });
const cas = (
  c: number,
  key: string,
  from: V,
  to: V,
  call: number,
  ret: number | null,
  s?: OpStatus,
) => line({ client: c, op: "cas", key, from, to, call, ret, status: status(s) });
const del = (c: number, key: string, call: number, ret: number | null, s?: OpStatus) =>
  line({ client: c, op: "delete", key, call, ret, status: status(s) });

const check = (...lines: string[]) => checkHistory(parseHistory(lines.join("\n")));
const resultOf = (...lines: string[]) => check(...lines).result;

describe("linearizable histories", () => {
  it("accepts an empty history and sequential ops", () => {
    expect(resultOf()).toBe("linearizable");
    expect(
      resultOf(read(1, "x", null, 0, 1), write(1, "x", "1", 2, 3), read(2, "x", "1", 4, 5)),
    ).toBe("linearizable");
  });

  it("accepts reads concurrent with a write seeing the old value, then the new one", () => {
    expect(
      resultOf(
        write(1, "x", "1", 0, 10),
        write(2, "x", "2", 20, 40),
        read(3, "x", "1", 21, 25),
        read(4, "x", "2", 26, 30),
        read(5, "x", "2", 41, 45),
      ),
    ).toBe("linearizable");
  });

  it("refuses a read going back to the old value after another saw the new one", () => {
    expect(
      resultOf(
        write(1, "x", "1", 0, 10),
        write(2, "x", "2", 20, 40),
        read(3, "x", "2", 21, 25),
        read(4, "x", "1", 26, 30),
      ),
    ).toBe("not linearizable");
  });

  it("accepts overlapping writes linearized against their call order", () => {
    expect(
      resultOf(
        write(1, "x", "a", 0, 100),
        write(2, "x", "b", 10, 20),
        read(3, "x", "a", 30, 40),
        cas(3, "x", "a", "c", 50, 60),
        del(2, "x", 70, 80),
        read(1, "x", null, 110, 120),
      ),
    ).toBe("linearizable");
  });

  it("accepts a generated history (a real register, random overlapping intervals)", () => {
    const history = generateHistory({
      seed: 7,
      opsPerKey: 1500,
      keys: 3,
      clients: 8,
      unknownRate: 0.03,
    });
    const text = history.map((op: RecordedOp) => JSON.stringify(op)).join("\n");
    const verdict = checkHistory(parseHistory(text));
    expect(verdict.result).toBe("linearizable");
    expect(verdict.keys).toBe(3);
  });
});

describe("violations", () => {
  it("finds a stale read: an old value after a newer write completed", () => {
    const verdict = check(
      write(1, "x", "1", 0, 10),
      write(1, "x", "2", 20, 30),
      read(2, "x", "1", 40, 50),
    );
    expect(verdict.result).toBe("not linearizable");
    expect(verdict.culprit?.op.line).toBe(3);
  });

  it("finds a lost write: acknowledged, never seen, later reads see the older value", () => {
    expect(
      resultOf(
        write(1, "x", "old", 0, 10),
        write(2, "x", "new", 20, 30),
        read(3, "x", "old", 35, 40),
        read(1, "x", "old", 45, 50),
      ),
    ).toBe("not linearizable");
  });

  it("finds a cas that succeeded twice from the same value", () => {
    expect(
      resultOf(
        write(1, "x", "0", 0, 10),
        cas(2, "x", "0", "a", 20, 40),
        cas(3, "x", "0", "b", 25, 45),
      ),
    ).toBe("not linearizable");
  });

  it("finds a read of a value never written", () => {
    expect(resultOf(write(1, "x", "1", 0, 10), read(2, "x", "ghost", 5, 20))).toBe(
      "not linearizable",
    );
  });

  it("finds a delete that did not take effect", () => {
    expect(
      resultOf(write(1, "x", "1", 0, 10), del(1, "x", 20, 30), read(2, "x", "1", 40, 50)),
    ).toBe("not linearizable");
  });
});

describe("unknown and failed ops", () => {
  it("lets an unknown write explain a read", () => {
    const lines = [write(1, "x", "1", 0, 10), read(2, "x", "2", 50, 60)];
    expect(resultOf(...lines)).toBe("not linearizable");
    expect(resultOf(...lines, write(3, "x", "2", 20, null, "unknown"))).toBe("linearizable");
    // An unknown op may take effect long after its call, but not before it.
    expect(resultOf(...lines, write(3, "x", "2", 70, null, "unknown"))).toBe("not linearizable");
  });

  it("lets an unknown write not take effect", () => {
    expect(
      resultOf(
        write(1, "x", "1", 0, 10),
        write(2, "x", "2", 20, null, "unknown"),
        read(3, "x", "1", 30, 40),
        read(3, "x", "1", 50, 60),
      ),
    ).toBe("linearizable");
  });

  it("lets an unknown cas take effect or not", () => {
    const base = [write(1, "x", "1", 0, 10), cas(2, "x", "1", "2", 20, null, "unknown")];
    expect(resultOf(...base, read(3, "x", "2", 30, 40))).toBe("linearizable");
    expect(resultOf(...base, read(3, "x", "1", 30, 40))).toBe("linearizable");
    expect(resultOf(...base, read(3, "x", "3", 30, 40))).toBe("not linearizable");
  });

  it("does not count fail ops as taking effect", () => {
    expect(
      resultOf(
        write(1, "x", "1", 0, 10),
        write(2, "x", "2", 20, 30, "fail"),
        read(3, "x", "2", 40, 50),
      ),
    ).toBe("not linearizable");
    expect(
      resultOf(
        write(1, "x", "1", 0, 10),
        cas(2, "x", "1", "2", 20, 30, "fail"),
        read(3, "x", "1", 40, 50),
        read(4, "x", "x", 40, 50, "fail"), // a failed read saw nothing
      ),
    ).toBe("linearizable");
  });

  it("ignores unknown reads", () => {
    expect(resultOf(write(1, "x", "1", 0, 10), read(2, "x", "9", 20, null, "unknown"))).toBe(
      "linearizable",
    );
  });
});

describe("partitioning by key", () => {
  it("names the bad key among good ones, smallest first", () => {
    const verdict = check(
      write(1, "a", "1", 0, 10),
      read(2, "a", "1", 20, 30),
      write(1, "b", "1", 40, 50),
      read(2, "b", "2", 60, 70),
      write(1, "c", "1", 80, 90),
      read(2, "c", "1", 100, 110),
      write(1, "d", "1", 120, 130),
      write(1, "d", "2", 140, 150),
      read(2, "d", "1", 160, 170),
    );
    expect(verdict.result).toBe("not linearizable");
    expect(verdict.failing.map((k) => k.key)).toEqual(["b", "d"]);
    expect(verdict.keys).toBe(4);
  });

  it("does not mix keys: a value of one key cannot explain a read of another", () => {
    expect(resultOf(write(1, "a", "1", 0, 10), read(2, "b", "1", 20, 30))).toBe("not linearizable");
  });
});

describe("limits", () => {
  // Twenty writes and twenty reads all concurrent, then two reads after them of different values:
  // impossible, but only after trying which write goes last among very many orders.
  const hard: string[] = [];
  for (let i = 0; i < 20; i++) {
    hard.push(write(i + 1, "x", `v${i}`, 0, 1000), read(i + 21, "x", `v${i}`, 0, 1000));
  }
  hard.push(read(50, "x", "v0", 1100, 1110), read(50, "x", "v1", 1200, 1210));

  it("gives up, rather than growing without bound, when the memo cap is reached", () => {
    const verdict = checkHistory(parseHistory(hard.join("\n")), { maxMemoBytes: 100_000 });
    expect(verdict.result).toBe("gave up");
    expect(verdict.gaveUp.map((k) => k.key)).toEqual(["x"]);
  });

  it("still reports a definite violation in another key", () => {
    const other = [write(101, "y", "1", 0, 10), read(102, "y", "2", 20, 30)];
    const verdict = checkHistory(parseHistory([...hard, ...other].join("\n")), {
      maxMemoBytes: 100_000,
    });
    expect(verdict.result).toBe("not linearizable");
    expect(verdict.failing.map((k) => k.key)).toEqual(["y"]);
  });
});
