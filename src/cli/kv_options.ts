// yasp-kv's flags (yargs); values are validated in kv.ts with zod like the rank command's.
import yargs, { type Options } from "yargs";
import { LEASE_DEFAULTS, MIN_LEASE_MS } from "../lease/config.js";
import { DEFAULTS } from "../rank_types.js";
import { AUTH_OPTIONS, failAsUsageError, FAULT_OPTIONS } from "./options.js";

export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

const SERVICE_OPTIONS = {
  i: {
    alias: "rank",
    type: "number",
    demandOption: "-i <rank> is required",
    describe: "this rank's id, 0..N-1",
  },
  n: {
    alias: "ranks",
    type: "number",
    describe: "number of ranks on one host (instead of --cluster)",
  },
  "base-port": {
    type: "number",
    default: 7000,
    describe:
      "with -n: rank i's peer port is P+i, its client port P+1000+i, its text port P+2000+i",
  },
  host: { type: "string", default: "127.0.0.1", describe: "with -n: the address every rank uses" },
  cluster: {
    type: "string",
    describe:
      'cluster file: a JSON list, one entry per rank: "host:port" (the peer port; client and text ports at +1000 and +2000) or {"peer": "h:p", "client": "h:p", "text": "h:p"}',
  },
  "data-dir": {
    type: "string",
    describe: "directory of this rank's write-ahead log and snapshot (default data/<i>)",
  },
  "client-port": { type: "number", describe: "this rank's client port (overrides the convention)" },
  "text-port": {
    type: "number",
    describe:
      "serve the Raft KV seed's text protocol (set/get/getm/cas/delete) on this port. It has no authentication: it listens on 127.0.0.1 unless the cluster file names a text address on another host",
  },
  "audit-log": {
    type: "string",
    describe:
      "write the generate/commit audit log (checkable with yasp-check) to <dir>/rank-<i>.log, rotated by size",
  },
  "audit-log-bytes": {
    type: "number",
    default: 64 * 1024 * 1024,
    describe: "rotate the audit log past this size",
  },
  "max-value-bytes": {
    type: "number",
    default: DEFAULT_MAX_VALUE_BYTES,
    describe: "largest value accepted",
  },
  o: {
    alias: "timeout",
    type: "number",
    default: DEFAULTS.timeoutMs,
    describe: "read timeout in ms; a silent leader is replaced after it",
  },
  l: {
    alias: "max-per-round",
    type: "number",
    default: 10_000,
    describe: "most new commands a leader imposes in one round",
  },
  fsync: {
    type: "boolean",
    default: true,
    describe: "fsync the write-ahead log (--no-fsync: benchmarks only)",
  },
  "checkpoint-bytes": {
    type: "number",
    default: DEFAULTS.checkpointBytes,
    describe: "snapshot and rewrite the write-ahead log past this size",
  },
  rejoin: {
    type: "boolean",
    default: false,
    describe: "this rank's data directory was lost: rejoin the running cluster",
  },
  "status-file": {
    type: "string",
    describe: "write this rank's status as JSON to this file every 100 ms",
  },
  priority: {
    type: "number",
    default: LEASE_DEFAULTS.priority,
    describe:
      "master lease: candidates with a higher priority try first (ties: lower rank first), 0..65535",
  },
  "lease-ms": {
    type: "number",
    default: LEASE_DEFAULTS.leaseMs,
    describe: `master lease length in ms (${MIN_LEASE_MS}..60000; the same on every rank): a new master serves about this long after the old one dies`,
  },
  "lease-log": {
    type: "string",
    describe:
      "append this rank's lease lines (held/ended/start, monotonic µs; checkable with yasp-lease-check) here (default <data-dir>/lease.log)",
  },
  "fail-rate": {
    type: "number",
    default: 0,
    describe:
      "like the Paxos KV seed's acceptors: refuse each promise/accept request with this probability (0..1)",
  },
} satisfies Record<string, Options>;

const CLIENT_AUTH_OPTIONS = {
  "client-cert": {
    type: "string",
    describe: "serve the client port over TLS with this certificate (PEM file)",
  },
  "client-key": { type: "string", describe: "the TLS certificate's private key (PEM file)" },
  "client-ca": {
    type: "string",
    describe: "require client certificates signed by this CA (PEM file)",
  },
  "auth-token-file": {
    type: "string",
    describe: "require this token (the file's first line) from every client",
  },
} satisfies Record<string, Options>;

/** What a connection may cost (io/admission.ts); each port has its own defaults. */
const ADMISSION_OPTIONS = {
  "handshake-ms": {
    type: "number",
    describe:
      "a new connection must finish its handshake (a peer's hello, a client's hello) within this (default 5000)",
  },
  "stall-ms": {
    type: "number",
    describe: "a frame in progress that receives no byte for this long is cut (default 10000)",
  },
  "max-unauthenticated": {
    type: "number",
    describe:
      "connections still in their handshake on a port; the oldest is closed to make room (default: peer 64, client 256)",
  },
  "max-unauthenticated-per-address": {
    type: "number",
    describe: "the same, per remote address (default: peer 16, client 128)",
  },
  "max-pending-bytes": {
    type: "number",
    describe:
      "bytes held for incomplete frames across the client port's connections, and the text port's (default 32 MiB each; the peer port's is two of its largest frames)",
  },
  "max-connections": {
    type: "number",
    describe:
      "connections at once on the client port, and on the text port (default 16384 and 4096, fewer when the open-file limit is lower)",
  },
} satisfies Record<string, Options>;

export function parseKvArgs(argv: string[]) {
  return yargs(argv)
    .scriptName("yasp-kv")
    .usage(
      "$0 -i <rank> (-n <ranks> [--base-port p] | --cluster file) [--data-dir dir] [--text-port p]\n\nRun one rank of the yasp key-value service.",
    )
    .options(SERVICE_OPTIONS)
    .options(CLIENT_AUTH_OPTIONS)
    .options(AUTH_OPTIONS)
    .options(FAULT_OPTIONS)
    .options(ADMISSION_OPTIONS)
    .group(["client-cert", "client-key", "client-ca", "auth-token-file"], "Who may talk to it:")
    .group(Object.keys(ADMISSION_OPTIONS), "What a connection may cost (every port):")
    .group(["cluster-secret", "insecure"], "Peer authentication (optional on loopback):")
    .group(
      ["drop", "dup", "delay", "seed", "partition-file", "fail-rate"],
      "Fault injection (off by default):",
    )
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail(failAsUsageError)
    .parseSync();
}

export type KvArgs = ReturnType<typeof parseKvArgs>;
