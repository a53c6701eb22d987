// `yasp-kv`: one rank of the key-value service: a rank of the log (peer port), the KvMachine as its
// state machine, the binary client port and, when configured, the Raft KV seed's text port.
// Bad input ends in one line on stderr and a non-zero exit, never a stack trace.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { hideBin } from "yargs/helpers";
import { z } from "zod";
import { FailingAcceptor } from "../faults/failing_acceptor.js";
import { Prng } from "../faults/prng.js";
import { NullLogSink, RotatingLogSink } from "../io/rotating_log.js";
import { FileSnapshotStore, SnapshotCorruptError, snapshotPath } from "../io/snapshot_store.js";
import { SystemClock } from "../io/system_clock.js";
import { TcpTransport, type PeerAddress } from "../io/tcp_transport.js";
import { WalCorruptError, WalStorage } from "../io/wal.js";
import { InvariantError } from "../protocol/assert.js";
import type { LogSink, Transport } from "../ports.js";
import { Rank } from "../rank.js";
import { DEFAULTS, type RankConfig } from "../rank_types.js";
import { ClientServer } from "../kv/client_server.js";
import { loadClientSecurity } from "./kv_security.js";
import { KvMachine, KvSnapshotError } from "../kv/kv_machine.js";
import { KvService } from "../kv/service.js";
import { MIN_LEASE_MS } from "../lease/config.js";
import { FileLeaseLog, LeaseNode, monotonicUs } from "../lease/node.js";
import { MAX_LEASE_MS, MAX_PRIORITY } from "../protocol/lease_messages.js";
import { TextServer } from "../kv/text_server.js";
import { peerSecret, UsageError } from "./config.js";
import { faultSpec, watchPartition, withFaults } from "./faults.js";
import { loadKvCluster, loopbackKvCluster, type KvAddresses } from "./kv_config.js";
import { portLimits, type PortLimits } from "./kv_limits.js";
import { parseKvArgs, type KvArgs } from "./kv_options.js";
import { startStatusFile } from "./status_file.js";

const warn = (line: string) => void process.stderr.write(line + "\n");

const positiveInt = (flag: string) =>
  z
    .number({ error: `${flag} must be a number` })
    .int({ error: `${flag} must be a whole number` })
    .positive({ error: `${flag} must be > 0` });
const probability = (flag: string) =>
  z
    .number({ error: `${flag} must be a number` })
    .min(0, { error: `${flag} must be from 0 to 1` })
    .max(1, { error: `${flag} must be from 0 to 1` });
const port = (flag: string) =>
  z
    .number({ error: `${flag} must be a port number` })
    .int({ error: `${flag} must be a port number` })
    .min(1, { error: `${flag} must be a port number` })
    .max(65535, { error: `${flag} must be a port number` });

const kvFlags = z.object({
  i: z
    .number({ error: "-i (rank id) must be a number" })
    .int({ error: "-i must be a whole number" })
    .nonnegative({ error: "-i must be >= 0" }),
  o: positiveInt("-o (read timeout, ms)"),
  l: positiveInt("-l (max commands per round)"),
  "checkpoint-bytes": positiveInt("--checkpoint-bytes").min(4096, {
    error: "--checkpoint-bytes must be >= 4096",
  }),
  "max-value-bytes": positiveInt("--max-value-bytes").max(8 * 1024 * 1024 - 16 * 1024, {
    error: "--max-value-bytes must be below 8 MiB",
  }),
  "audit-log-bytes": positiveInt("--audit-log-bytes").min(4096, {
    error: "--audit-log-bytes must be >= 4096",
  }),
  "fail-rate": probability("--fail-rate"),
  drop: probability("--drop"),
  dup: probability("--dup"),
  seed: z
    .number({ error: "--seed must be a number" })
    .int({ error: "--seed must be a whole number" }),
  priority: z
    .number({ error: "--priority must be a number" })
    .int({ error: "--priority must be a whole number" })
    .min(0, { error: "--priority must be from 0 to 65535" })
    .max(MAX_PRIORITY, { error: "--priority must be from 0 to 65535" }),
  "lease-ms": positiveInt("--lease-ms")
    .min(MIN_LEASE_MS, { error: `--lease-ms must be from ${MIN_LEASE_MS} to ${MAX_LEASE_MS}` })
    .max(MAX_LEASE_MS, { error: `--lease-ms must be from ${MIN_LEASE_MS} to ${MAX_LEASE_MS}` }),
  "client-port": port("--client-port").optional(),
  "text-port": port("--text-port").optional(),
});
type KvFlags = z.infer<typeof kvFlags>;

