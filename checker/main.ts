// The yasp-check command: argument handling, exit codes and error reporting.
//
// Exit codes: 0 the logs pass, 1 a rule is violated (a rank that committed
// nothing fails validity), 2 the check could not be run (bad arguments,
// unreadable input, or files without a single generate or commit line: not a
// run that committed nothing, but no run at all). Errors are a single stderr line,
// never a stack trace, because the scripts that run the checker read its output.
import { writeFileSync } from "node:fs";
import yargs from "yargs";
import { checkLogSet, exitCodeOf } from "./check.js";
import { readLogSet } from "./load.js";
import { LogInputError } from "./parse.js";
import { formatReport, toJsonSummary } from "./report.js";

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = "$0 [--title <text>] [--no-strict] [--json <file>] <log files...>";

interface Options {
  title: string | undefined;
  strict: boolean;
  json: string | undefined;
  files: string[];
  helpShown: boolean;
}

/** Runs the checker on the given arguments (without node and script) and returns the exit code. */
export function runCli(args: readonly string[], output: Output): number {
  try {
    const options = parseOptions(args, output);
    if (options.helpShown) return 0;
    const result = checkLogSet(readLogSet(options.files));
    output.stdout(formatReport(result, options.title));
    if (options.json !== undefined) {
      writeJson(
        options.json,
        JSON.stringify(toJsonSummary(result, options.title, options.strict), null, 2),
      );
    }
    return exitCodeOf(result, options.strict);
  } catch (error) {
    output.stderr(`yasp-check: ${describeFailure(error)}\n`);
    return 2;
  }
}

function parseOptions(args: readonly string[], output: Output): Options {
  let helpText = "";
  const parsed = yargs()
    .scriptName("yasp-check")
    .usage(USAGE)
    .option("title", { type: "string", describe: 'print "Check on <text>" before the report' })
    .option("strict", {
      type: "boolean",
      default: true,
      describe: "let the strict checks decide the exit code too (--no-strict: only report them)",
    })
    .option("json", { type: "string", describe: "also write a JSON summary to this file" })
    // File names such as "0" must stay strings; a repeated option keeps its last value.
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
    return { title: undefined, strict: true, json: undefined, files: [], helpShown: true };
  }
  if (parsed.json === "") throw new UsageError("--json needs a file name");
  const files = parsed._.map(String);
  if (files.length === 0)
    throw new UsageError("no log files given (usage: yasp-check [options] <log files...>)");
  return { title: parsed.title, strict: parsed.strict, json: parsed.json, files, helpShown: false };
}

function writeJson(file: string, text: string): void {
  try {
    writeFileSync(file, `${text}\n`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LogInputError(`cannot write ${file}: ${reason}`);
  }
}

class UsageError extends Error {}

function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const known = error instanceof LogInputError || error instanceof UsageError;
  // Keep it to one line whatever the message holds.
  return (known ? message : `internal error: ${message}`).replace(/\s*\n\s*/g, " ");
}
