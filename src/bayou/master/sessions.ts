// How the master runs anti-entropy itself (bayou-spec.md: stabilize, a restored link, a client's new
// server, `start`): it asks servers for rounds of sessions ({c: "round"}) and reads what they
// moved and each server's change count. A session that found its receiver busy, or lost a frame,
// counts as moved (it may have moved something) and is run again. All of this runs with or without
// background gossip.
import type { MasterOutput, NodeHandle } from "./master.js";

/** A stabilize gives up (with a warning) after this many rounds per live server. */
const ROUNDS_PER_SERVER = 4;
/** A restored link's reconciliation, or a client's catch-up, gives up after this many passes. */
const LINK_PASSES = 8;

/** What a server's sessions came to: how many moved something or found the receiver busy, how
 * many were busy, and the server's change count after them. */
export interface SessionsDone {
  moved: number;
  busy: number;
  changes: number;
}

export class SessionDriver {
  constructor(private readonly out: MasterOutput) {}

  /** A server's sessions with its linked servers (or only with `peers`). */
  async sessions(h: NodeHandle, peers?: number[]): Promise<SessionsDone> {
    const r = await h.call(peers === undefined ? { c: "round" } : { c: "round", peers });
    if (!r.ok) this.out.warn(`anti-entropy at node ${h.node}: ${r.error}`);
    if (!r.ok || !("moved" in r)) return { moved: 0, busy: 0, changes: -1 };
    const busy = r.busy ?? 0;
    return { moved: (r.moved ?? 0) + busy, busy, changes: r.changes ?? 0 };
  }

  /**
   * Sessions both ways over a restored link until a pass moves nothing and leaves both logs as the
   * pass before left them (a session outside the pass, such as a lapsed one whose batch came in
   * late, may have changed one after its own session ran). The second pass brings back the
   * primary's commits of the other's writes.
   */
  async reconcile(a: NodeHandle, b: NodeHandle, what: string): Promise<void> {
    let before = "";
    let moved = 0;
    for (let pass = 1; pass <= LINK_PASSES; pass += 1) {
      const there = await this.sessions(a, [b.node]);
      const back = await this.sessions(b, [a.node]);
      const now = `${there.changes}|${back.changes}`;
      moved = there.moved + back.moved;
      if (moved === 0 && now === before) return;
      before = now;
    }
    if (moved > 0) this.out.warn(`${what}: still moving after ${LINK_PASSES} passes`);
  }

  /** A client's new server: a session into it from each of `from` in turn (join order). */
  async catchUp(to: NodeHandle, from: readonly NodeHandle[]): Promise<void> {
    for (const h of from) {
      let attempt = 1;
      while ((await this.sessions(h, [to.node])).busy > 0 && attempt < LINK_PASSES) attempt += 1;
    }
  }

  /** One round: each server in turn runs a session with every server linked to it. */
  async round(servers: readonly NodeHandle[]): Promise<void> {
    for (const h of servers) await this.sessions(h);
  }

  /**
   * Rounds until one moves nothing and leaves every server's change count where the round before
   * left it (background gossip, or a lapsed session's late batch, may move something between one
   * server's sessions and another's). `live` is asked before every round: a server that died
   * mid-stabilize leaves the peer tables first.
   */
  async stabilize(live: () => Promise<readonly NodeHandle[]>): Promise<void> {
    let servers = await live();
    const limit = ROUNDS_PER_SERVER * servers.length + 8;
    let before = "";
    for (let round = 1; round <= limit; round += 1, servers = await live()) {
      let moved = 0;
      const counts: string[] = [];
      for (const h of servers) {
        const r = await this.sessions(h);
        moved += r.moved;
        counts.push(`${h.node}:${r.changes}`);
      }
      const now = counts.join();
      if (moved === 0 && now === before) return;
      before = now;
    }
    this.out.warn(`stabilize: still moving after ${limit} rounds; going on`);
  }
}
