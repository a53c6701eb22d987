// `npm run sim:bayou -- [--seeds N] [--from S] [--steps N] [--gossip-ms N] [--drop P] [--dup P]
// [--restores]`: random Bayou master scripts in the simulator (the real master and node code over
// the simulated clock and network). Each seed's invariants are asserted; without gossip the output
// must also equal the in-process reference's. A failing seed is named, with the command to run it
// alone. Exit 1 if any seed fails.
import { runBayouSim } from "../sim/bayou_run.js";
import { BayouInproc } from "./bayou_inproc.js";

interface Args {
  seeds: number;
  from: number;
  steps: number;
  gossipMs: number;
  drop: number;
  dup: number;
  /** Scripts that restore links often and read at once. */
  restores: boolean;
}

const NUMBERS: Record<string, "seeds" | "from" | "steps" | "gossipMs" | "drop" | "dup"> = {
  "--seeds": "seeds",
  "--from": "from",
  "--steps": "steps",
  "--gossip-ms": "gossipMs",
  "--drop": "drop",
  "--dup": "dup",
};

function parse(argv: string[]): Args | string {
  const a: Args = {
    seeds: 200,
    from: 1,
    steps: 100,
    gossipMs: 30,
    drop: 0,
    dup: 0,
    restores: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--restores") {
      a.restores = true;
      continue;
    }
    const key = NUMBERS[argv[i] ?? ""];
    const v = Number(argv[++i]);
    if (key === undefined) return `unknown option ${argv[i - 1]}`;
    if (!Number.isFinite(v) || v < 0) return `${argv[i - 1]} needs a number >= 0`;
    const fraction = key === "drop" || key === "dup";
    if (fraction ? v >= 1 : !Number.isInteger(v)) return `${argv[i - 1]}: ${argv[i]}?`;
    a[key] = v;
  }
  return a;
}

function again(a: Args, seed: number): string {
  const flags = `--gossip-ms ${a.gossipMs} --drop ${a.drop} --dup ${a.dup}`;
  return (
    `npm run sim:bayou -- --from ${seed} --seeds 1 --steps ${a.steps} ${flags}` +
    (a.restores ? " --restores" : "")
  );
}

async function main(argv: string[]): Promise<number> {
  const a = parse(argv);
  if (typeof a === "string") {
    process.stderr.write(`sim:bayou: ${a}\n`);
    return 2;
  }
  const faults = { drop: a.drop, dup: a.dup, minDelayUs: 50, maxDelayUs: 3000 };
  let failed = 0;
  let writes = 0;
  let virtualMs = 0;
  const began = performance.now();
  for (let seed = a.from; seed < a.from + a.seeds; seed += 1) {
    const o = { seed, steps: a.steps, gossipMs: a.gossipMs, faults, restores: a.restores };
    const r = await runBayouSim(o);
    writes += r.finalWrites;
    virtualMs += r.virtualMs;
    let problem = r.problem;
    const ref = a.gossipMs === 0 ? new BayouInproc().run(r.commands) : null;
    if (problem === null && ref !== null && ref.join("\n") !== r.output.join("\n"))
      problem = "the output differs from the in-process reference's";
    if (problem === null) continue;
    failed += 1;
    process.stdout.write(`seed ${seed}: ${problem}\n  again: ${again(a, seed)}\n`);
  }
  const secs = ((performance.now() - began) / 1000).toFixed(1);
  process.stdout.write(
    `${a.seeds} seeds, ${failed} failed; ${writes} writes in the final logs, ` +
      `${(virtualMs / 1000).toFixed(0)} virtual s in ${secs} s\n`,
  );
  return failed === 0 ? 0 : 1;
}

void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