function checkKvFlags(args: KvArgs): KvFlags {
  const parsed = kvFlags.safeParse(args);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? "invalid flags");
  return parsed.data;
}

/** Every rank's addresses, with this rank's client and text ports as the flags say. */
function addressesOf(args: KvArgs, flags: KvFlags): KvAddresses[] {
  if (args.cluster !== undefined && args.n !== undefined)
    throw new UsageError("give either --cluster or -n, not both");
  const textWanted = flags["text-port"] !== undefined;
  let all: KvAddresses[];
  if (args.cluster !== undefined) all = loadKvCluster(args.cluster, false);
  else if (args.n === undefined)
    throw new UsageError("say where the ranks are: --cluster <file> or -n <ranks>");
  else if (!Number.isInteger(args.n) || args.n < 1 || args.n > 64)
    throw new UsageError("-n must be a whole number from 1 to 64");
  else all = loopbackKvCluster(args.n, args["base-port"], args.host, textWanted);
  if (flags.i >= all.length)
    throw new UsageError(`-i ${flags.i} is outside the cluster (ranks 0..${all.length - 1})`);
  const mine = all[flags.i] as KvAddresses;
  if (flags["client-port"] !== undefined)
    mine.client = { host: mine.client.host, port: flags["client-port"] };
  // The text protocol has no authentication: loopback unless the cluster file names its address.
  if (textWanted && (mine.text === null || args.cluster !== undefined))
    mine.text = { host: mine.text?.host ?? "127.0.0.1", port: flags["text-port"] as number };
  return all;
}

