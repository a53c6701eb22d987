// Fault injection as a decorator around any Transport: outgoing frames to peers are dropped,
// duplicated or delayed (delays reorder frames) and links can be cut by a partition (groups of
// ranks that can only talk among themselves), as the shared FaultModel decides with seeded
// randomness; the simulator's network asks the same model. Frames a rank sends itself are never
// touched. Off by default: with no faults and no partition it adds nothing but a few branches.
import type { WireMsg } from "../protocol/messages.js";
import type { Clock, Random, Transport } from "../ports.js";
import { FaultModel, type FaultSettings, type FaultStats } from "./fault_model.js";

export type { FaultStats } from "./fault_model.js";

export class FaultyTransport implements Transport {
  /** The groups last installed (for status reports: proof that a partition was applied). */
  groups: readonly (readonly number[])[] = [];
  private readonly model: FaultModel;
  /** The model's counters: what was done to frames, in and out. */
  readonly stats: FaultStats;

  /** faults are in µs (a rank's --delay is given in ms: cli/faults.ts converts it). */
  constructor(
    private readonly inner: Transport,
    private readonly me: number,
    faults: FaultSettings,
    random: Random,
    private readonly clock: Clock,
  ) {
    this.model = new FaultModel(faults, random);
    this.stats = this.model.stats;
  }

  /** Install a partition: a list of groups of ranks ([] heals every link). */
  setPartition(groups: readonly (readonly number[])[]): void {
    this.model.setPartition(groups);
    this.groups = groups.map((g) => [...g]);
  }

  send(to: number, msg: WireMsg): void {
    const verdict = this.model.decide(this.me, to);
    if (verdict.fate !== "sent") return;
    for (const delayUs of verdict.delaysUs) {
      if (delayUs <= 0) this.inner.send(to, msg);
      else this.clock.after(delayUs / 1000, () => this.inner.send(to, msg));
    }
  }

  onMessage(handler: (msg: WireMsg) => void): void {
    // A cut link is cut both ways even if the peer has not heard of the partition yet.
    this.inner.onMessage((msg) => {
      if (this.model.admits(msg.from, this.me)) handler(msg);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
