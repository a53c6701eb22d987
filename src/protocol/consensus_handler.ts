// consensus handler: owns the rank's log. Three parts, one job each:
// - proposing.ts: own instances (generate lines), offers to the leader, bindings and grants;
// - learning.ts: chosen values into the log in seq order (commit lines);
// - repair.ts: status to the other ranks, fetching what this rank missed, serving fetches;
// - snapshot_transfer.ts: serving and receiving snapshots when a fetch goes below the log held.
// This file routes inputs to them and tells leader and follower how far the log goes.
import { StepTime } from "./assert.js";
import type { ConsensusIn, Effect, ProcessorLogic, StorageRecord } from "./effects.js";
import { Learner } from "./learning.js";
import { installLine } from "./log_lines.js";
import { withCmds, type StatusMsg } from "./messages.js";
import { Proposer, type ProposalSource } from "./proposing.js";
import type { RecoveredState } from "./recovery.js";
import { ReadBarriers } from "./read_barriers.js";
import { Repairer } from "./repair.js";
import { SnapshotReceiver, SnapshotServer, type Snapshot } from "./snapshot_transfer.js";

export interface ConsensusConfig {
  me: number;
  n: number;
  timeoutUs: number;
  /** When this rank was created (the epoch of its offer counters). */
  createdUs: number;
  /** Most ids in one fetched reply. */
  fetchMax: number;
  /** Snapshots from peers larger than this are refused. */
  maxSnapshotBytes: number;
  /** Bytes of commands the commit log holds before it forgets what the last snapshot covers. */
  heldBytes: number;
  /** A paced producer of own instances (the background workload), if any. */
  source?: ProposalSource;
}

export interface ConsensusStats {
  generated: number;
  fillers: number;
  committed: number;
  requeued: number;
  fetchesSent: number;
  fetchedIds: number;
  conflicts: number;
  snapshotsInstalled: number;
  snapshotChunks: number;
  snapshotsRefused: number;
}

/** Most instances a stuck read barrier asks for at once (see ReadBarriers.nudgeCount). */
const NUDGE_MAX = 256;

/** The read barrier a rejoining rank waits for before its acceptor votes (API tickets start at 1). */
const REJOIN_TICKET = 0;

export class ConsensusHandler implements ProcessorLogic<ConsensusIn> {
  private readonly proposer: Proposer;
  private readonly learner: Learner;
  private readonly repair: Repairer;
  private readonly reads: ReadBarriers;
  private readonly snapshots: SnapshotServer;
  private readonly receiver: SnapshotReceiver;
  private note = 0;
  /** Rejoining after a lost disk: "waiting" until a read barrier answered by a majority of the
   * others (its own acceptor is silent) has passed; then "rejoined" (votes are told again with
   * every status: the note to the follower is lossy). */
  private rejoin: "no" | "start" | "waiting" | "rejoined" = "no";
  private notified = { commitIndex: -1, backlog: -1 };
  private readonly time: StepTime;

  constructor(private readonly cfg: ConsensusConfig) {
    this.proposer = new Proposer(cfg);
    this.learner = new Learner({
      me: cfg.me,
      heldBytes: cfg.heldBytes,
      onCommitted: (seq, id) => this.proposer.onCommitted(seq, id),
    });
    this.repair = new Repairer(cfg, this.learner);
    this.reads = new ReadBarriers(cfg);
    this.snapshots = new SnapshotServer(cfg.me);
    this.receiver = new SnapshotReceiver(cfg.me, cfg.timeoutUs, cfg.maxSnapshotBytes);
    this.time = new StepTime(`rank ${cfg.me}: consensus`);
  }

  get commitIndex(): number {
    return this.learner.commitIndex;
  }

  get backlog(): number {
    return this.proposer.backlog;
  }

  /** Values known chosen above a missing seq. */
  get hasGap(): boolean {
    return this.learner.hasGap;
  }

  /** The last status heard from each rank (undefined: never heard; own slot unused). */
  get peers(): readonly (StatusMsg | undefined)[] {
    return this.repair.peers;
  }

