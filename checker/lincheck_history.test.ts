// The history reader: accepted forms and the one-line errors for bad input.
import { describe, expect, it } from "vitest";
import { HistoryInputError, parseHistory } from "./lincheck_history.js";

const ok = { client: 1, op: "write", key: "x", value: "5", call: 10, ret: 20, status: "ok" };
const text = (...records: unknown[]): string => records.map((r) => JSON.stringify(r)).join("\n");

function errorOf(input: string): string {
  try {
    parseHistory(input);
  } catch (error) {
    if (error instanceof HistoryInputError) return error.message;
    throw error;
  }
  return "no error";
}

describe("parseHistory", () => {
  it("reads every op kind, synonyms, null values and blank lines", () => {
    const ops = parseHistory(
      [
        text(ok),
        "",
        text({ ...ok, op: "put", client: "c2", call: 1, ret: 2 }),
        text({ ...ok, op: "get", value: null, client: 3 }),
        text({
          client: 4,
          op: "cas",
          key: "x",
          from: null,
          to: "1",
          call: 5,
          ret: null,
          status: "unknown",
        }),
        text({ client: 5, op: "delete", key: "x", call: 5, ret: 9, status: "fail" }),
        text({ client: 6, op: "read", key: "x", call: 5, ret: 9, status: "fail" }),
      ].join("\n"),
    );
    expect(ops.map((op) => [op.line, op.op])).toEqual([
      [1, "write"],
      [3, "write"],
      [4, "read"],
      [5, "cas"],
      [6, "delete"],
      [7, "read"],
    ]);
    expect(ops[2]).toMatchObject({ op: "read", value: null });
    expect(ops[5]).toMatchObject({ op: "read", value: undefined });
  });

  it.each([
    ["{nope", "line 1: not valid JSON"],
    ["[1, 2]", "line 1: not a JSON object"],
    [text({ ...ok, op: "incr" }), 'line 1: "op" must be one of'],
    [text({ ...ok, key: 7 }), 'line 1: "key" must be a string'],
    [text({ ...ok, client: undefined }), 'line 1: "client" must be'],
    [text({ ...ok, call: "10" }), 'line 1: "call" must be a number'],
    [text({ ...ok, status: "maybe" }), 'line 1: "status" must be'],
    [text({ ...ok, ret: 5 }), 'line 1: "ret" (5) is before "call" (10)'],
    [text({ ...ok, ret: null }), 'line 1: "ret" is null but status is "ok"'],
    [text({ ...ok, value: true }), 'line 1: "value" must be a string, a number or null'],
    [text({ ...ok, op: "read", value: undefined }), 'line 1: "value" must be'],
    [text({ ...ok, op: "cas", from: "1" }), 'line 1: "to" must be'],
  ])("refuses %s", (input, message) => {
    expect(errorOf(input)).toContain(message);
  });

  it("reads a number value as its decimal text", () => {
    const ops = parseHistory(
      text({ ...ok, value: 5 }, { ...ok, op: "read", value: "5", call: 30, ret: 40 }),
    );
    expect(ops).toMatchObject([{ value: "5" }, { value: "5" }]);
  });

  it("names the line of a client's overlapping op", () => {
    const input = text(ok, { ...ok, key: "y" }, { ...ok, client: 1, call: 15, ret: 30 });
    expect(errorOf(input)).toMatch(/^line 2: client 1 called an op at 10 while its op on line 1/);
  });

  it("refuses an op after a client's op that never returned, allows one after a return", () => {
    const pending = { ...ok, status: "unknown", ret: null };
    expect(errorOf(text(pending, { ...ok, call: 50, ret: 60 }))).toContain("never returned");
    expect(errorOf(text(ok, { ...ok, call: 20, ret: 30 }))).toBe("no error");
  });
});
