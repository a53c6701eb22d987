// `npm run sim -- --seeds 1000 --ranks 5`: thousands of seeded simulated runs of the real rank code.
// A failing seed prints its plan and the one command that replays it (same trace hash).
import { BUG_NAMES, type BugName } from "../sim/bugs.js";
import { drawPlan } from "../sim/plan.js";
import { runSeed, type SeedResult } from "../sim/run_seed.js";

interface SimArgs {
  seeds: number;
  from: number;
  ranks: number;
  bug: BugName | null;
  one: number | null;
  stopOnFail: boolean;
}

function usage(msg: string): never {
  process.stderr.write(
    `sim: ${msg}\nusage: sim [--seeds N] [--from S] [--ranks N] [--seed S (replay one)] [--inject-bug ${BUG_NAMES.join("|")}] [--stop-on-fail]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): SimArgs {
  const a: SimArgs = { seeds: 100, from: 1, ranks: 5, bug: null, one: null, stopOnFail: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--stop-on-fail") {
      a.stopOnFail = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    const num = Number(value);
    if (flag === "--inject-bug") {
      if (!BUG_NAMES.includes(value as BugName)) usage(`unknown bug ${value}`);
      a.bug = value as BugName;
    } else if (!Number.isInteger(num) || num < 0)
      usage(`${flag} needs a whole number, not ${value}`);
    else if (flag === "--seeds") a.seeds = num;
    else if (flag === "--from") a.from = num;
    else if (flag === "--ranks") a.ranks = num;
    else if (flag === "--seed") a.one = num;
    else usage(`unknown flag ${flag}`);
  }
  if (a.ranks < 1 || a.ranks > 9) usage("--ranks must be from 1 to 9");
  return a;
}

export function replayCommand(r: SeedResult): string {
  const bug = r.plan.bugs.length > 0 ? ` --inject-bug ${r.plan.bugs[0]}` : "";
  return `npm run sim -- --seed ${r.plan.seed} --ranks ${r.plan.n}${bug}`;
}

function describe(r: SeedResult): string {
  const { events, seed: _seed, ...levels } = r.plan;
  const faults = events
    .map((e) => `${e.kind}${"rank" in e ? `(r${e.rank})` : ""}@${e.atMs}ms/${e.forMs}ms`)
    .join(" ");
  return [
    `seed ${r.plan.seed} FAIL (trace ${r.traceHash}, ${r.virtualMs.toFixed(0)} virtual ms, commits ${r.commits.join(",")})`,
    ...r.violations.slice(0, 5).map((v) => `  ${v}`),
    `  plan: ${JSON.stringify(levels)}`,
    `  faults: ${faults}`,
    `  replay: ${replayCommand(r)}`,
  ].join("\n");
}

/** What the seeds exercised: a run that never snapshots, installs or loses a disk proves nothing
 * about those paths, so the totals are printed with every run. */
class Exercised {
  checkpoints = 0;
  installs = 0;
  rejoinInstalls = 0;
  lostDisks = 0;
  kv = { submitted: 0, resolved: 0, stopped: 0, unknown: 0 };

  add(r: SeedResult): void {
    const s = r.stats;
    if (s.checkpoints > 0) this.checkpoints++;
    if (s.installs > 0) this.installs++;
    if (s.rejoinInstalls > 0) this.rejoinInstalls++;
    if (s.lostDisks > 0) this.lostDisks++;
    for (const k of ["submitted", "resolved", "stopped", "unknown"] as const) this.kv[k] += s.kv[k];
  }

  line(ran: number): string {
    const { submitted, resolved, stopped, unknown } = this.kv;
    return (
      `seeds with snapshots ${this.checkpoints}/${ran}, with installs ${this.installs}/${ran}, ` +
      `with lost disks ${this.lostDisks}/${ran} (an install after one: ${this.rejoinInstalls}); ` +
      `kv submits ${submitted}: resolved ${resolved}, ` +
      `rank stopped ${stopped}, outcome unknown ${unknown}`
    );
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const bugs = args.bug ? [args.bug] : [];
  const seeds =
    args.one !== null ? [args.one] : Array.from({ length: args.seeds }, (_, i) => args.from + i);
  const t0 = Date.now();
  let failed = 0;
  let virtualMs = 0;
  const seen = new Exercised();
  for (const seed of seeds) {
    const r = await runSeed(drawPlan(seed, args.ranks, bugs));
    virtualMs += r.virtualMs;
    seen.add(r);
    if (r.violations.length > 0) {
      failed++;
      process.stdout.write(describe(r) + "\n");
      if (args.stopOnFail) break;
    } else if (args.one !== null) {
      process.stdout.write(
        `seed ${seed} pass (trace ${r.traceHash}, commits ${r.commits.join(",")})\n`,
      );
    }
  }
  const minutes = (Date.now() - t0) / 60_000;
  const ran = seeds.length;
  process.stdout.write(
    `${ran} seeds, ${args.ranks} ranks${args.bug ? `, bug ${args.bug} injected` : ""}: ${failed} with violations; ` +
      `${(ran / minutes).toFixed(0)} seeds/min (${(virtualMs / ran / 1000).toFixed(1)} virtual s each)\n` +
      `${seen.line(ran)}\n`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sim: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