  /** Own instances generated in all lives of this rank (the generate counter). */
  get generated(): number {
    return this.proposer.stats.generated;
  }

  get stats(): ConsensusStats {
    const { generated, fillers, requeued } = this.proposer.stats;
    const { committed, conflicts } = this.learner.stats;
    return {
      generated,
      fillers,
      committed,
      requeued,
      ...this.repair.stats,
      conflicts,
      ...this.receiver.stats,
    };
  }

  /** Committed ids still held in memory, from seq `from`. */
  committedIds(from = 0): string[] {
    return this.learner.log.slice(from, this.learner.log.length);
  }

  /** Restart: what the write-ahead log kept above the snapshot the rank restored (if any). */
  restore(recovered: RecoveredState, snapshot: Snapshot | null): void {
    this.learner.restore(recovered.snapshotSeq, recovered.commits);
    this.proposer.restore(recovered.generated, recovered.pending, recovered.bindings);
    if (snapshot) this.snapshots.hold(snapshot);
  }

  /** This rank lost its disk and starts empty: its acceptor stays silent until it has caught up
   * with what a majority of the others had when it came back, and its instance ids start from
   * the clock (µs), past any counter an earlier life of it can have used. */
  startRejoining(nowUs: number): void {
    this.rejoin = "start";
    this.proposer.stats.generated = Math.max(this.proposer.stats.generated, Math.floor(nowUs));
  }

  /** Durable records describing the consensus state above snapshotSeq (for a write-ahead log
   * checkpoint): own instances still to commit, and the commits the snapshot does not cover. */
  checkpointRecords(snapshotSeq: number): StorageRecord[] {
    const recs = this.proposer.ownRecords();
    const log = this.learner.log;
    const from = Math.max(snapshotSeq + 1, log.start);
    for (let seq = from; seq < log.length; seq += 4096) {
      const end = Math.min(log.length, seq + 4096);
      recs.push({ r: "commit", seq, ...withCmds(log.slice(seq, end), log.sliceCmds(seq, end)) });
    }
    return recs;
  }

  onInput(input: ConsensusIn, nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    this.stepRejoin(nowUs, out);
    switch (input.kind) {
      case "round":
        this.proposer.onRound(input.round, nowUs, input.patience);
        break;
      case "propose":
        this.proposer.propose(input.count, nowUs, out);
        this.proposer.takeDue(nowUs, out);
        break;
      case "note":
        if (input.note !== this.note) {
          this.note = input.note;
          this.broadcastStatus(out); // tell the others at once
        }
        break;
      case "readBarrier":
        this.reads.start(input.ticket, nowUs, out);
        break;
      case "submit":
        this.proposer.submit(input.ticket, input.cmd, nowUs, out);
        break;
      case "snapshot":
        // A snapshot is durable: it serves peers from now on, and the log may forget below it.
        this.snapshots.hold(input);
        this.learner.snapshotTaken(input.seq);
        break;
      case "net":
        this.onNet(input.msg, nowUs, out);
        break;
    }
    this.reads.resolve(this.learner.commitIndex, out);
    this.proposer.maybeOffer(nowUs, out);
    this.notifyLocal(out);
    this.stepRejoin(nowUs, out);
  }

  onTime(nowUs: number, out: Effect[]): void {
    this.time.enter(nowUs);
    this.stepRejoin(nowUs, out);
    this.proposer.takeDue(nowUs, out);
    this.repair.maybeFetch(nowUs, out);
    this.reads.onTime(nowUs, out);
    this.receiver.onTime(nowUs);
    this.proposer.propose(
      this.reads.nudgeCount(this.learner.commitIndex, nowUs, NUDGE_MAX),
      nowUs,
      out,
    );
    if (this.repair.statusDue.fired(nowUs)) {
      this.repair.statusDue.arm(nowUs + this.repair.statusEveryUs);
      this.broadcastStatus(out);
      this.notified.commitIndex = -1; // repeat the local notes too: they are lossy
      if (this.rejoin === "rejoined") out.push({ kind: "toFollower", msg: { kind: "vote" } });
    }
    this.proposer.maybeOffer(nowUs, out);
    this.notifyLocal(out);
    this.stepRejoin(nowUs, out);
  }

