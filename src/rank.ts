// One rank: the four processors and their channels, built over the ports it is given. The same
// code runs over TCP (cli/) and inside the simulator (sim/). Also the library API: create a rank,
// propose, iterate commits, read its progress, stop. Workloads drive it from outside (workload/).
import { Chan } from "./csp/chan.js";
import { runProcessor, type LoopOptions } from "./csp/processor.js";
import type { Checkpointable, Storage } from "./ports.js";
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
import type { WireMsg } from "./protocol/messages.js";
import { MsgHandler } from "./protocol/msg_handler.js";
import { MAX_READ_BARRIERS } from "./protocol/read_barriers.js";
import { recoverLog } from "./protocol/recovery.js";
import { RankStoppedError, Waiters } from "./rank_waiters.js";
import type {
  Commit,
  RankConfig,
  RankOptions,
  RankPorts,
  RankProgress,
  RankStatus,
  RankSummary,
} from "./rank_types.js";

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
  private readonly commitQueue: Commit[] = [];
  private commitWaiter: (() => void) | null = null;

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
    this.consensus = new ConsensusHandler({
      me: cfg.me,
      n: cfg.n,
      timeoutUs,
      createdUs: nowUs,
      fetchMax: cfg.fetchMax,
      emitCommits: opts.emitCommits ?? false,
      source: opts.source,
    });
  }

  /** Build a rank over its ports, restoring what a previous run left: the acceptor and the
   * bindings from storage, commits and own instances from the log. */
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
    rank.highestPromise = follower.restoredPromise;
    const recovered = recoverLog(ports.logSink.load(), cfg.me);
    for (const p of recovered.problems.slice(0, 3)) opts.warn?.(`rank ${cfg.me}: log: ${p}`);
    rank.consensus.restore(recovered, records);
    rank.recoveredCommits = recovered.commits.length;
    return rank;
  }

  private warn: (line: string) => void = () => {};
  /** The highest promise record appended to storage (by the follower or the leader). */
  private highestPromise = -1;

  /** Commits found in the log file at start (a restart). */
  recoveredCommits = 0;

  start(): void {
    const { clock, transport } = this.ports;
    transport.onMessage((msg: WireMsg) => {
      this.msgIn.offer({ kind: "net", msg });
    });
    const loop: LoopOptions = { readTimeoutMs: this.cfg.timeoutMs, drainMax: 256, yieldEvery: 64 };
    const ctl = { stopped: () => this.stopping };
    const perform = (out: Effect[]) => this.perform(out);
    const boot: Effect[] = [];
    this.msg.start(boot);
    void this.perform(boot);
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
    this.commitWaiter?.();
    this.barriers.stop(
      new RankStoppedError(`rank ${this.cfg.me} stopped: ${this.failure.message}`),
    );
    this.rejectFailed(this.failure);
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

  /** Commits in seq order (only if the rank was created with emitCommits). */
  async *commits(): AsyncGenerator<Commit> {
    while (!this.stopping || this.commitQueue.length > 0) {
      const next = this.commitQueue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => (this.commitWaiter = resolve));
    }
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
    this.barriers.stop(new RankStoppedError(`rank ${this.cfg.me} stopped`));
    for (const ch of [this.msgIn, this.leaderIn, this.followerIn, this.consensusIn]) ch.close();
    await Promise.all(this.loops);
    this.commitWaiter?.();
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

  /** Keep the write-ahead log bounded: past checkpointBytes, replace it by a snapshot. */
  private async checkpointLoop(): Promise<void> {
    const storage = this.ports.storage as Storage & Partial<Checkpointable>;
    if (!storage.checkpoint) return;
    while (!this.stopping) {
      await new Promise<void>((resolve) => this.ports.clock.after(1000, resolve));
      if (this.stopping || (storage.size ?? 0) < this.cfg.checkpointBytes) continue;
      // The leader handler persists its own promise for every round it leads, which the follower may
      // not have seen yet: the snapshot keeps the highest promise ever appended, or a restarted
      // rank could lead such a round a second time.
      const promise: StorageRecord = { r: "promise", round: this.highestPromise };
      await storage.checkpoint([
        promise,
        ...this.follower.snapshotRecords(),
        ...this.consensus.bindRecords(),
      ]);
    }
  }

  /** Effects in the order durability needs: log lines to the OS first (a durable binding must never
   * refer to an instance whose generate line could still be lost), then the storage records, synced
   * once, then everything that leaves: nothing reveals a record before it is durable. */
  private perform(out: Effect[]): void | Promise<void> {
    let logged = false;
    let persisted = false;
    for (const e of out) {
      if (e.kind === "log") {
        this.ports.logSink.write(e.line);
        logged = true;
      } else if (e.kind === "persist") {
        this.ports.storage.append(e.record);
        if (e.record.r === "promise" && e.record.round > this.highestPromise)
          this.highestPromise = e.record.round;
        // A floor only lets the log forget entries sooner; it need not be synced on its own.
        if (e.record.r !== "floor") persisted = true;
      }
    }
    if (logged) this.ports.logSink.flush();
    if (!persisted) return this.performRest(out);
    return this.ports.storage.sync().then(() => this.performRest(out));
  }

  private performRest(out: Effect[]): void {
    const { transport } = this.ports;
    for (const e of out) {
      switch (e.kind) {
        case "send":
          transport.send(e.to, e.msg);
          break;
        case "broadcast":
          for (let r = 0; r < this.cfg.n; r++) transport.send(r, e.msg);
          break;
        case "toMsg":
          this.msgIn.offer(e.msg);
          break;
        case "toLeader":
          this.leaderIn.offer(e.msg);
          break;
        case "toFollower":
          this.followerIn.offer(e.msg);
          break;
        case "toConsensus":
          this.consensusIn.offer(e.msg);
          break;
        case "readDone":
          this.barriers.settle(e.ticket, e.seq);
          break;
        case "committed":
          this.commitQueue.push({ seq: e.seq, id: e.id });
          this.commitWaiter?.();
          this.commitWaiter = null;
          break;
        case "warn":
          this.warn(e.line);
          break;
        case "persist":
        case "log":
          break;
      }
    }
  }
}
