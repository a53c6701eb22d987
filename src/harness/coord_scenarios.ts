// `npm run scenarios:coord [-- --only a,b] [--long] [--keep] [--seed n]`: the Gobby test matrix of
// issue 13 on real processes. Each scenario runs on fresh yasp-kv ranks (127.0.0.1, ports the OS
// chose, data under <tmp>/yasp-coord-*/<name>) with its clients in their own processes
// (coord_worker.ts), checks what they recorded (coord_checks.ts) and prints one line:
// `pass <name> <figures>` or `FAIL <name> <why>`. Exit 1 if any failed. Every process is stopped
// by PID when its scenario ends; its files are removed unless it failed or --keep.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoordCtx, type CoordScenario, type Settings } from "./coord_ctx.js";
import { leaseScenarios, pauseScenarios } from "./coord_lease.js";
import { lockScenarios } from "./coord_locks.js";
import { nowMs } from "./coord_procs.js";
import { sessionScenarios } from "./coord_session.js";
import { watchScenarios } from "./coord_watch.js";

const USAGE = "usage: scenarios:coord [--only name,name] [--long] [--keep] [--seed n] [--list]";

function parse(argv: string[]): Settings & { only: string[] | null; list: boolean } {
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(USAGE);
    return v;
  };
  const known = new Set(["--only", "--long", "--keep", "--seed", "--list"]);
  argv.forEach((a, i) => {
    if (a.startsWith("--") && !known.has(a)) throw new Error(`unknown flag ${a}; ${USAGE}`);
    if (!a.startsWith("--") && !["--only", "--seed"].includes(argv[i - 1] ?? ""))
      throw new Error(`unexpected ${a}; ${USAGE}`);
  });
  const seed = Number(value("--seed") ?? Date.now() % 100_000);
  if (!Number.isSafeInteger(seed)) throw new Error(USAGE);
  const only = value("--only");
  return {
    long: argv.includes("--long"),
    keep: argv.includes("--keep"),
    list: argv.includes("--list"),
    seed,
    only: only ? only.split(",").filter(Boolean) : null,
  };
}

export function matrix(long: boolean): CoordScenario[] {
  return [
    ...lockScenarios(long),
    ...leaseScenarios(long),
    ...pauseScenarios(long),
    ...sessionScenarios(long),
    ...watchScenarios(long),
  ];
}

async function runOne(s: CoordScenario, settings: Settings, root: string): Promise<boolean> {
  const dir = join(root, s.name);
  rmSync(dir, { recursive: true, force: true });
  const t0 = nowMs();
  let problems: string[];
  let figures: string[] = [];
  let ctx: CoordCtx | undefined;
  try {
    ctx = await CoordCtx.start(s, settings, dir);
    ({ problems, figures } = await s.run(ctx));
  } catch (e) {
    problems = [e instanceof Error ? e.message : String(e)];
  } finally {
    await ctx?.close();
  }
  const secs = `${((nowMs() - t0) / 1000).toFixed(1)} s`;
  const pass = problems.length === 0;
  const line = pass
    ? `pass ${s.name} ${[...figures, secs].join(", ")}`
    : `FAIL ${s.name} ${problems.join("; ")}${figures.length ? ` [${figures.join(", ")}]` : ""}`;
  process.stdout.write(line + "\n");
  if (pass && !settings.keep) rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`  files in ${dir}\n`);
  return pass;
}

async function main(): Promise<number> {
  const settings = parse(process.argv.slice(2));
  const all = matrix(settings.long);
  if (settings.list) {
    process.stdout.write(all.map((s) => s.name).join("\n") + "\n");
    return 0;
  }
  const unknown = (settings.only ?? []).filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) throw new Error(`no scenario ${unknown.join(", ")} (--list names them)`);
  const chosen = settings.only ? all.filter((s) => settings.only?.includes(s.name)) : all;
  const root = mkdtempSync(join(tmpdir(), "yasp-coord-"));
  process.stdout.write(`scenarios:coord seed ${settings.seed}${settings.long ? ", long" : ""}\n`);
  let failed = 0;
  for (const s of chosen) if (!(await runOne(s, settings, root))) failed++;
  if (!failed && !settings.keep) rmSync(root, { recursive: true, force: true });
  process.stdout.write(
    failed ? `scenarios:coord: ${failed} of ${chosen.length} FAILED\n` : "scenarios:coord: pass\n",
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`scenarios:coord: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
