// `yasp-bayou --check`: runs each <name>.test through the master (real processes) and compares its
// stdout with <name>.sol, line by line and in order. Prints pass/FAIL and the time of each.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parseScript } from "../script.js";
import type { ProcessPool } from "../master/proc_cluster.js";
import { newPool, runCommands, type RunOptions } from "./run.js";

/** The first difference between expected and actual lines, or null when equal. */
export function firstDiff(expected: string[], actual: string[]): string | null {
  for (let i = 0; i < Math.max(expected.length, actual.length); i += 1) {
    const e = expected[i];
    const a = actual[i];
    if (e !== a) {
      const show = (x: string | undefined) => (x === undefined ? "(end)" : JSON.stringify(x));
      return `line ${i + 1}: expected ${show(e)}, got ${show(a)}`;
    }
  }
  return null;
}

/** A file's lines (a last newline ends the last line; it does not start an empty one). */
export function textLines(text: string): string[] {
  const l = text.split(/\r?\n/);
  if (l.at(-1) === "") l.pop();
  return l;
}

/** The .test files named, or found (sorted) in the folders named; throws on any other file. */
export function testFiles(paths: string[]): string[] {
  return paths.flatMap((p) => {
    if (statSync(p).isDirectory()) {
      return readdirSync(p)
        .filter((f) => f.endsWith(".test"))
        .sort()
        .map((f) => join(p, f));
    }
    if (!p.endsWith(".test")) throw new Error(`${p} is not a .test file`);
    return [p];
  });
}

async function checkOne(file: string, o: RunOptions, pool: ProcessPool): Promise<string | null> {
  const name = basename(file, ".test");
  const sol = file.replace(/\.test$/, ".sol");
  if (!existsSync(sol)) return `no ${basename(sol)}`;
  const { commands, problems, notes } = parseScript(readFileSync(file, "utf8"));
  if (o.verbose) [...problems, ...notes].forEach((p) => process.stderr.write(`[${name}] ${p}\n`));
  const actual: string[] = [];
  const say = (m: string) => process.stderr.write(`[${name}] ${m}\n`);
  await runCommands(
    commands,
    { line: (l) => actual.push(l), warn: say, note: (m) => o.verbose && say(m) },
    o,
    pool,
  );
  return firstDiff(textLines(readFileSync(sol, "utf8")), actual);
}

export async function checkFiles(
  paths: string[],
  o: RunOptions & { jobs: number },
): Promise<number> {
  let files: string[];
  try {
    files = testFiles(paths);
  } catch (e) {
    process.stderr.write(`yasp-bayou: ${(e as Error).message}\n`);
    return 2;
  }
  if (files.length === 0) {
    process.stderr.write(`yasp-bayou: no .test files in ${paths.join(" ")}\n`);
    return 2;
  }
  const began = performance.now();
  const pool = newPool(o);
  let failed = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i]!;
      const t0 = performance.now();
      const diff = await checkOne(file, o, pool);
      const secs = ((performance.now() - t0) / 1000).toFixed(2);
      const name = basename(file, ".test");
      if (diff === null) process.stdout.write(`pass ${name} (${secs} s)\n`);
      else {
        failed += 1;
        process.stdout.write(`FAIL ${name} (${secs} s): ${diff}\n`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.jobs, files.length) }, worker));
  } finally {
    pool.close();
  }
  const total = ((performance.now() - began) / 1000).toFixed(1);
  process.stdout.write(`${files.length - failed} passed, ${failed} failed (${total} s)\n`);
  return failed === 0 ? 0 : 1;
}
