// Bayou's servers and clients inside the simulator: the same node code as the processes
// (BayouServerNode, BayouClientNode), over the simulator's clock and network (seeded delays that
// reorder frames), driven by the same master. Nothing here is a process; time is virtual.
import type { PeerMsg } from "../bayou/node/messages.js";
import { BayouClientNode } from "../bayou/node/client_node.js";
import type { Control, Reply } from "../bayou/node/control.js";
import { BayouServerNode } from "../bayou/node/server_node.js";
import type { ClusterPort, NodeHandle } from "../bayou/master/master.js";
import { Prng } from "../faults/prng.js";
import { SimClock } from "./clock.js";
import { SimNetwork, type NetFaults } from "./network.js";

/** Most nodes (servers and clients) one simulated run may start. */
export const MAX_SIM_NODES = 256;

const tick = () => new Promise((resolve) => setImmediate(resolve));

export class SimBayouCluster implements ClusterPort {
  readonly clock = new SimClock();
  readonly net: SimNetwork<PeerMsg>;
  private readonly rng: Prng;
  private readonly nodes: { node: BayouServerNode | BayouClientNode; stopped: boolean }[] = [];
  /** "put <song> <url>" of every put a client was told is written. */
  readonly ackedPuts: string[] = [];

  constructor(
    seed: number,
    private readonly gossipMs: number,
    faults: NetFaults,
    private readonly note: (m: string) => void = () => {},
  ) {
    this.rng = new Prng(seed);
    this.net = new SimNetwork<PeerMsg>(this.clock, this.rng, MAX_SIM_NODES, faults);
  }

  start(kind: "server" | "client", node: number): Promise<NodeHandle> {
    if (node >= MAX_SIM_NODES) return Promise.reject(new Error(`node ${node}: too many nodes`));
    const note = (m: string) => this.note(`[${kind} ${node}] ${m}`);
    const ports = {
      clock: this.clock,
      random: this.rng,
      transport: this.net.transport(node),
      note,
    };
    const n =
      kind === "server"
        ? new BayouServerNode(node, ports, { gossipMs: this.gossipMs })
        : new BayouClientNode(node, ports);
    const entry = { node: n, stopped: false };
    this.nodes.push(entry);
    const net = this.net;
    const handle: NodeHandle = {
      node,
      addr: "",
      get alive() {
        return !entry.stopped;
      },
      call: async (ctl: Control): Promise<Reply> => {
        if (entry.stopped) return { ok: false, error: "stopped" };
        const r = await n.control(ctl);
        if (ctl.c === "put" && r.ok && "outcome" in r && r.outcome === "written")
          this.ackedPuts.push(`put ${ctl.song} ${ctl.url}`);
        return r;
      },
      stop: async () => {
        if (entry.stopped) return;
        entry.stopped = true;
        net.setDown(node, true);
        await n.stop();
      },
    };
    return Promise.resolve(handle);
  }

  /** Kills a node as a crash would (the master finds it dead). */
  crash(node: number): void {
    const e = this.nodes[node];
    if (e === undefined || e.stopped) return;
    e.stopped = true;
    this.net.setDown(node, true);
    void e.node.stop();
  }

  /** Awaits p while driving virtual time; fails after maxVirtualMs (a hung command). */
  async drive<T>(p: Promise<T>, maxVirtualMs: number): Promise<T> {
    let done = false;
    const result = p.finally(() => (done = true));
    const endUs = this.clock.nowUs() + maxVirtualMs * 1000;
    while (!done) {
      await tick();
      if (done) break;
      if (this.clock.nowUs() > endUs) throw new Error(`no answer in ${maxVirtualMs} virtual ms`);
      if (!this.clock.fireNext()) {
        await tick();
        if (!done) throw new Error("simulation stalled: no timer left and the step never ended");
      }
    }
    return result;
  }

  /** Stops every node still running. */
  async stopAll(): Promise<void> {
    const live = this.nodes.filter((e) => !e.stopped);
    for (const e of live) e.stopped = true;
    await this.drive(Promise.all(live.map((e) => e.node.stop())), 10_000);
  }
}
