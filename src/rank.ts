// One rank: the four processors and their channels, built over the ports it is given. The same
// code runs over TCP (cli/) and inside the simulator (sim/). Also the library API: create a rank,
// submit commands (applied to its state machine), read barriers, iterate commits, read its
// progress, stop. Workloads drive it from outside (workload/).
import { Chan } from "./csp/chan.js";
import { runProcessor, type LoopOptions } from "./csp/processor.js";
import { CommitFeed } from "./commit_feed.js";
import { EffectPerformer } from "./rank_effects.js";
import { DEFAULT_MAX_SNAPSHOT_BYTES, type Checkpointable, type Storage } from "./ports.js";
import { ConsensusHandler } from "./protocol/consensus_handler.js";
import {
  leaderOf,
  type ConsensusIn,
  type Effect,
  type FollowerIn,
  type LeaderIn,
  type MsgIn,
  type StorageRecord,
} from "./protocol/effects.js";
import { FollowerHandler } from "./protocol/follower_handler.js";
import { LeaderHandler } from "./protocol/leader_handler.js";
import { LIMITS, type WireMsg } from "./protocol/messages.js";
import type { LeaseMsg } from "./protocol/lease_messages.js";
import { MsgHandler } from "./protocol/msg_handler.js";
import { MAX_READ_BARRIERS } from "./protocol/read_barriers.js";
import { recoverState } from "./protocol/recovery.js";
import { rejoinLine, unknownLine } from "./protocol/log_lines.js";
import { MemorySnapshotStore, NoStateMachine, RankState } from "./rank_state.js";
import { CommandTooLargeError, RankStoppedError, Waiters, type Ticket } from "./rank_waiters.js";
import {
  DEFAULT_MAX_COMMAND_BYTES,
  type Commit,
  type RankConfig,
  type RankOptions,
  type RankPorts,
  type RankProgress,
  type RankStatus,
  type RankSummary,
  type Submitted,
} from "./rank_types.js";

/** Most submissions handed to the processors at once, and most bytes of their commands. */
const MAX_SUBMITS = 65_536;
const MAX_SUBMIT_BYTES = 64 * 1024 * 1024;

export class Rank {
  private readonly msgIn: Chan<MsgIn>;
  private readonly leaderIn: Chan<LeaderIn>;
  private readonly followerIn: Chan<FollowerIn>;
  private readonly consensusIn: Chan<ConsensusIn>;
  private readonly msg: MsgHandler;
  private readonly leader: LeaderHandler;
  private readonly follower: FollowerHandler;
  private readonly consensus: ConsensusHandler;
  private loops: Promise<void>[] = [];
  private stopping = false;
  /** The note last handed to the consensus processor (-1: none yet). */
  private note = -1;
  private closed = false;
  private failure: Error | null = null;
  private rejectFailed!: (e: Error) => void;
  /** Rejects if a processor stopped on a broken invariant (the rank halts: nothing it says can be trusted). */
  readonly failed: Promise<never> = new Promise<never>((_, reject) => (this.rejectFailed = reject));
  private readonly barriers = new Waiters<number>(MAX_READ_BARRIERS, "read barriers");
  private readonly submits = new Waiters<Submitted>(MAX_SUBMITS, "submissions", MAX_SUBMIT_BYTES);
  private readonly feed: CommitFeed;
  private readonly maxCommandBytes: number;
  private readonly effects: EffectPerformer;
  /** The state machine, what was applied to it, its snapshots. */
  readonly state: RankState;

