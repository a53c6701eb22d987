// Transcript tests of the four processors, in the style of etcd-io/raft's testdata/ scripts: a
// plain-text script drives one processor's pure logic step by step, and under each step sits the
// output it must produce, one effect per line (the format: testdata/README.md). Scripts read as
// the rule they protect, and a changed output shows as a diff of a few lines.
//   script := comment/blank lines, the setup line (which processor, its configuration), blocks
//   block  := command lines, a "----" line, the expected output lines, then a blank line (or the end)
// Each block is one step of the processor loop: its input lines in order (a `tick` line calls
// onTime), then endStep; queries (wake, state, stats) may end a block and see the state after it.
// Pure: the caller reads and (in update mode) writes the file.
import type { Effect } from "./effects.js";
import { formatEffect, parseNumber } from "./transcript_syntax.js";
import { setUp, type StepAction, type Target } from "./transcript_targets.js";

/** A script that cannot run as written; the message names the file and line. */
export class ScriptError extends Error {
  override readonly name = "ScriptError";
}

interface Line {
  text: string;
  /** 1-based, for error messages. */
  no: number;
}

interface Block {
  commands: Line[];
  /** The output written under the block's "----". */
  expected: string[];
}

/** The script as written: lines kept verbatim, and a slot for each block's output. */
type Piece = { verbatim: string } | { block: Block };

interface Script {
  setup: Line;
  pieces: Piece[];
  blocks: Block[];
}

/** A block ready to run: its steps with their times, then its queries. */
interface CompiledBlock {
  steps: Array<{ run: StepAction; nowUs: number }>;
  queries: Array<() => string>;
  /** The time of the block's last step: when endStep runs. */
  endUs: number;
}

const SEPARATOR = "----";
const QUERIES = ["wake", "state", "stats"];

export interface TranscriptRun {
  /** The script rendered with the outputs it expects, and with the outputs the processor produced. */
  expected: string;
  actual: string;
}

/** Run a script. With fillMissing (update mode), a block without "----" gets one, so a new script
 * can be written as commands only and filled in by the update. */
export function runTranscript(text: string, file: string, fillMissing = false): TranscriptRun {
  const script = parseScript(text, file, fillMissing);
  const target = atLine(file, script.setup, () => setUp(...splitVerb(script.setup.text)));
  const clock = { nowUs: target.startUs };
  // Everything is compiled before anything runs: a malformed line fails the script, not a step.
  const compiled = script.blocks.map((b) => compileBlock(b, target, clock, file));
  const outputs = compiled.map((b) => runBlock(target, b));
  return {
    expected: render(
      script,
      script.blocks.map((b) => b.expected),
    ),
    actual: render(script, outputs),
  };
}

/** The script's lines and a cursor over them. */
class Cursor {
  i = 0;
  constructor(
    private readonly lines: readonly string[],
    private readonly file: string,
  ) {}

  get more(): boolean {
    return this.i < this.lines.length;
  }
  get text(): string {
    return this.lines[this.i] ?? "";
  }
  get blank(): boolean {
    return this.text.trim() === "";
  }
  get comment(): boolean {
    return this.text.trimStart().startsWith("#");
  }

  /** An error at 1-based line `no` (default: the current line). */
  error(message: string, no = this.i + 1): ScriptError {
    return new ScriptError(`${this.file}:${no}: ${message}`);
  }
}

function parseScript(text: string, file: string, fillMissing: boolean): Script {
  const at = new Cursor(
    text
      .replace(/\n$/, "")
      .split("\n")
      .map((l) => l.replace(/\r$/, "")),
    file,
  );
  const pieces: Piece[] = [];
  const blocks: Block[] = [];
  let setup: Line | undefined;
  while (at.more) {
    if (at.blank || at.comment) {
      pieces.push({ verbatim: at.text });
      at.i++;
    } else if (!setup) {
      setup = { text: at.text, no: at.i + 1 };
      pieces.push({ verbatim: at.text });
      at.i++;
      if (at.more && !at.blank && !at.comment)
        throw at.error("the setup line stands alone: leave a blank line after it");
    } else blocks.push(parseBlock(at, pieces, fillMissing));
  }
  if (!setup)
    throw at.error(
      `empty script: its first line names the processor, e.g. "follower me=2 n=3 timeout=100000"`,
      1,
    );
  return { setup, pieces, blocks };
}

