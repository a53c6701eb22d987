// Known protocol bugs the simulator can switch on, to prove it finds what they break. Each is
// switched on from outside the protocol: a subclass of a processor that breaks one rule at the
// seam the processor offers for it, or a storage decorator that breaks durability. Nothing outside
// the simulator uses them.
import type { Checkpointable, Storage } from "../ports.js";
import type { StorageRecord } from "../protocol/effects.js";
import { FollowerHandler } from "../protocol/follower_handler.js";
import { LeaderHandler } from "../protocol/leader_handler.js";
import { MsgHandler } from "../protocol/msg_handler.js";
import type { ProcessorClasses } from "../rank_types.js";

export type BugName = "skip-read" | "ack-before-persist" | "accept-lower-round" | "forget-bindings";
export const BUG_NAMES: readonly BugName[] = [
  "skip-read",
  "ack-before-persist",
  "accept-lower-round",
  "forget-bindings",
];

/** A new leader imposes without reading what a majority accepted. */
class SkipReadLeader extends LeaderHandler {
  protected override readsFirst(): boolean {
    return false;
  }
}

/** Round messages below the rank's own round are passed on instead of refused. */
class LowerRoundMsg extends MsgHandler {
  protected override refusesLowerRounds(): boolean {
    return false;
  }
}

/** The acceptor takes part in rounds below its promise. */
class LowerRoundFollower extends FollowerHandler {
  protected override refusesLowerRounds(): boolean {
    return false;
  }
}

export function buggyProcessors(bugs: readonly BugName[]): Partial<ProcessorClasses> {
  const classes: Partial<ProcessorClasses> = {};
  if (bugs.includes("skip-read")) classes.Leader = SkipReadLeader;
  if (bugs.includes("accept-lower-round")) {
    classes.Msg = LowerRoundMsg;
    classes.Follower = LowerRoundFollower;
  }
  return classes;
}

/** Storage that lies: with ack-before-persist its sync resolves at once (replies leave before the
 * records they reveal are durable); with forget-bindings it never keeps a binding. */
export class BuggyStorage implements Storage, Checkpointable {
  constructor(
    private readonly inner: Storage & Checkpointable,
    private readonly bugs: readonly BugName[],
  ) {}

  get size(): number {
    return this.inner.size;
  }

  append(record: StorageRecord): void {
    if (!this.keeps(record)) return;
    this.inner.append(record);
  }

  flush(): void {
    this.inner.flush?.();
  }

  sync(): Promise<void> {
    const synced = this.inner.sync();
    return this.bugs.includes("ack-before-persist") ? Promise.resolve() : synced;
  }

  checkpoint(records: readonly StorageRecord[]): Promise<void> {
    return this.inner.checkpoint(records.filter((r) => this.keeps(r)));
  }

  load(): Promise<StorageRecord[]> {
    return this.inner.load();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private keeps(record: StorageRecord): boolean {
    return record.r !== "bind" || !this.bugs.includes("forget-bindings");
  }
}
