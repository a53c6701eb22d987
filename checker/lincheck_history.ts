// Reading and validating a recorded history: one JSON object a line, as described in
// docs/kv-service.md ("Histories and linearizability"):
//   {"client": 3, "op": "write", "key": "x", "value": "5", "call": 1200, "ret": 1450, "status": "ok"}
// ops: write (synonym put), read (synonym get), cas (from, to), delete. Values are strings or null
// (a read of an absent key returns null). call/ret come from one monotonic clock; ret is null only
// for an unknown op (it never returned). Fields other than the ones read here are ignored, so a
// recorder may add its own (a request id, an error text).
//
// Every problem is reported as a HistoryInputError naming the line, so that the CLI can print one
// line and exit 2: a checker that guessed at a malformed history would give verdicts nobody can
// trust. Blank lines are skipped.

export type Value = string | null;
export type OpStatus = "ok" | "fail" | "unknown";
export type OpKind = "write" | "read" | "cas" | "delete";

interface OpCommon {
  /** 1-based line number in the input, for messages */
  line: number;
  client: number | string;
  key: string;
  call: number;
  /** null: the op never returned (only allowed for status unknown) */
  ret: number | null;
  status: OpStatus;
}

export type HistoryOp = OpCommon &
  (
    | { op: "write"; value: Value }
    // A read that did not succeed may carry no value: undefined then.
    | { op: "read"; value: Value | undefined }
    | { op: "cas"; from: Value; to: Value }
    | { op: "delete" }
  );

/** A problem with the input itself (not a verdict); the CLI exits 2 on it. */
export class HistoryInputError extends Error {}

const OP_NAMES: ReadonlyMap<string, OpKind> = new Map<string, OpKind>([
  ["write", "write"],
  ["put", "write"],
  ["read", "read"],
  ["get", "read"],
  ["cas", "cas"],
  ["delete", "delete"],
]);
const STATUSES: ReadonlySet<string> = new Set(["ok", "fail", "unknown"]);

/** Parses and validates a whole history (the text of a JSON-lines file). */
export function parseHistory(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "") continue;
    ops.push(parseLine(line, i + 1));
  }
  checkClientsSequential(ops);
  return ops;
}

/** Parses one non-blank line (lineNumber is 1-based). */
export function parseLine(text: string, lineNumber: number): HistoryOp {
  const fail = (why: string): never => {
    throw new HistoryInputError(`line ${lineNumber}: ${why}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail("not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return fail("not a JSON object");
  }
  const record = parsed as Record<string, unknown>;
  const common = readCommon(record, lineNumber, fail);
  const op = OP_NAMES.get(String(record.op));
  if (typeof record.op !== "string" || op === undefined) {
    return fail(`"op" must be one of write, put, read, get, cas, delete`);
  }
  switch (op) {
    case "write":
      return { ...common, op, value: readValue(record, "value", fail) };
    case "read":
      // Only a successful read must say what it saw; the others are dropped by the checker.
      if (common.status !== "ok" && !("value" in record))
        return { ...common, op, value: undefined };
      return { ...common, op, value: readValue(record, "value", fail) };
    case "cas":
      return {
        ...common,
        op,
        from: readValue(record, "from", fail),
        to: readValue(record, "to", fail),
      };
    case "delete":
      return { ...common, op };
  }
}

function readCommon(
  record: Record<string, unknown>,
  line: number,
  fail: (why: string) => never,
): OpCommon {
  const { client, key, call, ret, status } = record;
  if (!(typeof client === "string" && client !== "") && !Number.isFinite(client)) {
    fail(`"client" must be a number or a non-empty string`);
  }
  if (typeof key !== "string") fail(`"key" must be a string`);
  if (typeof call !== "number" || !Number.isFinite(call)) fail(`"call" must be a number`);
  if (typeof status !== "string" || !STATUSES.has(status)) {
    fail(`"status" must be "ok", "fail" or "unknown"`);
  }
  if (ret === null) {
    // Only an unknown op may lack a return: ok and fail are answers the client received.
    if (status !== "unknown") fail(`"ret" is null but status is "${String(status)}"`);
  } else if (typeof ret !== "number" || !Number.isFinite(ret)) {
    fail(`"ret" must be a number or null`);
  } else if (ret < call) {
    fail(`"ret" (${ret}) is before "call" (${String(call)})`);
  }
  return {
    line,
    client: client as number | string,
    key,
    call,
    ret,
    status: status as OpStatus,
  };
}

function readValue(
  record: Record<string, unknown>,
  field: string,
  fail: (why: string) => never,
): Value {
  const value = record[field];
  if (value === null || typeof value === "string") return value;
  // Recorders that write numbers (Jepsen's register tests do) mean the same as their decimal text.
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return fail(`"${field}" must be a string, a number or null`);
}

/**
 * One client has at most one op open at a time: each of its ops must be called no earlier than the
 * previous one returned. An unknown op that never returned (ret null) must be the client's last.
 * The search itself does not need this, but a history breaking it was recorded wrongly (two
 * clients under one id, or a clock that went back), and its verdict would mean little.
 */
function checkClientsSequential(ops: readonly HistoryOp[]): void {
  const byClient = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    // Distinguish 3 from "3" so that two recorders' naming schemes are not merged.
    const id = `${typeof op.client}:${op.client}`;
    const list = byClient.get(id);
    if (list === undefined) byClient.set(id, [op]);
    else list.push(op);
  }
  for (const list of byClient.values()) {
    list.sort((a, b) => a.call - b.call || a.line - b.line);
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1];
      const next = list[i];
      if (previous === undefined || next === undefined) continue;
      if (previous.ret === null || previous.ret > next.call) {
        const until = previous.ret === null ? "never returned" : `was open until ${previous.ret}`;
        throw new HistoryInputError(
          `line ${next.line}: client ${String(next.client)} called an op at ${next.call} while ` +
            `its op on line ${previous.line} ${until} (one client has one op open at a time)`,
        );
      }
    }
  }
}
