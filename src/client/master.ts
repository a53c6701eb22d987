// Finding the master for keepalives. Only the master answers them, and the client's one
// connection may be to any rank, so keepalives go through one small client per endpoint, to the
// endpoint last found to be the master. A rank that says not_master names the master when it
// knows it; the endpoint of that rank is learned from the ranks' status (asked once each).
import { KvCore, type ConnectOptions } from "./client.js";
import { KvError, NoSession, NotMaster, Timeout, Unavailable } from "./errors.js";

/** A pause between rounds over every endpoint (a new master may take a moment to serve). */
const ROUND_PAUSE_MS = 50;

export class MasterRouter {
  private readonly cores: (KvCore | undefined)[];
  private readonly ranks: (number | undefined)[];
  private current = 0;
  private closed = false;

  constructor(private readonly options: ConnectOptions) {
    this.cores = options.endpoints.map(() => undefined);
    this.ranks = options.endpoints.map(() => undefined);
  }

  private core(i: number): KvCore {
    let c = this.cores[i];
    if (!c) {
      const endpoint = this.options.endpoints[i] as string;
      c = new KvCore({ ...this.options, endpoints: [endpoint] });
      this.cores[i] = c;
    }
    return c;
  }

  /** Sends the keepalive to the master, following not_master hints and trying every endpoint
   * (each for at most perTryMs) until `deadlineMs` (performance.now()); resolves with the TTL
   * the session got. NoSession when the session is gone; else the last error at the deadline.
   * An endpoint that failed (no answer, unreachable) during this call is not gone back to on a
   * hint: during a failover the other ranks still name the old master (their acceptors hold its
   * lease) though it is dead or stopped; the round robin reaches it again in its turn. */
  async keepalive(session: number, deadlineMs: number, perTryMs: number): Promise<number> {
    const n = this.cores.length;
    const perTry = Math.max(1, Math.floor(perTryMs)); // calls take whole ms only
    let last: unknown = new Unavailable("keepalive: no endpoint tried");
    const failed = new Set<number>();
    /** Endpoints asked since the last pause: going back to one of them starts a new round. */
    const round = new Set<number>();
    while (!this.closed) {
      const left = Math.floor(deadlineMs - performance.now());
      if (left <= 0) break;
      const i = this.current;
      round.add(i);
      try {
        const body = { type: "session_keepalive", session } as const;
        const timeoutMs = Math.max(1, Math.min(left, perTry));
        const r = (await this.core(i).call(body, { timeoutMs })) as { ttlMs: number };
        return r.ttlMs;
      } catch (e) {
        if (e instanceof NoSession) throw e;
        last = e;
        if (e instanceof Timeout || e instanceof Unavailable) failed.add(i);
        const wait = Math.max(1, Math.min(Math.floor(deadlineMs - performance.now()), perTry));
        const hinted =
          e instanceof NotMaster ? await this.endpointOf(e.masterRank, wait, failed) : -1;
        const next = hinted >= 0 && hinted !== i && !failed.has(hinted) ? hinted : (i + 1) % n;
        this.current = next;
        if (round.has(next)) {
          round.clear();
          await pause(Math.max(0, Math.min(ROUND_PAUSE_MS, deadlineMs - performance.now())));
        }
      }
    }
    throw last instanceof KvError ? last : new Unavailable(String(last));
  }

  /** The index of the endpoint serving `rank` (-1: not known), asking statuses as needed (not
   * of the endpoints in `skip`: they just failed, and would only spend the time left). */
  private async endpointOf(
    rank: number | undefined,
    timeoutMs: number,
    skip: Set<number>,
  ): Promise<number> {
    if (rank === undefined) return -1;
    for (let i = 0; i < this.cores.length; i++) {
      if (this.ranks[i] === undefined && !skip.has(i)) await this.learnRank(i, timeoutMs);
      if (this.ranks[i] === rank) return i;
    }
    return -1;
  }

  private async learnRank(i: number, timeoutMs: number): Promise<void> {
    try {
      const st = (await this.core(i).call({ type: "status" }, { timeoutMs })) as { rank?: unknown };
      if (typeof st.rank === "number") this.ranks[i] = st.rank;
    } catch {
      // unreachable now: asked again at the next hint
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.all(this.cores.map((c) => c?.close() ?? Promise.resolve())).then(() => {});
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