  private constructor(
    readonly cfg: RankConfig,
    private readonly ports: RankPorts,
    follower: FollowerHandler,
    opts: RankOptions,
  ) {
    this.failed.catch(() => {}); // whoever cares awaits it; nobody has to
    const { clock } = ports;
    const cap = cfg.channelCapacity;
    this.msgIn = new Chan("msg", cap, clock);
    this.leaderIn = new Chan("leader", cap, clock);
    this.followerIn = new Chan("follower", cap, clock);
    this.consensusIn = new Chan("consensus", cap, clock);
    const nowUs = clock.nowUs();
    const timeoutUs = cfg.timeoutMs * 1000;
    this.follower = follower;
    // After a restart, start past every round this rank may have led or promised in its last life.
    this.msg = new (opts.processors?.Msg ?? MsgHandler)(
      cfg.me,
      cfg.n,
      follower.restoredPromise + 1,
      timeoutUs,
    );
    const leaderCfg = {
      me: cfg.me,
      n: cfg.n,
      maxPerRound: cfg.maxPerRound,
      batch: cfg.batch,
      window: cfg.window,
      timeoutUs,
    };
    this.leader = new (opts.processors?.Leader ?? LeaderHandler)(
      leaderCfg,
      follower.restoredPromise,
    );
    const store = ports.snapshots ?? new MemorySnapshotStore();
    this.consensus = new ConsensusHandler({
      me: cfg.me,
      n: cfg.n,
      timeoutUs,
      createdUs: nowUs,
      fetchMax: cfg.fetchMax,
      maxSnapshotBytes: store.maxBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      heldBytes: cfg.checkpointBytes,
      source: opts.source,
    });
    this.state = new RankState(opts.stateMachine ?? new NoStateMachine(), store, cfg.me);
    this.feed = new CommitFeed(opts.emitCommits ?? false);
    this.effects = new EffectPerformer({
      me: cfg.me,
      n: cfg.n,
      ports,
      msgIn: this.msgIn,
      leaderIn: this.leaderIn,
      followerIn: this.followerIn,
      consensusIn: this.consensusIn,
      state: this.state,
      barriers: this.barriers,
      submits: this.submits,
      feed: this.feed,
      warn: (line) => this.warn(line),
      fail: (e) => this.fail(e),
    });
    this.maxCommandBytes = Math.min(
      opts.maxCommandBytes ?? DEFAULT_MAX_COMMAND_BYTES,
      LIMITS.maxCommandBytes,
    );
  }

  /** Build a rank over its ports, restoring what a previous run left: the state machine from the
   * last snapshot, then from the write-ahead log the acceptor, own instances and the commits
   * above the snapshot (applied again). The text log is never read: it is an audit. */
  static async create(cfg: RankConfig, ports: RankPorts, opts: RankOptions = {}): Promise<Rank> {
    const records = await ports.storage.load();
    const follower = new (opts.processors?.Follower ?? FollowerHandler)(
      cfg.me,
      cfg.n,
      cfg.timeoutMs * 1000,
      ports.clock.nowUs(),
    );
    follower.restore(records);
    const rank = new Rank(cfg, ports, follower, opts);
    if (opts.warn) rank.warn = opts.warn;
    rank.effects.highestPromise = follower.restoredPromise;
    const snapshot = await rank.state.restoreStored();
    const recovered = recoverState(records, cfg.me, snapshot?.seq ?? -1);
    for (const p of recovered.problems.slice(0, 3)) opts.warn?.(`rank ${cfg.me}: wal: ${p}`);
    // Said again: the line of the life that installed the snapshot may not have been flushed.
    for (const u of recovered.unknown)
      ports.logSink.write(unknownLine(u.id, u.seq, ports.clock.nowUs()));
    if (recovered.unknown.length > 0) ports.logSink.flush();
    rank.consensus.restore(recovered, snapshot);
    // Still rejoining if it never voted since the disk was lost (no promise or accept kept).
    if (opts.rejoin && !records.some((r) => r.r === "promise" || r.r === "accept")) {
      follower.holdVotes();
      rank.consensus.startRejoining(ports.clock.nowUs());
      // The first start on the empty disk says so in the audit log (repeats that follow are relearning).
      if (records.length === 0 && !snapshot) {
        ports.logSink.write(rejoinLine(ports.clock.nowUs()));
        ports.logSink.flush();
      }
    }
    recovered.commits.forEach((v, i) => rank.state.apply(recovered.snapshotSeq + 1 + i, v.cmd));
    rank.recoveredCommits = recovered.commits.length;
    return rank;
  }

  private warn: (line: string) => void = () => {};

  /** Commits found in the write-ahead log above the snapshot at start (a restart). */
  recoveredCommits = 0;

  start(): void {
    const { clock, transport } = this.ports;
    transport.onMessage((msg: WireMsg) => {
      // The master lease's messages bypass the processors (they have their own handler, or none).
      if (msg.t === "lease") this.leaseHandler?.(msg);
      else this.msgIn.offer({ kind: "net", msg });
    });
    const loop: LoopOptions = { readTimeoutMs: this.cfg.timeoutMs, drainMax: 256, yieldEvery: 64 };
    const ctl = { stopped: () => this.stopping };
    const perform = (out: Effect[]) => this.effects.perform(out);
    const boot: Effect[] = [];
    this.msg.start(boot);
    void this.effects.perform(boot);
    this.loops = [
      this.checkpointLoop(),
      runProcessor({ name: "msg", inbox: this.msgIn, logic: this.msg, perform }, clock, loop, ctl),
      runProcessor(
        { name: "consensus", inbox: this.consensusIn, logic: this.consensus, perform },
        clock,
        loop,
        ctl,
      ),
      runProcessor(
        { name: "leader", inbox: this.leaderIn, logic: this.leader, perform },
        clock,
        loop,
        ctl,
      ),
      runProcessor(
        { name: "follower", inbox: this.followerIn, logic: this.follower, perform },
        clock,
        loop,
        ctl,
      ),
    ].map((loop) => loop.catch((e: unknown) => this.fail(e)));
  }