  /** Start the rejoin barrier; once it is done, the acceptor may vote. */
  private stepRejoin(nowUs: number, out: Effect[]): void {
    if (this.rejoin === "start") {
      this.rejoin = "waiting";
      this.reads.start(REJOIN_TICKET, nowUs, out);
      return;
    }
    if (this.rejoin !== "waiting") return;
    const done = out.findIndex((e) => e.kind === "readDone" && e.ticket === REJOIN_TICKET);
    if (done < 0) return;
    out.splice(done, 1);
    this.rejoin = "rejoined";
    out.push({ kind: "toFollower", msg: { kind: "vote" } });
    out.push({ kind: "warn", line: `rank ${this.cfg.me}: rejoined at seq ${this.commitIndex}` });
  }

  /** The step's proposals leave as one record. */
  endStep(_nowUs: number, out: Effect[]): void {
    this.proposer.flushProposals(out);
  }

  wakeAt(): number {
    return Math.min(
      this.proposer.wakeAt(),
      this.repair.statusDue.at,
      this.repair.nextFetchUs(),
      this.reads.wakeAt(),
      this.receiver.stalled.at,
    );
  }

  private onNet(
    msg: Extract<ConsensusIn, { kind: "net" }>["msg"],
    nowUs: number,
    out: Effect[],
  ): void {
    switch (msg.t) {
      case "want":
        return this.proposer.onWant(msg, (s) => this.learner.isOpen(s), nowUs, out);
      case "commit":
        this.learner.applyChosen(msg.seq, msg.ids, msg.cmds, nowUs, out);
        // A gap opened: start its quarter-timeout wait now (or stop it: the gap closed).
        return this.repair.maybeFetch(nowUs, out);
      case "fetched":
        return this.repair.onFetched(msg, nowUs, out);
      case "status":
        return this.repair.onStatus(msg, nowUs, out);
      case "fetch":
        // Below the log held: the peer needs the snapshot first.
        if (msg.seq < this.learner.log.start) return this.snapshots.chunk(msg.from, -1, 0, out);
        return this.repair.onFetch(msg, out);
      case "readIndexOk":
        return this.reads.onAnswer(msg, this.learner.commitIndex, nowUs, out);
      case "snapFetch":
        return this.snapshots.chunk(msg.from, msg.seq, msg.offset, out);
      case "snapChunk": {
        const got = this.receiver.onChunk(msg, this.learner.commitIndex, nowUs, out);
        if (got) this.install(got, nowUs, out);
        return;
      }
    }
  }

  /** A peer's snapshot is complete: the shell restores it into the state machine (and keeps it,
   * durably) before anything after it is applied; the log goes on after it. */
  private install(snapshot: Snapshot, nowUs: number, out: Effect[]): void {
    if (snapshot.seq < this.learner.commitIndex) return;
    out.push({ kind: "install", seq: snapshot.seq, data: snapshot.data });
    out.push({ kind: "log", line: installLine(snapshot.seq, nowUs), afterPersist: true });
    this.snapshots.hold(snapshot);
    this.learner.installed(snapshot.seq);
    this.learner.applyChosen(snapshot.seq + 1, [], undefined, nowUs, out); // what waited above it
    this.proposer.dropBoundBelow(snapshot.seq + 1, nowUs, out);
    this.repair.maybeFetch(nowUs, out);
  }

  private broadcastStatus(out: Effect[]): void {
    this.repair.broadcastStatus(
      { backlog: this.backlog, generated: this.proposer.stats.generated, note: this.note },
      out,
    );
  }

  private notifyLocal(out: Effect[]): void {
    const commitIndex = this.learner.commitIndex;
    const backlog = this.backlog;
    if (commitIndex === this.notified.commitIndex && backlog === this.notified.backlog) return;
    this.notified = { commitIndex, backlog };
    const note = { kind: "local" as const, commitIndex, backlog };
    out.push({ kind: "toLeader", msg: note }, { kind: "toFollower", msg: note });
  }
}
