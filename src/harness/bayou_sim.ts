// `npm run sim:bayou -- [--seeds N] [--from S] [--steps N] [--gossip-ms N] [--drop P]`: random
// Bayou master scripts in the simulator (the real master and node code over the simulated clock
// and network). Each seed's invariants are asserted; a failing seed is named, with the command to
// run it alone. Exit 1 if any seed fails.
import { runBayouSim } from "../sim/bayou_run.js";

interface Args {
  seeds: number;
  from: number;
  steps: number;
  gossipMs: number;
  drop: number;
}

function parse(argv: string[]): Args | string {
  const a: Args = { seeds: 200, from: 1, steps: 100, gossipMs: 30, drop: 0 };
  const keys: Record<string, keyof Args> = {
    "--seeds": "seeds",
    "--from": "from",
    "--steps": "steps",
    "--gossip-ms": "gossipMs",
    "--drop": "drop",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = keys[argv[i] ?? ""];
    const v = Number(argv[i + 1]);
    if (key === undefined) return `unknown option ${argv[i]}`;
    if (!Number.isFinite(v) || v < 0) return `${argv[i]} needs a number >= 0`;
    if (key === "drop" ? v >= 1 : !Number.isInteger(v)) return `${argv[i]}: ${argv[i + 1]}?`;
    a[key] = v;
  }
  return a;
}

async function main(argv: string[]): Promise<number> {
  const a = parse(argv);
  if (typeof a === "string") {
    process.stderr.write(`sim:bayou: ${a}\n`);
    return 2;
  }
  const faults = { drop: a.drop, dup: 0, minDelayUs: 50, maxDelayUs: 3000 };
  let failed = 0;
  let writes = 0;
  let virtualMs = 0;
  const began = performance.now();
  for (let seed = a.from; seed < a.from + a.seeds; seed += 1) {
    const r = await runBayouSim({ seed, steps: a.steps, gossipMs: a.gossipMs, faults });
    writes += r.finalWrites;
    virtualMs += r.virtualMs;
    if (r.problem === null) continue;
    failed += 1;
    process.stdout.write(
      `seed ${seed}: ${r.problem}\n  again: npm run sim:bayou -- --from ${seed} --seeds 1 ` +
        `--steps ${a.steps} --gossip-ms ${a.gossipMs} --drop ${a.drop}\n`,
    );
  }
  const secs = ((performance.now() - began) / 1000).toFixed(1);
  process.stdout.write(
    `${a.seeds} seeds, ${failed} failed; ${writes} writes in the final logs, ` +
      `${(virtualMs / 1000).toFixed(0)} virtual s in ${secs} s\n`,
  );
  return failed === 0 ? 0 : 1;
}

void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
