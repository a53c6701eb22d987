// `yaspctl`: the command-line client of yasp-kv (like etcdctl). Results go to stdout; a failure is
// one line `yaspctl: <message>` on stderr and exit 1 (not found, version mismatch, refused), 2
// (usage) or 3 (unavailable, timeout). main() takes its argv and writers, so tests run it in-process.
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { BadRequest, connect, type KvClient, type TlsOptions } from "../client/index.js";
import { UsageError } from "./config.js";
import { EXIT, reportFailure, runOp, wholeNumber, type Op, type Out } from "./yaspctl_ops.js";
import { runShell } from "./yaspctl_shell.js";
import { runCoordOp, ttlMsOf, type CoordOp } from "./yaspctl_coord.js";

export const DEFAULT_ENDPOINTS = "127.0.0.1:8000,127.0.0.1:8001,127.0.0.1:8002";
const COORDINATION = ["lock", "watch", "master", "session"];

export interface CliIo {
  stdout: Out;
  stderr: Out;
  /** The shell's input (default: none, the shell ends at once). */
  stdin?: NodeJS.ReadableStream;
  /** Where the shell prompts; set only when stdin is a terminal. */
  terminal?: NodeJS.WritableStream;
  env?: Record<string, string | undefined>;
  /** Ends the commands that run until interrupted (watch, session, lock); run() aborts it on
   * SIGINT and SIGTERM. */
  stop?: AbortSignal;
}

const str = { type: "string" } as const;

/** Flags every command takes. */
function globalOptions(env: Record<string, string | undefined>) {
  return {
    endpoints: {
      ...str,
      default: env.YASPCTL_ENDPOINTS ?? DEFAULT_ENDPOINTS,
      describe: "client ports of the ranks, comma separated (env YASPCTL_ENDPOINTS)",
    },
    timeout: { type: "number", default: 5000, describe: "ms to wait for each answer" },
    "token-file": { ...str, describe: "file holding the server's auth token (first line)" },
    tls: { type: "boolean", describe: "connect with TLS (implied by --tls-ca and --tls-cert)" },
    "tls-ca": { ...str, describe: "CA certificate of the servers (PEM; default: the system's)" },
    "tls-cert": { ...str, describe: "client certificate (PEM), with --tls-key" },
    "tls-key": { ...str, describe: "client private key (PEM)" },
    json: { type: "boolean", default: false, describe: "print results as JSON" },
  } as const;
}

/** lock, watch, master and session (run by yaspctl_coord.ts). */
function coordCommands(y: Argv): Argv {
  const key = (a: Argv) => a.positional("key", { ...str, describe: "the key" });
  return y
    .command(
      "lock <name>",
      "hold a lock while `-- <command> [args..]` runs (token in YASP_LOCK_TOKEN); no command: print the token and hold it until interrupted",
      (y) =>
        y.positional("name", { ...str, describe: "the lock (any key)" }).options({
          ttl: { type: "number", describe: "session TTL in seconds (default 10)" },
          wait: {
            type: "boolean",
            default: true,
            describe: "wait in line (--no-wait: fail if held)",
          },
        }),
    )
    .command("watch <key>", "print changes as they happen (until interrupted)", (y) =>
      key(y).options({
        prefix: { type: "boolean", describe: "every key starting with <key>" },
        rev: { type: "number", describe: "start from this revision (default: from now)" },
        prev: { type: "boolean", describe: "print previous values too" },
        count: { type: "number", describe: "stop after this many events" },
      }),
    )
    .command("master", "print the master's rank and epoch")
    .command("session", "open a session and keep it alive until interrupted", (y) =>
      y.options({ ttl: { type: "number", describe: "TTL in seconds (default 10)" } }),
    );
}

