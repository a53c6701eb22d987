// The benchmark's messaging limit: what the same processes reach when they do only the work every
// commit needs, with no protocol logic. Rank 0 plays a fixed leader: it cuts batches of --batch ids
// (the same ids and frames the ranks use), keeps --window batches in flight, persists each in its
// own write-ahead log and broadcasts it as an impose frame; every other rank persists the batch
// (WAL record + fdatasync, group commit) and acks; on a majority the leader broadcasts the commit
// frame; every rank writes the generate lines of its own ids and a commit line for every id. Same
// TCP transport and codec (zod validation included), same WAL, same log writer. No rounds, no
// reads, no offers, no bindings (the owner's second fsync), no retransmission (loopback does not
// lose frames): an upper bound of what the protocol could reach with this transport, WAL and log.
// Like a benchmark point, each rank counts the commit lines it wrote in a window after a warm-up
// (from its first frame) and prints their rate; the bench takes the slowest rank's. Frames are
// authenticated with the cluster secret when one is given, as the ranks' are.
//   node dist/src/harness/bench_limit.js <rank> <cluster file> <warm-up s> <window s> <dir> <fsync: 1|0> [secret file]
import { logPath } from "../cli/launch.js";
import { join } from "node:path";
import { FileLogSink } from "../io/file_log.js";
import { SystemClock } from "../io/system_clock.js";
import { TcpTransport } from "../io/tcp_transport.js";
import { WalStorage } from "../io/wal.js";
import { commitLine, generateLine } from "../protocol/log_lines.js";
import type { AckMsg, CommitMsg, ImposeMsg, WireMsg } from "../protocol/messages.js";
import { loadCluster, loadSecret } from "../cli/config.js";

const BATCH = 256;
const WINDOW = 8;
const ROUND = 1;
/** The leader goes on this long past its window, so every follower's window (which starts at its
 * first impose, a little later) is full too. */
const OVERRUN_US = 500_000;

const [
  meText = "0",
  clusterFile = "",
  warmText = "3",
  windowText = "5",
  dir = ".",
  fsyncText = "1",
  secretFile = "",
] = process.argv.slice(2);
const warmUs = Number(warmText) * 1e6;
const windowUs = Number(windowText) * 1e6;
const me = Number(meText);
const addrs = loadCluster(clusterFile);
const n = addrs.length;
const quorum = Math.floor(n / 2) + 1;
const clock = new SystemClock();
const nowUs = () => clock.nowUs();
const warn = (line: string) => void process.stderr.write(line + "\n");

const transport = new TcpTransport(
  me,
  addrs,
  warn,
  secretFile ? { secret: loadSecret(secretFile) } : {},
);
await transport.listen();
const wal = new WalStorage(join(dir, `rank-${me}.wal`), { fsync: fsyncText === "1", warn });
await wal.load();
const log = new FileLogSink(logPath(dir, me));

/** Generate lines for this rank's ids of a batch (id "<owner>-<k>": instance k of its owner). */
function logGenerated(ids: readonly string[], atUs: number): void {
  for (const id of ids) {
    if (!id.startsWith(`${me}-`)) continue;
    log.write(generateLine(id, Number(id.slice(id.indexOf("-") + 1)), atUs));
  }
}

/** This rank's measurement: commits logged inside [start + warm-up, + window). */
let startUs = Infinity;
let counted = 0;

function logCommitted(seq: number, ids: readonly string[], atUs: number): void {
  ids.forEach((id, i) => log.write(commitLine(id, seq + i, atUs)));
  log.flush();
  if (atUs >= startUs + warmUs && atUs < startUs + warmUs + windowUs) counted += ids.length;
}

function broadcast(msg: WireMsg): void {
  for (let r = 0; r < n; r++) if (r !== me) transport.send(r, msg);
}

function runFollower(): void {
  const hello = setInterval(() => transport.send(0, { t: "ping", from: me, round: ROUND }), 20);
  transport.onMessage((msg) => {
    if (msg.t === "impose") {
      clearInterval(hello);
      if (startUs === Infinity) startUs = nowUs();
      logGenerated(msg.ids, nowUs());
      wal.append({ r: "accept", round: msg.round, seq: msg.seq, ids: msg.ids });
      const ack: AckMsg = {
        t: "ack",
        from: me,
        round: msg.round,
        seq: msg.seq,
        count: msg.ids.length,
        backlog: 0,
      };
      void wal.sync().then(() => transport.send(0, ack));
    } else if (msg.t === "commit") {
      logCommitted(msg.seq, msg.ids, nowUs());
    } else if (msg.t === "end") {
      void shutdown(false);
    }
  });
}

function runLeader(): void {
  const heard = new Set<number>([me]);
  const acks = new Map<number, { msg: ImposeMsg; acks: number }>();
  let nextSeq = 0;
  let commitNext = 0;
  const cut = () => {
    while (acks.size < WINDOW) {
      const seq = nextSeq;
      const ids = Array.from(
        { length: BATCH },
        (_, i) => `${(seq + i) % n}-${Math.floor((seq + i) / n)}`,
      );
      nextSeq += BATCH;
      const msg: ImposeMsg = { t: "impose", from: me, round: ROUND, seq, ids };
      acks.set(seq, { msg, acks: 0 });
      logGenerated(ids, nowUs());
      wal.append({ r: "accept", round: ROUND, seq, ids });
      void wal.sync().then(() => onAck(seq));
      broadcast(msg);
    }
  };
  const onAck = (seq: number) => {
    const batch = acks.get(seq);
    if (!batch || ++batch.acks !== quorum) return;
    // Commit in seq order: a batch acked out of order waits for the ones before it.
    for (
      let next = acks.get(commitNext);
      next && next.acks >= quorum;
      next = acks.get(commitNext)
    ) {
      const commit: CommitMsg = { t: "commit", from: me, seq: next.msg.seq, ids: next.msg.ids };
      broadcast(commit);
      const t = nowUs();
      logCommitted(commit.seq, commit.ids, t);
      acks.delete(commitNext);
      commitNext += BATCH;
      if (t >= startUs + warmUs + windowUs + OVERRUN_US) return void shutdown(true);
    }
    cut();
  };
  transport.onMessage((msg) => {
    if (msg.t === "ack") onAck(msg.seq);
    else if (msg.t === "ping" && !heard.has(msg.from)) {
      heard.add(msg.from);
      if (heard.size === n) {
        startUs = nowUs();
        cut();
      }
    }
  });
  if (n === 1) {
    startUs = nowUs();
    cut();
  }
}

let stopping = false;
async function shutdown(leader: boolean): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (leader) broadcast({ t: "end", from: me, round: ROUND, next: ROUND + 1 });
  process.stdout.write(`${(counted / (windowUs / 1e6)).toFixed(0)}\n`);
  // Let the last frames leave before the sockets close.
  await new Promise((resolve) => setTimeout(resolve, 100));
  await log.close();
  await wal.close();
  await transport.close();
  process.exit(0);
}

if (me === 0) runLeader();
else runFollower();
