// `node dist/src/cli/cluster_cli.js -n 5 --log-dir logs/low -- -o 100 -l 200 -t 5 --rate 50`
import { runCluster } from "./launch.js";

function usage(msg: string): never {
  process.stderr.write(
    `yasp-cluster: ${msg}\nusage: yasp-cluster -n <ranks> --log-dir <dir> [--deadline <s>] -- <rank flags>\n`,
  );
  process.exit(2);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf("--");
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const rankArgs = sep < 0 ? [] : argv.slice(sep + 1);
  let n = 5;
  let logDir = "";
  let deadlineS = 120;
  for (let i = 0; i < own.length; i += 2) {
    const [flag, value] = [own[i], own[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "-n") n = Number(value);
    else if (flag === "--log-dir") logDir = value;
    else if (flag === "--deadline") deadlineS = Number(value);
    else usage(`unknown flag ${flag}`);
  }
  if (!Number.isInteger(n) || n < 1 || n > 64) usage("-n must be a whole number from 1 to 64");
  if (!logDir) usage("--log-dir is required");
  if (!(deadlineS > 0)) usage("--deadline must be a positive number of seconds");
  const outcomes = await runCluster({ n, logDir, rankArgs, deadlineMs: deadlineS * 1000 });
  let ok = true;
  for (const o of outcomes) {
    process.stdout.write(o.stdout);
    if (o.stderr) process.stderr.write(o.stderr);
    if (o.code !== 0) {
      ok = false;
      process.stderr.write(
        `yasp-cluster: rank ${o.rank} (pid ${o.pid}) ended with ${o.signal ?? `exit code ${o.code}`}\n`,
      );
    }
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => usage(e instanceof Error ? e.message : String(e)),
);