function parser(argv: string[], env: Record<string, string | undefined>) {
  const key = (y: Argv) => y.positional("key", { ...str, describe: "the key" });
  const ttl = { type: "number", describe: "seconds to live (0: forever)" } as const;
  const stale = {
    type: "boolean",
    describe: "read the rank's local state (may be behind)",
  } as const;
  const limit = { type: "number", describe: "at most this many keys" } as const;
  const basics = yargs(argv)
    .scriptName("yaspctl")
    .usage("$0 [--endpoints h:p,...] <command>\n\nTalk to a yasp-kv cluster.")
    .options(globalOptions(env))
    .command("put <key> [value]", "write a value (no value: the bytes of stdin, as etcdctl)", (y) =>
      key(y).positional("value", str).option("ttl", ttl),
    )
    .command("get <key>", "print a value (--prefix: every key starting with <key>)", (y) =>
      key(y)
        .option("stale", stale)
        .option("prefix", { type: "boolean", describe: "list keys with this prefix" })
        .option("limit", limit),
    )
    .command("getm <key>", "print a value with its version and expiry", (y) =>
      key(y).option("stale", stale),
    )
    .command(["del <key>", "delete <key>"], "delete a key", key)
    .command("cas <key> <version> <value>", "write if the key's version is <version>", (y) =>
      key(y).positional("version", str).positional("value", str).option("ttl", ttl),
    )
    .command("range <start> <end>", "list keys in [start, end) (end '': no bound)", (y) =>
      y
        .positional("start", str)
        .positional("end", str)
        .option("limit", limit)
        .option("stale", stale),
    )
    .command("status", "print the rank's status")
    .command("shell", "read commands line by line (also GET k, PUT k v, DELETE k)");
  return coordCommands(basics)
    .demandCommand(
      1,
      "say what to do: put, get, getm, del, cas, range, status, shell, lock, watch, master or session",
    )
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110));
}

type Args = Record<string, unknown> & { _: (string | number)[] };

