// The compact text form of transcript scripts (src/protocol/testdata/): how a script line names a
// processor input, and how an effect is printed. One syntax both ways, so an effect line of one
// processor can be pasted as the input of another:
//   wire message   read{from:1 round:4 base:0}   grant{... ids:[1-0,1-1] state:{epoch:0 enq:2 deq:2 upTo:1}}
//   inputs         deliver <wire>   round 4   local commit=5 backlog=0   bump round=4 reason=timeout by=follower
//                  propose 3   note 1
//   effects        send 2 <wire>   broadcast <wire>   toLeader round 5   persist bind seq=0 ids=[1-0]
//                  log generate Instance[1-0] in seq 0 at 9000   warn ...   committed seq=0 id=1-0
// A word is anything without whitespace, braces, brackets or commas; other strings are JSON-quoted.
// Pure: no I/O.
import type {
  BumpReason,
  ConsensusIn,
  Effect,
  FollowerIn,
  LeaderIn,
  MsgIn,
  RoundChange,
} from "./effects.js";
import { wireMsg, type ProtocolMsg, type WireMsg } from "./messages.js";

/** Any input of any of the four processors. */
export type AnyInput = MsgIn | LeaderIn | FollowerIn | ConsensusIn;

/** A value as written, before it is given a type: a word, a list or an object. */
type Raw = string | Raw[] | { [key: string]: Raw };

const PLAIN_WORD = /^[^\s{}[\],"]+$/;

/** Reads compact values from one line, left to right. */
class Reader {
  pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  fail(what: string): never {
    throw new Error(`${what} at column ${this.pos + 1} of "${this.text}"`);
  }

  value(): Raw {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.list();
    if (c === '"') return this.quoted();
    return this.word(/[\s{}[\],]/);
  }

  object(): Raw {
    this.expect("{");
    const obj: { [key: string]: Raw } = {};
    for (this.skipSpace(); this.text[this.pos] !== "}"; this.skipSpace()) {
      if (this.pos >= this.text.length) this.fail('expected "}"');
      const key = this.word(/[\s{}[\],:]/);
      if (key in obj) this.fail(`field ${key} given twice`);
      this.expect(":");
      obj[key] = this.value();
    }
    this.pos++;
    return obj;
  }

  private list(): Raw {
    this.expect("[");
    const items: Raw[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      if (this.text[this.pos] !== ",") break;
      this.pos++;
    }
    this.expect("]");
    return items;
  }

  private quoted(): string {
    const m = /"(?:[^"\\]|\\.)*"/y;
    m.lastIndex = this.pos;
    const found = m.exec(this.text);
    if (!found) this.fail("unterminated string");
    this.pos += found[0].length;
    return JSON.parse(found[0]) as string;
  }

  private word(stop: RegExp): string {
    const start = this.pos;
    while (this.pos < this.text.length && !stop.test(this.text[this.pos] as string)) this.pos++;
    if (this.pos === start) this.fail("expected a value");
    return this.text.slice(start, this.pos);
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) this.fail(`expected "${ch}"`);
    this.pos++;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }
}

/** An integer as a script writes it (1_000 may be written for 1000). */
export function parseNumber(text: string, what: string): number {
  if (!/^-?\d+(_\d+)*$/.test(text)) throw new Error(`${what}: expected an integer, got "${text}"`);
  return Number(text.replaceAll("_", ""));
}

/** Bytes as a script writes them: x and hex digits (`x` alone is empty, a no-op command). */
export function parseBytes(text: string, what: string): Uint8Array {
  if (!/^x([0-9a-f]{2})*$/.test(text))
    throw new Error(`${what}: expected bytes like x0a1b, got "${text}"`);
  return Uint8Array.from(Buffer.from(text.slice(1), "hex"));
}

/** Fields of a wire message get their types: ids are strings, cmds and data bytes, runs are
 * [seq, round, ids] or [seq, round, ids, cmds], the rest numbers. */
