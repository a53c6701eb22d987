// Known protocol bugs the simulator can switch on, to prove it finds what they break. Each is
// switched on from outside the protocol: a subclass of a processor that breaks one rule at the
// seam the processor offers for it, a storage decorator that breaks durability, or a state-machine
// decorator that breaks snapshot install. Nothing outside the simulator uses them.
import type { Checkpointable, StateMachine, Storage } from "../ports.js";
import type { StorageRecord } from "../protocol/effects.js";
import { FollowerHandler } from "../protocol/follower_handler.js";
import { LeaderHandler } from "../protocol/leader_handler.js";
import { MsgHandler } from "../protocol/msg_handler.js";
import type { ProcessorClasses } from "../rank_types.js";

export type BugName =
  | "skip-read"
  | "ack-before-persist"
  | "accept-lower-round"
  | "forget-bindings"
  | "install-skips-restore";
export const BUG_NAMES: readonly BugName[] = [
  "skip-read",
  "ack-before-persist",
  "accept-lower-round",
  "forget-bindings",
  "install-skips-restore",
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
    // The lie covers flushes too: what a flush hands to the OS survives a process crash, and the
    // rank flushes every step's records before it syncs.
    if (!this.bugs.includes("ack-before-persist")) this.inner.flush?.();
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

/** A state machine that ignores a peer's snapshot: once its rank is built, restore does nothing, so
 * an installed snapshot leaves the old state in place and later commits apply on top of it (the
 * rank's log and seqs look right; only its state is wrong). Restoring its own snapshot at a
 * restart still works: that restore runs while the rank is being built. */
class SkipInstallRestore implements StateMachine {
  built = false;

  constructor(private readonly inner: StateMachine) {}

  apply(seq: number, command: Uint8Array): unknown {
    return this.inner.apply(seq, command);
  }

  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }

  restore(snapshot: Uint8Array, seq: number): void {
    if (!this.built) this.inner.restore(snapshot, seq);
  }
}

/** The state machine to give Rank.create (inner, or a buggy decorator of it), and what to call
 * once the rank is built. */
export function buggyMachine(
  bugs: readonly BugName[],
  inner: StateMachine,
): { machine: StateMachine; created: () => void } {
  if (!bugs.includes("install-skips-restore")) return { machine: inner, created: () => {} };
  const machine = new SkipInstallRestore(inner);
  return { machine, created: () => (machine.built = true) };
}
