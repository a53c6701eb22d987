// `yasp-kv-cluster -n 3 [--base-port 7000] [--dir d] [--no-text] [-- <yasp-kv flags>]`: a whole
// local key-value cluster in one command, on the port convention (rank i: peer P+i, client
// P+1000+i, text P+2000+i; --base-port 0: ports from the OS), printed; until Ctrl-C, when every
// rank is stopped.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvCluster } from "./kv_launch.js";

const USAGE =
  "usage: yasp-kv-cluster [-n <ranks>] [--base-port <p> (default 7000; 0: any free ports)] [--dir <dir>] [--no-text] [-- <yasp-kv flags>]\n";

function usage(msg: string): never {
  process.stderr.write(`yasp-kv-cluster: ${msg}\n${USAGE}`);
  process.exit(2);
}

interface Parsed {
  n: number;
  basePort: number;
  dir: string;
  text: boolean;
  rankArgs: string[];
}

function parse(argv: string[]): Parsed {
  const sep = argv.indexOf("--");
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const rankArgs = sep < 0 ? [] : argv.slice(sep + 1);
  let n = 3;
  let basePort = 7000;
  let dir = "";
  let text = true;
  for (let i = 0; i < own.length; i++) {
    const flag = own[i];
    if (flag === "--help" || flag === "-h") {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (flag === "--no-text") {
      text = false;
      continue;
    }
    if (flag !== "-n" && flag !== "--base-port" && flag !== "--dir") usage(`unknown flag ${flag}`);
    const value = own[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "-n") n = Number(value);
    else if (flag === "--base-port") basePort = Number(value);
    else dir = value;
  }
  if (!Number.isInteger(n) || n < 1 || n > 64) usage("-n must be a whole number from 1 to 64");
  if (!Number.isInteger(basePort) || basePort < 0 || (basePort > 0 && basePort + 2000 + n > 65536))
    usage("--base-port must be 0 (any free ports) or a port with room for +2000 + n");
  return { n, basePort, dir: dir || mkdtempSync(join(tmpdir(), "yasp-kv-")), text, rankArgs };
}

async function main(): Promise<void> {
  const { n, basePort, dir, text, rankArgs } = parse(process.argv.slice(2));
  const cluster = await KvCluster.start({
    n,
    dir,
    text,
    rankArgs,
    ...(basePort > 0 ? { basePort } : {}),
  });
  for (const r of cluster.ranks)
    process.stdout.write(
      `rank ${r.rank}: client ${r.client}${r.text ? `, text ${r.text}` : ""}, peer ${r.peer} (pid ${cluster.pid(r.rank) ?? "?"})\n`,
    );
  process.stdout.write(
    `data in ${dir}\ntry: npx yaspctl --endpoints ${cluster.endpoints.join(",")} put greeting hello\nCtrl-C stops the cluster.\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await cluster.stop();
}

main().then(
  () => process.exit(0),
  (e: unknown) => usage(e instanceof Error ? e.message : String(e)),
);
