// `yasp-bayou`: the Bayou master program (bayou-spec.md). Commands on stdin, one a line, run as they
// arrive; the spec's output lines on stdout and nothing else. `--check <dir-or-files>` runs every
// <name>.test against <name>.sol and prints pass/FAIL and the time of each.
import { createInterface } from "node:readline";
import { parseLine } from "../script.js";
import { checkFiles } from "./check.js";
import { runCommands } from "./run.js";

/** Mean time between a server's background anti-entropy sessions, unless --gossip-ms says. */
export const DEFAULT_GOSSIP_MS = 30;

const USAGE = `usage: yasp-bayou [--verbose] [--no-gossip | --gossip-ms N] < script.test
       yasp-bayou --check <dir-or-.test-files>... [--verbose] [--no-gossip | --gossip-ms N]
                  [--jobs N]
  --verbose      diagnostics on stderr (stdout keeps only the spec's lines)
  --gossip-ms N  each server runs a background anti-entropy session about every N ms
                 (default ${DEFAULT_GOSSIP_MS}), as Bayou and the seed do; pause/start stop and resume
                 it; 0 is --no-gossip
  --no-gossip    no background anti-entropy: only stabilize, retireServer, restoreConnection
                 and start run it, so every run of a script prints the same
  --check        compare each <name>.test's output with <name>.sol; exit 1 if any differ
  --jobs N       with --check: scripts run at once (default 1)
`;

export interface Options {
  verbose: boolean;
  gossipMs: number;
  jobs: number;
  check: string[] | null;
}

export function parseArgs(argv: string[]): Options | string {
  const o: Options = { verbose: false, gossipMs: DEFAULT_GOSSIP_MS, jobs: 1, check: null };
  let gossipFlag = "";
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const num = (name: string, max: number): number | string => {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || !/^\d+$/.test(v) || n > max)
        return `${name} needs a whole number up to ${max}`;
      return n;
    };
    if (a === "--verbose" || a === "-v") o.verbose = true;
    else if (a === "--gossip-ms" || a === "--no-gossip") {
      if (gossipFlag !== "" && gossipFlag !== a) return `${gossipFlag} and ${a} contradict`;
      gossipFlag = a;
      const n = a === "--no-gossip" ? 0 : num(a, 3_600_000);
      if (typeof n === "string") return n;
      o.gossipMs = n;
    } else if (a === "--jobs") {
      const n = num(a, 16);
      if (typeof n === "string") return n;
      o.jobs = Math.max(1, n);
    } else if (a === "--check") o.check = [];
    else if (a.startsWith("-")) return `unknown option ${a}`;
    else if (o.check !== null) o.check.push(a);
    else return `unexpected argument ${a} (scripts come on stdin)`;
  }
  if (o.check !== null && o.check.length === 0) return "--check needs a folder or .test files";
  return o;
}

async function fromStdin(o: Options): Promise<number> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  async function* commands() {
    for await (const line of lines) {
      lineNo += 1;
      const p = parseLine(line, lineNo);
      if (p.kind === "problem") process.stderr.write(`yasp-bayou: ${p.problem}\n`);
      if (p.kind === "ignored" && p.note !== undefined && o.verbose)
        process.stderr.write(`yasp-bayou: ${p.note}\n`);
      if (p.kind === "command") yield p.command;
    }
  }
  const out = {
    line: (l: string) => process.stdout.write(`${l}\n`),
    warn: (m: string) => process.stderr.write(`yasp-bayou: ${m}\n`),
    note: (m: string) => o.verbose && process.stderr.write(`yasp-bayou: ${m}\n`),
  };
  await runCommands(commands(), out, o);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = parseArgs(argv);
  if (typeof o === "string") {
    process.stderr.write(`yasp-bayou: ${o}\n${USAGE}`);
    return 2;
  }
  return o.check !== null ? checkFiles(o.check, o) : fromStdin(o);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`yasp-bayou: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