/** Command lines (comments may sit among them), the separator, the expected output lines. */
function parseBlock(at: Cursor, pieces: Piece[], fillMissing: boolean): Block {
  const block: Block = { commands: [], expected: [] };
  for (; at.more && !at.blank && at.text.trim() !== SEPARATOR; at.i++) {
    if (!at.comment) block.commands.push({ text: at.text.trim(), no: at.i + 1 });
    pieces.push({ verbatim: at.text });
  }
  if (block.commands.length === 0) throw at.error(`"${SEPARATOR}" with no command above it`);
  if (at.more && !at.blank) {
    pieces.push({ verbatim: at.text });
    at.i++;
  } else if (fillMissing) pieces.push({ verbatim: SEPARATOR });
  else
    throw at.error(
      `a block needs a "${SEPARATOR}" line under its commands (YASP_UPDATE_TRANSCRIPTS=1 adds it with the output)`,
      at.i,
    );
  for (; at.more && !at.blank; at.i++) {
    // A query's answer always has words after the verb: a bare verb is a query written under the
    // separator by mistake, which an update would silently overwrite.
    const bare = at.text.trim();
    if (QUERIES.includes(bare))
      throw at.error(
        `"${bare}" under "${SEPARATOR}" would be read as output: queries go above the "${SEPARATOR}"`,
      );
    block.expected.push(at.text);
  }
  pieces.push({ block });
  return block;
}

function compileBlock(
  block: Block,
  target: Target,
  clock: { nowUs: number },
  file: string,
): CompiledBlock {
  const compiled: CompiledBlock = { steps: [], queries: [], endUs: clock.nowUs };
  for (const line of block.commands) {
    atLine(file, line, () => {
      const [verb, rest] = splitVerb(line.text);
      if (QUERIES.includes(verb)) {
        compiled.queries.push(compileQuery(verb, rest, target));
        return;
      }
      if (compiled.queries.length > 0)
        throw new Error(
          `queries (${QUERIES.join(", ")}) end a block: "${verb}" must come before them`,
        );
      if (verb === "at" || verb === "tick") {
        if (rest !== "" || verb === "at") advance(clock, parseNumber(rest, verb));
        if (verb === "tick")
          compiled.steps.push({
            run: (nowUs, out) => target.onTime(nowUs, out),
            nowUs: clock.nowUs,
          });
        return;
      }
      const run = target.compile(verb, rest);
      if (!run)
        throw new Error(
          `unknown command "${verb}": this processor takes ${target.inputs}; and at, tick, ${QUERIES.join(", ")}`,
        );
      compiled.steps.push({ run, nowUs: clock.nowUs });
    });
  }
  compiled.endUs = clock.nowUs;
  return compiled;
}

function compileQuery(verb: string, rest: string, target: Target): () => string {
  if (rest !== "") throw new Error(`${verb} takes no arguments`);
  if (verb === "state") return () => target.state();
  if (verb === "stats") return () => target.stats();
  return () => {
    const at = target.wakeAt();
    return at === Infinity ? "wake never" : `wake ${at}`;
  };
}

/** Every processor asserts that time never goes back; a script that does is told so here, at its line. */
function advance(clock: { nowUs: number }, toUs: number): void {
  if (toUs < clock.nowUs) throw new Error(`time goes back from ${clock.nowUs} to ${toUs} µs`);
  clock.nowUs = toUs;
}

/** The output of one block: its effects, one per line, then its queries' answers. An exception
 * from the processor (a broken invariant) is output too, as the block's last line. */
function runBlock(target: Target, block: CompiledBlock): string[] {
  const out: Effect[] = [];
  try {
    for (const step of block.steps) step.run(step.nowUs, out);
    if (block.steps.length > 0) target.endStep(block.endUs, out);
  } catch (e) {
    return [...out.map(formatEffect), `error: ${messageOf(e)}`];
  }
  const lines = [...out.map(formatEffect), ...block.queries.map((q) => q())];
  return lines.length > 0 ? lines : ["(no effects)"];
}

function render(script: Script, outputs: string[][]): string {
  const lines: string[] = [];
  let next = 0;
  for (const piece of script.pieces) {
    if ("verbatim" in piece) lines.push(piece.verbatim);
    else lines.push(...(outputs[next++] ?? []));
  }
  return lines.join("\n") + "\n";
}

function splitVerb(text: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(text.trim());
  return [m?.[1] ?? "", m?.[2]?.trim() ?? ""];
}

/** Runs fn; an error it throws becomes a ScriptError naming the file and line. */
function atLine<T>(file: string, line: Line, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ScriptError) throw e;
    throw new ScriptError(`${file}:${line.no}: ${messageOf(e)}\n  ${line.text}`);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