function openStorage(
  args: KvArgs,
  flags: KvFlags,
): { storage: WalStorage; snapshots: FileSnapshotStore; logSink: LogSink } {
  const dataDir = args["data-dir"] ?? join("data", String(flags.i));
  try {
    mkdirSync(dataDir, { recursive: true });
    if (args["audit-log"] !== undefined) mkdirSync(args["audit-log"], { recursive: true });
    const storage = new WalStorage(join(dataDir, `rank-${flags.i}.wal`), {
      fsync: args.fsync,
      warn,
    });
    const snapshots = new FileSnapshotStore(snapshotPath(dataDir, flags.i), {
      fsync: args.fsync,
      warn,
    });
    const auditDir = args["audit-log"];
    const logSink: LogSink =
      auditDir === undefined
        ? new NullLogSink()
        : new RotatingLogSink(join(auditDir, `rank-${flags.i}.log`), flags["audit-log-bytes"], 4);
    return { storage, snapshots, logSink };
  } catch (e) {
    throw new UsageError(
      `cannot open the data directory ${dataDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/** The peer transport with the fault flags applied (off by default). */
function peerTransport(args: KvArgs, flags: KvFlags, tcp: TcpTransport, clock: SystemClock) {
  const faults = faultSpec(flags.drop, flags.dup, args.delay);
  const partitionFile = args["partition-file"];
  const wanted =
    faults.drop > 0 || faults.dup > 0 || faults.maxDelayMs > 0 || partitionFile !== undefined;
  const faulty = wanted ? withFaults(tcp, flags.i, faults, flags.seed, clock) : null;
  const stopWatch =
    faulty && partitionFile !== undefined ? watchPartition(partitionFile, faulty, warn) : () => {};
  let transport: Transport = faulty ?? tcp;
  if (flags["fail-rate"] > 0)
    transport = new FailingAcceptor(
      transport,
      flags["fail-rate"],
      new Prng(flags.seed * 7919 + flags.i),
    );
  return { transport, stopWatch };
}

/** This rank's master lease over the rank's peer transport, its lines in the lease log. */
function startLease(args: KvArgs, flags: KvFlags, rank: Rank, n: number): LeaseNode {
  const dataDir = args["data-dir"] ?? join("data", String(flags.i));
  const path = args["lease-log"] ?? join(dataDir, "lease.log");
  let log: FileLeaseLog;
  try {
    log = new FileLeaseLog(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new UsageError(`cannot open the lease log ${path}: ${why}`);
  }
  // Jitter only: seeded apart per rank and per life (never Math.random: runs can be replayed).
  const random = new Prng(flags.seed * 7919 + flags.i * 104_729 + (monotonicUs() % 1_000_003));
  const cfg = { me: flags.i, n, priority: flags.priority, leaseMs: flags["lease-ms"] };
  return new LeaseNode(cfg, rank, log, random, warn);
}

/** The client port and, when configured, the text port: listening once this resolves. */
async function serveClients(
  service: KvService,
  me: KvAddresses,
  security: ReturnType<typeof loadClientSecurity>,
  flags: KvFlags,
  limits: PortLimits,
): Promise<{ client: ClientServer; text: TextServer | null }> {
  const client = new ClientServer(service, {
    ...security,
    rank: flags.i,
    limits: limits.client,
    warn,
  });
  await listenOrExplain(() => client.listen(me.client), "client", me.client);
  const textAt = me.text;
  if (!textAt) return { client, text: null };
  const text = new TextServer(service, {
    maxValueBytes: flags["max-value-bytes"],
    limits: limits.text,
    rank: flags.i,
    warn,
  });
  await listenOrExplain(() => text.listen(textAt), "text", textAt);
  return { client, text };
}

/** The rank of the log with its KvMachine, over the peer transport (listening already). */
async function openRank(
  args: ReturnType<typeof parseKvArgs>,
  flags: ReturnType<typeof checkKvFlags>,
  addresses: KvAddresses[],
  clock: SystemClock,
  limits: PortLimits,
) {
  const me = addresses[flags.i] as KvAddresses;
  const peers: PeerAddress[] = addresses.map((a) => a.peer);
  const secret = peerSecret(peers, args["cluster-secret"], args.insecure);
  const { storage, snapshots, logSink } = openStorage(args, flags);
  const tcp = new TcpTransport(flags.i, peers, warn, {
    ...(secret && { secret }),
    limits: limits.peer,
  });
  await listenOrExplain(() => tcp.listen(), "peer", me.peer);
  const { transport, stopWatch } = peerTransport(args, flags, tcp, clock);
  const cfg: RankConfig = {
    ...DEFAULTS,
    me: flags.i,
    n: peers.length,
    timeoutMs: flags.o,
    maxPerRound: flags.l,
    checkpointBytes: flags["checkpoint-bytes"],
  };
  const machine = new KvMachine();
  const rank = await Rank.create(
    cfg,
    { clock, transport, storage, logSink, snapshots },
    {
      warn,
      stateMachine: machine,
      rejoin: args.rejoin,
      maxCommandBytes: flags["max-value-bytes"] + 16 * 1024,
    },
  );
  return { rank, machine, stopWatch };
}

async function main(): Promise<number> {
  const args = parseKvArgs(hideBin(process.argv));
  const flags = checkKvFlags(args);
  const addresses = addressesOf(args, flags);
  const me = addresses[flags.i] as KvAddresses;
  const security = loadClientSecurity(args);
  const clock = new SystemClock();
  const limits = portLimits(args, addresses.length, warn);
  const { rank, machine, stopWatch } = await openRank(args, flags, addresses, clock, limits);
  const peers = addresses.map((a) => a.peer);
  const lease = startLease(args, flags, rank, peers.length);
  const service = new KvService(rank, machine, clock, {
    me: flags.i,
    maxValueBytes: flags["max-value-bytes"],
    lease,
  });
  rank.start();
  lease.start();
  service.startExpiry();
  const { client, text } = await serveClients(service, me, security, flags, limits);
  const stopStatus =
    args["status-file"] !== undefined
      ? startStatusFile(args["status-file"], () => service.status(), warn)
      : () => {};
  const where = (a: PeerAddress | null) => (a ? `${a.host}:${a.port}` : "off");
  process.stdout.write(
    `yasp-kv rank ${flags.i}: peer ${where(me.peer)}, client ${where(me.client)}, text ${where(me.text)}\n`,
  );
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  // A rank that fails (an invariant, a disk error) rejects: main's handler says why and exits.
  await Promise.race([stopped, rank.failed]);
  stopStatus();
  stopWatch();
  lease.stop(); // a master ends its lease (logged) and releases it before the transport closes
  service.stop();
  await Promise.all([client.close(), text?.close()]);
  await rank.stop();
  return 0;
}

async function listenOrExplain(
  listen: () => Promise<unknown>,
  what: string,
  at: PeerAddress,
): Promise<void> {
  try {
    await listen();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new UsageError(`cannot listen on the ${what} port ${at.host}:${at.port}: ${why}`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) process.stderr.write(`yasp-kv: ${e.message}\n`);
    else if (e instanceof InvariantError)
      process.stderr.write(`yasp-kv: stopped: invariant broken: ${e.message}\n`);
    else if (
      e instanceof WalCorruptError ||
      e instanceof SnapshotCorruptError ||
      e instanceof KvSnapshotError
    )
      process.stderr.write(`yasp-kv: cannot recover: ${e.message}\n`);
    else
      process.stderr.write(
        `yasp-kv: internal error: ${e instanceof Error ? e.message : String(e)}\n`,
      );
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
