// The rank's command line and cluster file, validated with zod. Every mistake becomes one line.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { MIN_SECRET_BYTES } from "../io/peer_auth.js";
import type { PeerAddress } from "../io/tcp_transport.js";
import { MAX_PAYLOAD_BYTES } from "../workload/submitter.js";

/** Smaller is a slip of the finger: the rank would rewrite its write-ahead log at every check. */
const MIN_CHECKPOINT_BYTES = 4096;

export class UsageError extends Error {}

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, { error: "expected host:port" });
export const clusterFile = z
  .array(hostPort)
  .min(1, { error: "the cluster needs at least one rank" })
  .max(64);

export function parseAddress(text: string): PeerAddress {
  const at = text.lastIndexOf(":");
  const port = Number(text.slice(at + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`bad port in ${text}`);
  return { host: text.slice(0, at), port };
}

export function loadCluster(path: string): PeerAddress[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      `cannot read cluster file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`cluster file ${path} is not JSON (expected a list of "host:port")`);
  }
  const parsed = clusterFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at [${issue.path.join(".")}]` : "";
    throw new UsageError(
      `cluster file ${path}${where}: ${issue?.message ?? "invalid"} (expected a list of "host:port")`,
    );
  }
  return parsed.data.map(parseAddress);
}

export function loopbackCluster(n: number, basePort: number, host: string): PeerAddress[] {
  if (basePort + n - 1 > 65535)
    throw new UsageError(`--base-port ${basePort} leaves no room for ${n} ranks`);
  return Array.from({ length: n }, (_, i) => ({ host, port: basePort + i }));
}

const positiveInt = (flag: string) =>
  z
    .number({ error: `${flag} must be a number` })
    .int({ error: `${flag} must be a whole number` })
    .positive({ error: `${flag} must be > 0` });
const nonNegative = (flag: string) =>
  z.number({ error: `${flag} must be a number` }).nonnegative({ error: `${flag} must be >= 0` });

const probability = (flag: string) =>
  z
    .number({ error: `${flag} must be a number` })
    .min(0, { error: `${flag} must be from 0 to 1` })
    .max(1, { error: `${flag} must be from 0 to 1` });

export const rankFlags = z.object({
  i: z
    .number({ error: "-i (rank id) must be a number" })
    .int({ error: "-i must be a whole number" })
    .nonnegative({ error: "-i must be >= 0" }),
  o: positiveInt("-o (read timeout, ms)"),
  l: positiveInt("-l (max instances per round)"),
  t: nonNegative("-t (seconds of generation)"),
  rate: nonNegative("--rate"),
  grace: nonNegative("--grace"),
  batch: positiveInt("--batch"),
  window: positiveInt("--window"),
  drop: probability("--drop"),
  dup: probability("--dup"),
  seed: z
    .number({ error: "--seed must be a number" })
    .int({ error: "--seed must be a whole number" }),
  payload: z
    .number({ error: "--payload must be a number of bytes" })
    .int({ error: "--payload must be a whole number of bytes" })
    .min(0, { error: `--payload must be from 0 to ${MAX_PAYLOAD_BYTES} bytes` })
    .max(MAX_PAYLOAD_BYTES, { error: `--payload must be from 0 to ${MAX_PAYLOAD_BYTES} bytes` }),
  "checkpoint-bytes": z
    .number({ error: "--checkpoint-bytes must be a number" })
    .int({ error: "--checkpoint-bytes must be a whole number" })
    .min(MIN_CHECKPOINT_BYTES, { error: `--checkpoint-bytes must be >= ${MIN_CHECKPOINT_BYTES}` })
    .max(Number.MAX_SAFE_INTEGER, { error: "--checkpoint-bytes is too large" }),
});

/** Validate numbers first (yargs turns "abc" into NaN), reporting the first problem. */
export function checkFlags(argv: Record<string, unknown>): z.infer<typeof rankFlags> {
  const parsed = rankFlags.safeParse(argv);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? "invalid flags");
  return parsed.data;
}

const MAKE_SECRET = "head -c 32 /dev/urandom > secret; chmod 600 secret";

/** The cluster secret: the file's bytes, less a trailing line break (so an editor adding or a hex
 * secret ending with one makes no difference). */
export function loadSecret(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(
      `cannot read cluster secret ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  if (end < MIN_SECRET_BYTES)
    throw new UsageError(
      `cluster secret ${path} has ${end} bytes, at least ${MIN_SECRET_BYTES} are needed (make one: ${MAKE_SECRET})`,
    );
  return bytes.subarray(0, end);
}

/** 127.0.0.0/8 and localhost: only this machine can reach them. */
function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The secret peer frames are authenticated with, or null: none given. A cluster that names an
 * address other machines may reach needs one, unless --insecure says otherwise.
 */
export function peerSecret(
  cluster: readonly PeerAddress[],
  secretFile: string | undefined,
  insecure: boolean,
): Buffer | null {
  if (secretFile !== undefined && insecure)
    throw new UsageError("give either --cluster-secret or --insecure, not both");
  if (secretFile !== undefined) return loadSecret(secretFile);
  const exposed = cluster.find((a) => !isLoopback(a.host));
  if (exposed && !insecure)
    throw new UsageError(
      `the cluster names ${exposed.host}, which is not loopback: give --cluster-secret <file> (make one: ${MAKE_SECRET}) or, to accept frames from anyone who reaches the peer port, --insecure`,
    );
  return null;
}
