// Finding the master for keepalives. Only the master answers them, and the client's one
// connection may be to any rank, so keepalives go through one small client per endpoint, to the
// endpoint last found to be the master. A rank that says not_master names the master when it
// knows it; the endpoint of that rank is learned from the ranks' status (asked once each).
import { KvCore, type ConnectOptions } from "./client.js";
import { KvError, NoSession, NotMaster, Unavailable } from "./errors.js";

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
   * (each for at most perTryMs); resolves with the TTL the session got. NoSession when the
   * session is gone; the last error when no endpoint took it before `deadlineMs`
   * (performance.now()). */
  async keepalive(session: number, deadlineMs: number, perTryMs: number): Promise<number> {
    const n = this.cores.length;
    const perTry = Math.max(1, Math.floor(perTryMs)); // calls take whole ms only
    let last: unknown = new Unavailable("keepalive: no endpoint tried");
    for (let tries = 0; tries < 2 * n && !this.closed; tries++) {
      const left = Math.floor(deadlineMs - performance.now());
      if (left <= 0) break;
      const i = this.current;
      try {
        const body = { type: "session_keepalive", session } as const;
        const timeoutMs = Math.max(1, Math.min(left, perTry));
        const r = (await this.core(i).call(body, { timeoutMs })) as { ttlMs: number };
        return r.ttlMs;
      } catch (e) {
        if (e instanceof NoSession) throw e;
        last = e;
        const hinted =
          e instanceof NotMaster ? await this.endpointOf(e.masterRank, Math.min(left, perTry)) : -1;
        this.current = hinted >= 0 && hinted !== i ? hinted : (i + 1) % n;
        if (this.current === 0 && hinted < 0) await pause(ROUND_PAUSE_MS);
      }
    }
    throw last instanceof KvError ? last : new Unavailable(String(last));
  }

  /** The index of the endpoint serving `rank` (-1: not known), asking statuses as needed. */
  private async endpointOf(rank: number | undefined, timeoutMs: number): Promise<number> {
    if (rank === undefined) return -1;
    for (let i = 0; i < this.cores.length; i++) {
      if (this.ranks[i] === undefined) await this.learnRank(i, Math.max(1, timeoutMs));
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
