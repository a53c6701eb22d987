// How a rank performs what its processors' pure logic asked for (effects), in the order
// durability needs. Also where committed commands meet the state machine and their submitters.
import type { Chan } from "./csp/chan.js";
import type { CommitFeed } from "./commit_feed.js";
import type {
  ConsensusIn,
  Effect,
  FollowerIn,
  LeaderIn,
  MsgIn,
  StorageRecord,
} from "./protocol/effects.js";
import type { RankState } from "./rank_state.js";
import type { RankPorts, Submitted } from "./rank_types.js";
import { OutcomeUnknownError, type Waiters } from "./rank_waiters.js";

/** Everything effects reach: the ports, the processors' inboxes, the callers waiting. */
export interface EffectTargets {
  me: number;
  n: number;
  ports: RankPorts;
  msgIn: Chan<MsgIn>;
  leaderIn: Chan<LeaderIn>;
  followerIn: Chan<FollowerIn>;
  consensusIn: Chan<ConsensusIn>;
  state: RankState;
  barriers: Waiters<number>;
  submits: Waiters<Submitted>;
  feed: CommitFeed;
  warn(line: string): void;
  /** Something that must stop the rank (a snapshot install that could not be saved). */
  fail(e: unknown): void;
}

export class EffectPerformer {
  /** The highest promise record appended to storage (by the follower or the leader). */
  highestPromise = -1;

  constructor(private readonly t: EffectTargets) {}

  /** Effects in the order durability needs: log lines to the OS first (a durable binding must never
   * refer to an instance whose generate line could still be lost), then the storage records (to
   * the OS), the commit and install lines, one sync if a record needs it, then everything that
   * leaves: nothing reveals a record before it is durable. */
  perform(out: Effect[]): void | Promise<void> {
    let logged = false;
    let persisted = false;
    for (const e of out) {
      if (e.kind === "log") {
        if (e.afterPersist) continue;
        this.t.ports.logSink.write(e.line);
        logged = true;
      } else if (e.kind === "persist") {
        this.t.ports.storage.append(e.record);
        if (e.record.r === "promise" && e.record.round > this.highestPromise)
          this.highestPromise = e.record.round;
        if (needsSync(e.record)) persisted = true;
      }
    }
    if (logged) this.t.ports.logSink.flush();
    this.t.ports.storage.flush?.(); // to the OS: a process crash loses nothing appended
    // Commit lines follow their records to the OS at once, not after the fdatasync: a commit
    // record needs no sync, so a kill -9 during one would keep the record and lose the line, and
    // the restarted rank, which recovers past it, would never write that line (a gap in its log).
    this.writeAfterPersist(out);
    if (!persisted) return this.performRest(out);
    return this.t.ports.storage.sync().then(() => this.performRest(out));
  }

  private writeAfterPersist(out: Effect[]): void {
    const { logSink } = this.t.ports;
    let logged = false;
    for (const e of out) {
      if (e.kind !== "log" || !e.afterPersist) continue;
      logSink.write(e.line);
      logged = true;
    }
    if (logged) logSink.flush();
  }

  private performRest(out: Effect[]): void {
    const { transport } = this.t.ports;
    for (const e of out) {
      switch (e.kind) {
        case "send":
          transport.send(e.to, e.msg);
          break;
        case "broadcast":
          for (let r = 0; r < this.t.n; r++) transport.send(r, e.msg);
          break;
        case "toMsg":
          this.t.msgIn.offer(e.msg);
          break;
        case "toLeader":
          this.t.leaderIn.offer(e.msg);
          break;
        case "toFollower":
          this.t.followerIn.offer(e.msg);
          break;
        case "toConsensus":
          this.t.consensusIn.offer(e.msg);
          break;
        case "readDone":
          this.t.barriers.settle(e.ticket, e.seq);
          break;
        case "committed": {
          const result = this.t.state.apply(e.seq, e.cmd);
          if (e.ticket !== undefined) this.t.submits.settle(e.ticket, { seq: e.seq, result });
          if (this.t.feed.wanted) this.t.feed.push({ seq: e.seq, id: e.id, cmd: e.cmd });
          break;
        }
        case "install":
          // Restored at once (commits after it apply on top); saved in order with other saves.
          this.t.state.install(e.seq, e.data).catch((err: unknown) => this.t.fail(err));
          break;
        case "submitUnknown":
          this.t.submits.fail(
            e.ticket,
            new OutcomeUnknownError(
              `rank ${this.t.me}: a peer's snapshot covers the command's seq`,
            ),
          );
          break;
        case "warn":
          this.t.warn(e.line);
          break;
        case "persist":
        case "log":
          break;
      }
    }
  }
}

/** Records whose loss in a crash only costs work, never a promise made: a floor lets the log
 * forget sooner; proposals are pending until a binding (synced) names them; commits are facts a
 * majority holds (recovery fetches whatever tail was lost). They reach the OS at once, and the
 * disk with the next sync. */
function needsSync(record: StorageRecord): boolean {
  return record.r === "promise" || record.r === "accept" || record.r === "bind";
}