function typed(key: string, raw: Raw): unknown {
  if (key === "ids") return strings(raw, key);
  if (key === "cmds") return strings(raw, key).map((c) => parseBytes(c, key));
  if (key === "data" && typeof raw === "string") return parseBytes(raw, key);
  if (key === "runs") {
    if (!Array.isArray(raw)) throw new Error("runs: expected a list of [seq,round,[ids]]");
    return raw.map((run) => {
      if (!Array.isArray(run) || (run.length !== 3 && run.length !== 4))
        throw new Error("runs: each run is [seq,round,[ids]] or [seq,round,[ids],[cmds]]");
      const typedRun = [
        typed("seq", run[0] as Raw),
        typed("round", run[1] as Raw),
        strings(run[2] as Raw, "runs ids"),
      ];
      if (run.length === 4) typedRun.push(typed("cmds", run[3] as Raw));
      return typedRun;
    });
  }
  if (typeof raw === "string") return parseNumber(raw, key);
  if (Array.isArray(raw)) return raw.map((item) => typed(key, item));
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typed(k, v)]));
}

function strings(raw: Raw, what: string): string[] {
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== "string"))
    throw new Error(`${what}: expected a list of ids like [a,b]`);
  return raw as string[];
}

/** A wire message in compact form (`read{from:1 round:4 base:0}`) or as JSON; validated like a frame. */
export function parseWire(text: string): ProtocolMsg {
  const trimmed = text.trim();
  let candidate: unknown;
  if (trimmed.startsWith("{")) candidate = JSON.parse(trimmed);
  else {
    const type = /^([a-zA-Z]+)\{/.exec(trimmed)?.[1];
    if (type === undefined)
      throw new Error(`expected a message like read{from:1 round:4 base:0}, got "${trimmed}"`);
    const reader = new Reader(trimmed);
    reader.pos = type.length;
    const fields = reader.object() as { [key: string]: Raw };
    if (!reader.atEnd()) reader.fail("unexpected text after the message");
    candidate = { t: type, ...(typed("", fields) as object) };
  }
  const parsed = wireMsg.safeParse(candidate);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((i) => `${i.path.join(".") || "message"}: ${i.message}`)
      .join("; ");
    throw new Error(`not a valid message (${why}): "${trimmed}"`);
  }
  // The master lease's messages never reach a processor (the rank hands them to its lease).
  if (parsed.data.t === "lease")
    throw new Error(`a lease message goes to no processor: "${trimmed}"`);
  return parsed.data;
}

/** `key=value` words (values in compact form); every key must be one of `keys`, each at most once. */
export function parseFields(text: string, keys: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const word of text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "")) {
    const eq = word.indexOf("=");
    const key = word.slice(0, eq);
    if (eq <= 0) throw new Error(`expected key=value, got "${word}"`);
    if (!keys.includes(key)) throw new Error(`unknown key "${key}" (known: ${keys.join(", ")})`);
    if (fields.has(key)) throw new Error(`key "${key}" given twice`);
    fields.set(key, word.slice(eq + 1));
  }
  return fields;
}

function requiredNumbers<K extends string>(text: string, keys: readonly K[]): Record<K, number> {
  const fields = parseFields(text, keys);
  const result = {} as Record<K, number>;
  for (const key of keys) {
    const value = fields.get(key);
    if (value === undefined) throw new Error(`missing ${key}=`);
    result[key] = parseNumber(value, key);
  }
  return result;
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  what: string,
): T {
  if (!allowed.includes(value as T))
    throw new Error(`${what}: expected one of ${allowed.join("|")}, got "${value ?? ""}"`);
  return value as T;
}

/** The processor input a script line names, or undefined if the verb is not an input. */
export function parseInput(verb: string, rest: string): AnyInput | undefined {
  switch (verb) {
    case "deliver":
      return { kind: "net", msg: parseWire(rest) };
    case "round":
      return parseRoundChange(rest);
    case "vote":
      return { kind: "vote" };
    case "local": {
      const { commit, backlog } = requiredNumbers(rest, ["commit", "backlog"]);
      return { kind: "local", commitIndex: commit, backlog };
    }
    case "bump": {
      const fields = parseFields(rest, ["round", "reason", "by"]);
      const round = parseNumber(fields.get("round") ?? "", "round");
      const reason = oneOf<BumpReason>(fields.get("reason"), ["timeout", "giveup"], "reason");
      const by = oneOf(fields.get("by"), ["leader", "follower", "consensus"] as const, "by");
      return { kind: "bump", round, reason, by };
    }
    case "propose":
      return { kind: "propose", count: parseNumber(rest.trim(), "propose") };
    case "note":
      return { kind: "note", note: parseNumber(rest.trim(), "note") };
    case "readBarrier":
      return { kind: "readBarrier", ticket: parseNumber(rest.trim(), "readBarrier") };
    case "submit": {
      const fields = parseFields(rest, ["ticket", "cmd"]);
      const ticket = parseNumber(fields.get("ticket") ?? "", "ticket");
      return { kind: "submit", ticket, cmd: parseBytes(fields.get("cmd") ?? "", "cmd") };
    }
    case "snapshot": {
      const fields = parseFields(rest, ["seq", "data"]);
      const seq = parseNumber(fields.get("seq") ?? "", "seq");
      return { kind: "snapshot", seq, data: parseBytes(fields.get("data") ?? "", "data") };
    }
    default:
      return undefined;
  }
}

