// `yaspctl shell`: one command a line, from a terminal (with a prompt) or piped in. It takes
// yaspctl's own commands and the Paxos KV seed's `GET k`, `PUT k v`, `DELETE k`, keywords in any
// case. A line it cannot read gets one line of help; a failed command one error line; either way
// the shell goes on. Lines run one after another, in order, each waiting for its answer.
import { createInterface } from "node:readline";
import type { KvClient } from "../client/index.js";
import { UsageError } from "./config.js";
import { reportFailure, runOp, wholeNumber, type Op, type Printer } from "./yaspctl_ops.js";

const HELP =
  "commands: put <key> <value> | get <key> | getm <key> | del <key> | cas <key> <version> <value> | range <start> <end> [limit] | list <prefix> | status | help | quit (keywords in any case)";

/** The operation a line asks for; null: quit; undefined: an empty line. */
export function parseShellLine(text: string): Op | null | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const words = trimmed.split(/\s+/);
  const cmd = (words[0] ?? "").toLowerCase();
  const arg = (i: number) => words[i] as string;
  const want = (n: number, usage: string) => {
    if (words.length !== n) throw new UsageError(`usage: ${usage}`);
  };
  switch (cmd) {
    case "put":
    case "set": {
      // The value is the rest of the line, spaces inside it kept.
      const m = /^\S+\s+(\S+)\s+(.*)$/.exec(trimmed);
      if (!m) throw new UsageError("usage: put <key> <value>");
      return { op: "put", key: m[1] as string, value: m[2] as string };
    }
    case "get":
    case "getm":
      want(2, `${cmd} <key>`);
      return { op: cmd, key: arg(1), stale: false };
    case "del":
    case "delete":
      want(2, "del <key>");
      return { op: "del", key: arg(1) };
    case "cas": {
      const m = /^\S+\s+(\S+)\s+(\S+)\s+(.*)$/.exec(trimmed);
      if (!m) throw new UsageError("usage: cas <key> <version> <value>");
      const version = wholeNumber(m[2], "the version");
      return { op: "cas", key: m[1] as string, version, value: m[3] as string };
    }
    case "range": {
      if (words.length !== 3 && words.length !== 4)
        throw new UsageError("usage: range <start> <end> [limit]");
      const limit = words.length === 4 ? wholeNumber(arg(3), "the limit", 0xffffffff) : undefined;
      return { op: "range", query: { start: arg(1), end: arg(2) }, stale: false, limit };
    }
    case "list":
      want(2, "list <prefix>");
      return { op: "range", query: { prefix: arg(1) }, stale: false };
    case "status":
      want(1, "status");
      return { op: "status" };
    case "quit":
    case "exit":
      return null;
    default:
      throw new UsageError(cmd === "help" ? HELP : `unknown command ${cmd}; ${HELP}`);
  }
}

/** Runs the shell until the input ends or `quit`; always exit code 0 (failures were printed). */
export async function runShell(
  kv: KvClient,
  input: NodeJS.ReadableStream,
  p: Printer,
  /** A terminal to prompt on (and edit lines in); undefined: piped input, no prompt. */
  terminal?: NodeJS.WritableStream,
): Promise<number> {
  const interactive = terminal !== undefined;
  const rl = createInterface({ input, output: terminal, terminal: interactive });
  rl.setPrompt("yasp> ");
  if (interactive) rl.prompt();
  try {
    for await (const text of rl) {
      if (!(await runLine(kv, text, p))) break;
      if (interactive) rl.prompt();
    }
  } finally {
    rl.close();
  }
  return 0;
}

/** false: the line said quit. */
async function runLine(kv: KvClient, text: string, p: Printer): Promise<boolean> {
  let op: Op | null | undefined;
  try {
    op = parseShellLine(text);
    if (op === null) return false;
    if (op !== undefined) await runOp(kv, op, p);
  } catch (e) {
    reportFailure(e, p.stderr);
  }
  return true;
}
