// The yasp-lincheck command: arguments, input, report and exit codes (lincheck_cli.ts runs it).
//
// Exit codes: 0 linearizable, 1 not linearizable, 2 the check could not be run (bad arguments,
// unreadable file, malformed history: one stderr line naming the line), 3 gave up (a key's search
// outgrew --max-memo-mb; no violation was found in any key). A violation in one key is reported
// as such even when another key gave up: it is a definite answer.
import { readFileSync } from "node:fs";
import yargs from "yargs";
import { HistoryInputError, parseHistory, type HistoryOp } from "./lincheck_history.js";
import { showValue } from "./lincheck_model.js";
import {
  checkHistory,
  type Culprit,
  type HistoryVerdict,
  type KeyVerdict,
} from "./lincheck_check.js";
import { DEFAULT_MAX_MEMO_BYTES } from "./lincheck_search.js";

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = "$0 [--json] [--max-memo-mb <n>] [history.jsonl | -]";
const MIB = 1024 * 1024;

interface Options {
  file: string;
  json: boolean;
  maxMemoBytes: number;
  helpShown: boolean;
}

/**
 * Runs the checker on the given arguments (without node and script) and returns the exit code.
 * readInput reads a file name, or standard input for "-" (a parameter so tests need no files).
 */
export function runLincheck(
  args: readonly string[],
  output: Output,
  readInput: (file: string) => string = readHistoryText,
): number {
  try {
    const options = parseOptions(args, output);
    if (options.helpShown) return 0;
    const history = parseHistory(readInput(options.file));
    const verdict = checkHistory(history, { maxMemoBytes: options.maxMemoBytes });
    output.stdout(
      options.json ? `${JSON.stringify(toJson(verdict), null, 2)}\n` : formatVerdict(verdict),
    );
    return verdict.result === "linearizable" ? 0 : verdict.result === "not linearizable" ? 1 : 3;
  } catch (error) {
    output.stderr(`yasp-lincheck: ${describeFailure(error)}\n`);
    return 2;
  }
}

function parseOptions(args: readonly string[], output: Output): Options {
  let helpText = "";
  const parsed = yargs()
    .scriptName("yasp-lincheck")
    .usage(
      `${USAGE}\n\nChecks that a recorded history (JSON lines, one op a line) is linearizable.`,
    )
    .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
    .option("max-memo-mb", {
      type: "number",
      default: DEFAULT_MAX_MEMO_BYTES / MIB,
      describe: "memory a key's search may use before giving up (exit 3)",
    })
    .epilog(
      "Reads standard input when no file or - is given. Exit codes: 0 linearizable, " +
        "1 not linearizable, 2 bad input or arguments, 3 gave up (search too large).",
    )
    .parserConfiguration({ "parse-positional-numbers": false, "duplicate-arguments-array": false })
    .strictOptions()
    .version(false)
    .help()
    .exitProcess(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new UsageError(message ?? error?.message ?? "invalid arguments");
    })
    .parseSync(args as string[], {}, (_error, _argv, text) => {
      helpText = text;
    });
  if (parsed.help === true) {
    output.stdout(helpText.endsWith("\n") ? helpText : `${helpText}\n`);
    return { file: "-", json: false, maxMemoBytes: 0, helpShown: true };
  }
  const megabytes = parsed["max-memo-mb"];
  if (!Number.isFinite(megabytes) || megabytes <= 0) {
    throw new UsageError("--max-memo-mb needs a positive number");
  }
  const files = parsed._.map(String);
  if (files.length > 1) throw new UsageError(`one history file at a time (got ${files.length})`);
  return {
    file: files[0] ?? "-",
    json: parsed.json,
    maxMemoBytes: megabytes * MIB,
    helpShown: false,
  };
}

function readHistoryText(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HistoryInputError(`cannot read ${file === "-" ? "standard input" : file}: ${reason}`);
  }
}

/** The text report: the verdict, then for a violation the smallest failing key's ops. */
export function formatVerdict(verdict: HistoryVerdict): string {
  const lines: string[] = [];
  const smallest = verdict.failing[0];
  if (smallest !== undefined) {
    lines.push("not linearizable");
    lines.push(...describeKey(smallest, verdict.culprit));
    const others = verdict.failing.slice(1).map((k) => JSON.stringify(k.key));
    if (others.length > 0) lines.push(`other failing keys: ${others.join(", ")}`);
  } else if (verdict.gaveUp.length > 0) {
    const keys = verdict.gaveUp.map((k) => JSON.stringify(k.key)).join(", ");
    lines.push(`gave up: search too large for key ${keys} (try a larger --max-memo-mb)`);
  } else {
    lines.push("linearizable");
  }
  return `${lines.join("\n")}\n`;
}

function describeKey(key: KeyVerdict, culprit: Culprit | undefined): string[] {
  const shown = culprit?.shown ?? key.history;
  const lines = [
    `key ${JSON.stringify(key.key)}: no order of its ${key.history.length} operations fits a register`,
  ];
  if (culprit !== undefined) {
    lines.push(
      `it goes wrong when line ${culprit.op.line} returns (marked >); ` +
        `the operations called by then:`,
    );
  }
  for (const op of shown) lines.push(`${op === culprit?.op ? ">" : " "} ${formatOp(op)}`);
  const hidden = key.history.length - shown.length;
  if (hidden > 0) lines.push(`  (${hidden} later operations not shown)`);
  return lines;
}

/** One op, readable: line, client, what it did, its interval and status. */
export function formatOp(op: HistoryOp): string {
  const interval = `${op.call}..${op.ret ?? ""}`;
  return `line ${op.line}  client ${String(op.client)}  ${describeAction(op)}  ${interval}  ${op.status}`;
}

function describeAction(op: HistoryOp): string {
  switch (op.op) {
    case "write":
      return `write ${showValue(op.value)}`;
    case "read":
      return `read -> ${showValue(op.value)}`;
    case "cas":
      return `cas ${showValue(op.from)} -> ${showValue(op.to)}`;
    case "delete":
      return "delete";
  }
}

/** The --json result. */
export function toJson(verdict: HistoryVerdict): Record<string, unknown> {
  const smallest = verdict.failing[0];
  return {
    result: verdict.result,
    keys: verdict.keys,
    operations: verdict.operations,
    failingKeys: verdict.failing.map((k) => k.key),
    gaveUpKeys: verdict.gaveUp.map((k) => k.key),
    smallestFailingKey:
      smallest === undefined
        ? null
        : {
            key: smallest.key,
            culpritLine: verdict.culprit?.op.line ?? null,
            operations: smallest.history,
          },
  };
}

class UsageError extends Error {}

function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const known = error instanceof HistoryInputError || error instanceof UsageError;
  // One line whatever the message holds: scripts read the checker's output.
  return (known ? message : `internal error: ${message}`).replace(/\s*\n\s*/g, " ");
}