export function formatValue(v: unknown): string {
  if (v instanceof Uint8Array) return `x${Buffer.from(v).toString("hex")}`;
  if (typeof v === "string") return PLAIN_WORD.test(v) ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}:${formatValue(x)}`)
      .join(" ")}}`;
  return String(v);
}

export function formatWire(msg: WireMsg): string {
  const { t, ...fields } = msg;
  return `${t}${formatValue(fields)}`;
}

/** `key=value ...` in compact form. */
export function formatFields(fields: object): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(" ");
}

/** An input in the form parseInput reads. */
export function formatInput(input: AnyInput): string {
  switch (input.kind) {
    case "net":
      return `deliver ${formatWire(input.msg)}`;
    case "round":
      return input.patience === undefined
        ? `round ${input.round}`
        : `round ${input.round} patience=${input.patience}`;
    case "local":
      return `local commit=${input.commitIndex} backlog=${input.backlog}`;
    case "vote":
      return "vote";
    case "bump":
      return `bump round=${input.round} reason=${input.reason} by=${input.by}`;
    case "propose":
      return `propose ${input.count}`;
    case "note":
      return `note ${input.note}`;
    case "readBarrier":
      return `readBarrier ${input.ticket}`;
    case "submit":
      return `submit ticket=${input.ticket} cmd=${formatValue(input.cmd)}`;
    case "snapshot":
      return `snapshot seq=${input.seq} data=${formatValue(input.data)}`;
    default:
      return JSON.stringify(input); // a kind added after this file was written: still shown
  }
}

/** One effect as one line. */
export function formatEffect(e: Effect): string {
  switch (e.kind) {
    case "send":
      return `send ${e.to} ${formatWire(e.msg)}`;
    case "broadcast":
      return `broadcast ${formatWire(e.msg)}`;
    case "toMsg":
    case "toLeader":
    case "toFollower":
    case "toConsensus":
      return `${e.kind} ${formatInput(e.msg)}`;
    case "persist": {
      const { r, ...fields } = e.record;
      return `persist ${r} ${formatFields(fields)}`;
    }
    case "log":
      return `log ${e.line.replace(/\n$/, "")}`;
    case "warn":
      return `warn ${e.line}`;
    case "committed": {
      const cmd = e.cmd.length > 0 ? ` cmd=${formatValue(e.cmd)}` : "";
      const ticket = e.ticket !== undefined ? ` ticket=${e.ticket}` : "";
      return `committed seq=${e.seq} id=${formatValue(e.id)}${cmd}${ticket}`;
    }
    case "install":
      return `install seq=${e.seq} data=${formatValue(e.data)}`;
    case "submitUnknown":
      return `submitUnknown ticket=${e.ticket}`;
    case "readDone":
      return `readDone ticket=${e.ticket} seq=${e.seq}`;
    default:
      return JSON.stringify(e); // an effect kind added after this file was written: still shown
  }
}

/** `round 5` or `round 5 patience=4`. */
function parseRoundChange(rest: string): RoundChange {
  const [roundText = "", ...more] = rest.trim().split(/\s+/);
  const round = parseNumber(roundText, "round");
  if (more.length === 0) return { kind: "round", round };
  const fields = parseFields(more.join(" "), ["patience"]);
  return { kind: "round", round, patience: parseNumber(fields.get("patience") ?? "", "patience") };
}
