// The Bayou master program's input language (bayou-spec.md, "The master program"): one command a
// line. Pure: a line becomes a command, a one-line problem (a known command word with missing,
// extra or non-numeric arguments; the caller reports it on stderr and goes on), or nothing (a
// blank line; an unknown command word, ignored as the spec says, with a note for --verbose).

/** A server or client id: all ids share one namespace; kept as the canonical decimal text. */
export type Id = string;

export type Command =
  | { kind: "joinServer"; id: Id }
  | { kind: "retireServer"; id: Id }
  | { kind: "joinClient"; client: Id; server: Id }
  | { kind: "breakConnection"; a: Id; b: Id }
  | { kind: "restoreConnection"; a: Id; b: Id }
  | { kind: "pause" }
  | { kind: "start" }
  | { kind: "stabilize" }
  | { kind: "printLog"; id: Id }
  | { kind: "put"; client: Id; song: string; url: string }
  | { kind: "get"; client: Id; song: string }
  | { kind: "delete"; client: Id; song: string };

export type CommandKind = Command["kind"];

export type ParsedLine =
  | { kind: "command"; command: Command }
  | { kind: "problem"; problem: string }
  | { kind: "ignored"; note?: string };

/** Argument names; "song" and "url" are any non-blank token, every other one a numeric id. */
const SHAPES: Record<CommandKind, readonly string[]> = {
  joinServer: ["sid"],
  retireServer: ["sid"],
  joinClient: ["cid", "sid"],
  breakConnection: ["id", "id"],
  restoreConnection: ["id", "id"],
  pause: [],
  start: [],
  stabilize: [],
  printLog: ["sid"],
  put: ["cid", "song", "url"],
  get: ["cid", "song"],
  delete: ["cid", "song"],
};

const isWord = (arg: string): boolean => arg === "song" || arg === "url";

/** Longest song or URL (the processes refuse longer ones on the wire). */
export const MAX_WORD = 4096;

function isKind(word: string): word is CommandKind {
  return Object.prototype.hasOwnProperty.call(SHAPES, word);
}

/** "007" and "7" name the same id. */
function canonicalId(text: string): Id | null {
  if (!/^\d+$/.test(text)) return null;
  return text.replace(/^0+(?=\d)/, "");
}

function build(kind: CommandKind, a: string[]): Command {
  const [x = "", y = "", z = ""] = a;
  switch (kind) {
    case "joinServer":
    case "retireServer":
    case "printLog":
      return { kind, id: x };
    case "joinClient":
      return { kind, client: x, server: y };
    case "breakConnection":
    case "restoreConnection":
      return { kind, a: x, b: y };
    case "pause":
    case "start":
    case "stabilize":
      return { kind };
    case "put":
      return { kind, client: x, song: y, url: z };
    case "get":
    case "delete":
      return { kind, client: x, song: y };
  }
}

/** Parses one input line (without its newline). `lineNo` only labels problems. */
export function parseLine(line: string, lineNo = 0): ParsedLine {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  const [word, ...rest] = words;
  const at = lineNo > 0 ? `line ${lineNo}: ` : "";
  if (word === undefined) return { kind: "ignored" };
  if (!isKind(word)) {
    const shown = word.length > 40 ? `${word.slice(0, 40)}...` : word;
    return { kind: "ignored", note: `${at}unknown command ${JSON.stringify(shown)}, ignored` };
  }
  const shape = SHAPES[word];
  if (rest.length !== shape.length) {
    const usage = [word, ...shape.map((a) => `<${a}>`)].join(" ");
    const got = rest.length < shape.length ? "missing arguments" : "extra arguments";
    return { kind: "problem", problem: `${at}${got} (usage: ${usage}): ${line.trim()}` };
  }
  const args: string[] = [];
  for (const [i, name] of shape.entries()) {
    const text = rest[i] ?? "";
    if (isWord(name) && text.length > MAX_WORD) {
      return {
        kind: "problem",
        problem: `${at}${word}: <${name}> is longer than ${MAX_WORD} characters`,
      };
    }
    const arg = isWord(name) ? text : canonicalId(text);
    if (arg === null) {
      return { kind: "problem", problem: `${at}${word}: <${name}> "${text}" is not a numeric id` };
    }
    args.push(arg);
  }
  return { kind: "command", command: build(word, args) };
}

/** Parses a whole program: the commands in order, the problems (for stderr) and the notes on
 * ignored lines (for --verbose). */
export function parseScript(text: string): {
  commands: Command[];
  problems: string[];
  notes: string[];
} {
  const commands: Command[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const p = parseLine(line, i + 1);
    if (p.kind === "command") commands.push(p.command);
    else if (p.kind === "problem") problems.push(p.problem);
    else if (p.note !== undefined) notes.push(p.note);
  });
  return { commands, problems, notes };
}
