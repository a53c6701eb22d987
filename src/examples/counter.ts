// The example state machine of the README: named counters, driven by one-line text commands.
// It is meant to be read: everything a StateMachine has to get right is here, and nothing else.
import type { StateMachine } from "../ports.js";

/** A command for CounterMachine: add delta to a counter (creating it at 0), or read one. */
export type CounterCommand =
  { op: "add"; name: string; delta: number } | { op: "get"; name: string };

/** What apply answers: the counter's value, or why the command could not be used. */
export type CounterResult = number | { error: string };

// A name is one word: commands are split on spaces, so a name holding one could not be parsed back.
const NAME = /^\S+$/;
const INTEGER = /^-?\d+$/;
const encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are a bad command, not something to repair with U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes of a command (`add <name> <delta>` or `get <name>`); throws for a name or a delta
 * that apply would refuse, since catching that here is kinder than an error result later. */
export function encodeCounterCommand(command: CounterCommand): Uint8Array {
  if (!NAME.test(command.name)) {
    throw new Error(`bad counter name: ${JSON.stringify(command.name)}`);
  }
  if (command.op === "get") return encoder.encode(`get ${command.name}`);
  if (!Number.isSafeInteger(command.delta)) throw new Error(`bad delta: ${command.delta}`);
  return encoder.encode(`add ${command.name} ${command.delta}`);
}

export class CounterMachine implements StateMachine {
  private counters = new Map<string, number>();
  /** The seq of the last command applied (-1: none; seqs start at 0). */
  private lastSeq = -1;

  apply(seq: number, command: Uint8Array): CounterResult {
    this.lastSeq = seq;
    let text: string;
    try {
      text = decoder.decode(command);
    } catch {
      return { error: "command is not UTF-8 text" };
    }
    const words = text.split(" ");
    const [op, name, delta] = words;
    if (op === "get" && words.length === 2 && name !== undefined && NAME.test(name)) {
      return this.counters.get(name) ?? 0;
    }
    if (op === "add" && words.length === 3 && name !== undefined && NAME.test(name)) {
      return this.add(name, delta ?? "");
    }
    return { error: `unknown command: ${JSON.stringify(text.slice(0, 100))}` };
  }

  /** A local read (no command, no log): linearizable after rank.readBarrier() resolved. */
  value(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  private add(name: string, deltaText: string): CounterResult {
    const delta = Number(deltaText);
    if (!INTEGER.test(deltaText) || !Number.isSafeInteger(delta)) {
      return { error: `bad delta: ${JSON.stringify(deltaText.slice(0, 100))}` };
    }
    // Past 2^53 numbers lose precision: refuse rather than let the value drift.
    const value = (this.counters.get(name) ?? 0) + delta;
    if (!Number.isSafeInteger(value)) return { error: `counter ${name} would overflow` };
    this.counters.set(name, value);
    return value;
  }

  /** `{"seq":<last applied>,"counters":{...}}` with the names sorted, so that equal states give
   * equal bytes on every rank. */
  snapshot(): Uint8Array {
    const names = [...this.counters.keys()].sort();
    // fromEntries defines own properties, so even a counter named __proto__ is kept as data.
    const counters = Object.fromEntries(names.map((n) => [n, this.counters.get(n)]));
    return encoder.encode(JSON.stringify({ seq: this.lastSeq, counters }));
  }

  /** Replaces the state by the snapshot's; throws (and keeps the old state) if it is not one. */
  restore(snapshot: Uint8Array, seq: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(snapshot));
    } catch (e) {
      throw new Error(`counter snapshot is not UTF-8 JSON: ${String(e)}`, { cause: e });
    }
    if (typeof parsed !== "object" || parsed === null) {
      throw new Error("counter snapshot is not a JSON object");
    }
    const { seq: taken, counters } = parsed as { seq?: unknown; counters?: unknown };
    // The library labels a snapshot with the last seq it handed on; no-ops (never applied) may
    // follow the last command applied, so the seq inside may be lower, but never higher.
    if (typeof taken !== "number" || !Number.isSafeInteger(taken) || taken < -1 || taken > seq) {
      throw new Error(`counter snapshot seq ${String(taken)} does not fit seq ${seq}`);
    }
    if (typeof counters !== "object" || counters === null || Array.isArray(counters)) {
      throw new Error("counter snapshot has no counters object");
    }
    const restored = new Map<string, number>();
    for (const [name, value] of Object.entries(counters)) {
      if (!NAME.test(name) || typeof value !== "number" || !Number.isSafeInteger(value)) {
        throw new Error(`counter snapshot has a bad entry: ${JSON.stringify(name)}`);
      }
      restored.set(name, value);
    }
    this.counters = restored;
    this.lastSeq = seq;
  }
}