/** The parsed arguments, or the help text yargs produced (--help). */
function parse(argv: string[], env: Record<string, string | undefined>): Args | string {
  let failure: string | undefined;
  let output = "";
  const args = parser(argv, env)
    .fail((msg, err) => {
      failure ??= msg || err?.message || "invalid arguments";
    })
    .parse(argv, {}, (_err, _argv, out) => {
      output = out;
    }) as Args;
  if (failure !== undefined)
    throw new UsageError(failure.split("\n").filter(Boolean).pop() ?? failure);
  return output !== "" ? output : args;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

function clientOf(args: Args): KvClient {
  const opt = (name: string) => args[name] as string | undefined;
  const tokenFile = opt("token-file");
  const token = tokenFile && readFile(tokenFile, "token file").toString("utf8").split(/\r?\n/)[0];
  const [ca, cert, key] = ["tls-ca", "tls-cert", "tls-key"].map((f) => opt(f));
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");
  let tls: TlsOptions | undefined;
  if (args.tls === true || ca !== undefined || cert !== undefined) {
    tls = {};
    if (ca !== undefined) tls.ca = readFile(ca, "CA certificate");
    if (cert !== undefined && key !== undefined) {
      tls.cert = readFile(cert, "certificate");
      tls.key = readFile(key, "private key");
    }
  }
  const timeoutMs = wholeNumber(args.timeout, "--timeout", 2 ** 31 - 1);
  if (timeoutMs === 0) throw new UsageError("--timeout must be > 0");
  const endpoints = String(args.endpoints)
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  try {
    return connect({ endpoints, timeoutMs, ...(token ? { token } : {}), ...(tls ? { tls } : {}) });
  } catch (e) {
    throw e instanceof BadRequest ? new UsageError(`--endpoints: ${e.message}`) : e;
  }
}

const ttlOf = (args: Args) =>
  args.ttl === undefined ? {} : { ttlSeconds: wholeNumber(args.ttl, "--ttl") };

/** The operation of a one-shot command. */
function opOf(cmd: string, args: Args): Op {
  const key = String(args.key);
  const stale = args.stale === true;
  const limit =
    args.limit === undefined ? {} : { limit: wholeNumber(args.limit, "--limit", 0xffffffff) };
  switch (cmd) {
    case "put":
      // No value: it is read from stdin (valueFromStdin), marked by STDIN here.
      return {
        op: "put",
        key,
        value: args.value === undefined ? STDIN : `${args.value as string | number}`,
        ...ttlOf(args),
      };
    case "get":
      if (args.prefix === true) return { op: "range", query: { prefix: key }, stale, ...limit };
      return { op: "get", key, stale };
    case "getm":
      return { op: "getm", key, stale };
    case "del":
    case "delete":
      return { op: "del", key };
    case "cas": {
      const version = wholeNumber(args.version, "<version>");
      return { op: "cas", key, version, value: String(args.value), ...ttlOf(args) };
    }
    case "range":
      return {
        op: "range",
        query: { start: String(args.start), end: String(args.end) },
        stale,
        ...limit,
      };
    case "status":
      return { op: "status" };
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

/** The coordination command's operation (`command`: what followed `--`). */
function coordOpOf(cmd: string, args: Args, command: string[]): CoordOp {
  const ttlMs = ttlMsOf(args.ttl, 10_000);
  if (cmd !== "lock" && command.length > 0) throw new UsageError(`${cmd} takes no -- <command>`);
  switch (cmd) {
    case "lock":
      return { op: "lock", name: String(args.name), ttlMs, wait: args.wait !== false, command };
    case "watch": {
      const o: CoordOp = {
        op: "watch",
        key: String(args.key),
        prefix: args.prefix === true,
        prev: args.prev === true,
      };
      if (args.rev !== undefined) o.fromRevision = wholeNumber(args.rev, "--rev");
      if (args.count !== undefined) o.count = wholeNumber(args.count, "--count");
      return o;
    }
    case "master":
      return { op: "master" };
    default:
      return { op: "session", ttlMs };
  }
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let kv: KvClient | undefined;
  try {
    const dashes = argv.indexOf("--");
    const command = dashes < 0 ? [] : argv.slice(dashes + 1);
    const parsed = parse(dashes < 0 ? argv : argv.slice(0, dashes), io.env ?? {});
    if (typeof parsed === "string") {
      io.stdout.write(parsed + "\n");
      return EXIT.ok;
    }
    const cmd = String(parsed._[0]);
    const printer = { stdout: io.stdout, stderr: io.stderr, json: parsed.json === true };
    if (COORDINATION.includes(cmd)) {
      const op = coordOpOf(cmd, parsed, command);
      kv = clientOf(parsed);
      return await runCoordOp(kv, op, printer, io.stop ?? new AbortController().signal);
    }
    if (command.length > 0) throw new UsageError(`${cmd} takes no -- <command>`);
    const op = cmd === "shell" ? undefined : await valueFromStdin(opOf(cmd, parsed), io.stdin);
    kv = clientOf(parsed);
    if (op === undefined) {
      return await runShell(kv, io.stdin ?? Readable.from([]), printer, io.terminal);
    }
    await runOp(kv, op, printer);
    return EXIT.ok;
  } catch (e) {
    return reportFailure(e, io.stderr);
  } finally {
    await kv?.close();
  }
}

/** put's value when it is to be read from stdin (an object no argument can be). */
const STDIN = new Uint8Array(0);

/** The most a value read from stdin may be (the server's own limit is usually lower). */
const MAX_STDIN_VALUE = 8 * 1024 * 1024;

/** `put <key>` without a value: the value is stdin's bytes, as they are. */
async function valueFromStdin(op: Op, stdin: NodeJS.ReadableStream | undefined): Promise<Op> {
  if (op.op !== "put" || op.value !== STDIN) return op;
  if (!stdin) throw new UsageError("put without a value reads it from stdin, and there is none");
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    bytes += b.length;
    if (bytes > MAX_STDIN_VALUE)
      throw new UsageError(`stdin holds more than ${MAX_STDIN_VALUE} bytes`);
    parts.push(b);
  }
  return { ...op, value: new Uint8Array(Buffer.concat(parts)) };
}

/** The process entry (bin/yaspctl.js). */
export function run(): void {
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => stop.abort());
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    ...(process.stdin.isTTY ? { terminal: process.stdout } : {}),
    env: process.env,
    stop: stop.signal,
  };
  void main(hideBin(process.argv), io).then((code) => {
    process.exitCode = code;
  });
}