  private leaseHandler: ((msg: LeaseMsg) => void) | null = null;

  /** Install the receiver of the master lease's messages (src/lease/): they share the peer
   * transport with the log's messages, but no processor sees them. Without one they are dropped. */
  onLeaseMessage(handler: (msg: LeaseMsg) => void): void {
    this.leaseHandler = handler;
  }

  /** Send a master lease message to rank `to` (to === me: it comes back to this rank's handler).
   * Like every send, it may be lost. */
  sendLease(to: number, msg: LeaseMsg): void {
    if (!this.stopping) this.ports.transport.send(to, msg);
  }

  /** The error that stopped this rank, if one did. */
  get failedWith(): Error | null {
    return this.failure;
  }

  /** A processor threw (a broken invariant): stop every processor, reveal nothing more. */
  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.stopping = true;
    for (const ch of [this.msgIn, this.leaderIn, this.followerIn, this.consensusIn]) ch.close();
    this.feed.end();
    const stopped = new RankStoppedError(`rank ${this.cfg.me} stopped: ${this.failure.message}`);
    this.barriers.stop(stopped);
    this.submits.stop(stopped);
    this.rejectFailed(this.failure);
  }

  /** Replicate a command: resolves once it is committed and applied on this rank, with its seq
   * and what the state machine's apply returned (an empty command is a no-op: committed, never
   * applied, result undefined). Larger than maxCommandBytes: CommandTooLargeError, nothing
   * proposed. At most 65536 submissions and 64 MiB of commands are in the rank at once; more
   * callers wait for room (RankBusyError once another 65536 wait). Rejects with
   * RankStoppedError if the rank stops first (the command may still commit), and with
   * OutcomeUnknownError in the rare case a snapshot from a peer covered its seq. */
  submit(command: Uint8Array): Promise<Submitted> {
    if (!(command instanceof Uint8Array))
      return Promise.reject(new TypeError("a command is a Uint8Array"));
    if (command.length > this.maxCommandBytes)
      return Promise.reject(
        new CommandTooLargeError(
          `command of ${command.length} bytes: the limit is ${this.maxCommandBytes}`,
        ),
      );
    const cmd = command.slice(); // the caller may reuse its buffer
    // The fast path (room, and the processor's inbox takes it): no promise but the answer's.
    const t = this.submits.tryAdmit(cmd.length);
    if (t && this.consensusIn.offer({ kind: "submit", ticket: t.ticket, cmd })) return t.answer;
    return this.submitSlowly(cmd, t);
  }

  /** Wait for room in the rank, then for room in the processor's inbox. */
  private async submitSlowly(cmd: Uint8Array, admitted: Ticket<Submitted> | null) {
    const { ticket, answer } = admitted ?? (await this.submits.admit(cmd.length));
    while (!this.consensusIn.offer({ kind: "submit", ticket, cmd })) {
      if (this.stopping) break; // stop() rejects the answer
      await new Promise<void>((resolve) => this.ports.clock.after(1, resolve)); // inbox full
    }
    return answer;
  }

  /** Ask for count more own instances (they are generated, logged and proposed like background ones). */
  propose(count = 1): boolean {
    return this.consensusIn.offer({ kind: "propose", count });
  }

  /** Set the note this rank's status messages carry to the others (0..65535, opaque to the
   * protocol; a change is told at once). False if the rank's inbox is full: try again later. */
  setNote(note: number): boolean {
    if (note === this.note) return true;
    const ok = this.consensusIn.offer({ kind: "note", note });
    if (ok) this.note = note;
    return ok;
  }

  progress(): RankProgress {
    const c = this.consensus;
    const peers = c.peers.map(
      (p) =>
        p && {
          commitIndex: p.commitIndex,
          backlog: p.backlog,
          generated: p.generated,
          note: p.note,
        },
    );
    return {
      commitIndex: c.commitIndex,
      backlog: c.backlog,
      hasGap: c.hasGap,
      generated: c.generated,
      peers,
    };
  }

  /** One past the last seq this rank has committed. */
  get commitIndex(): number {
    return this.consensus.commitIndex;
  }

  /** A linearizable read point: resolves with a seq S such that everything committed anywhere
   * before this call is at seq <= S (-1: nothing was), a majority of ranks confirmed that after
   * the call, and this rank has committed S. Without a majority it waits. At most 65536 barriers
   * are in the rank at once; more callers wait for a slot (RankBusyError past twice that).
   * Rejects with RankStoppedError if the rank stops first. */
  async readBarrier(): Promise<number> {
    const { ticket, answer } = await this.barriers.admit();
    while (!this.consensusIn.offer({ kind: "readBarrier", ticket })) {
      if (this.stopping) break; // stop() rejects the answer
      await new Promise<void>((resolve) => this.ports.clock.after(1, resolve)); // inbox full
    }
    return answer;
  }

  /** Ids committed from seq `from` on that are still held in memory (old seqs are compacted). */
  committedIds(from: number): string[] {
    return this.consensus.committedIds(from);
  }

  /** Commits in seq order, from this call on (with emitCommits, the first consumer gets every
   * commit since the rank was created). Every consumer has its own; one that falls a million
   * behind ends with CommitFeedOverflowError. Ends when the rank stops. */
  commits(): AsyncGenerator<Commit> {
    return this.feed.iterate();
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.halt();
    await this.ports.logSink.close();
    await this.ports.transport.close();
    await this.ports.storage.close();
  }

  /** Stop the processors without flushing or closing anything (the simulator's crash). */
  async halt(): Promise<void> {
    this.stopping = true;
    const stopped = new RankStoppedError(`rank ${this.cfg.me} stopped`);
    this.barriers.stop(stopped);
    this.submits.stop(stopped);
    for (const ch of [this.msgIn, this.leaderIn, this.followerIn, this.consensusIn]) ch.close();
    await Promise.all(this.loops);
    this.feed.end();
  }

  summary(): RankSummary {
    const refusedWrites: Record<string, number> = {};
    for (const ch of [this.msgIn, this.leaderIn, this.followerIn, this.consensusIn])
      refusedWrites[ch.name] = ch.refused;
    return {
      rank: this.cfg.me,
      generated: this.consensus.stats.generated,
      committed: this.consensus.commitIndex,
      consensus: this.consensus.stats,
      refusedWrites,
      rounds: this.msg.round,
      protocol: {
        msg: { ...this.msg.stats },
        leader: { ...this.leader.stats },
        follower: { ...this.follower.stats },
      },
    };
  }

  status(): RankStatus {
    const round = this.msg.round;
    return {
      rank: this.cfg.me,
      round,
      leader: leaderOf(round, this.cfg.n),
      leading: this.leader.leading,
      commitIndex: this.consensus.commitIndex,
      generated: this.consensus.generated,
      fillers: this.consensus.stats.fillers,
    };
  }

  /** Keep the write-ahead log bounded: past checkpointBytes, snapshot the state machine and
   * rewrite the log without what the snapshot covers. */
  private async checkpointLoop(): Promise<void> {
    const storage = this.ports.storage as Storage & Partial<Checkpointable>;
    if (!storage.checkpoint) return;
    while (!this.stopping) {
      await new Promise<void>((resolve) => this.ports.clock.after(1000, resolve));
      if (this.stopping || (storage.size ?? 0) < this.cfg.checkpointBytes) continue;
      await this.checkpoint(storage as Storage & Checkpointable);
    }
  }

  private async checkpoint(storage: Storage & Checkpointable): Promise<void> {
    // The commits the snapshot covers must be durable first: a snapshot ahead of the log would
    // make a restart re-propose own instances it already holds.
    await storage.sync();
    if (this.state.appliedSeq < 0 || this.stopping) return;
    const snapshot = await this.state.take();
    if (this.stopping) return;
    while (!this.consensusIn.offer({ kind: "snapshot", ...snapshot })) {
      if (this.stopping) return;
      await new Promise<void>((resolve) => this.ports.clock.after(1, resolve));
    }
    // The leader handler persists its own promise for every round it leads, which the follower may
    // not have seen yet: the rewrite keeps the highest promise ever appended, or a restarted
    // rank could lead such a round a second time. (-1: it never promised anything, e.g. a
    // follower that has only seen round 0: there is nothing to keep, and no record can say -1.)
    const highest = this.effects.highestPromise;
    const promise: StorageRecord[] = highest >= 0 ? [{ r: "promise", round: highest }] : [];
    await storage.checkpoint([
      ...promise,
      ...this.follower.snapshotRecords(),
      ...this.consensus.checkpointRecords(snapshot.seq),
    ]);
  }
}
