// The simulator's client commands: yasp-kv's own (src/kv/commands.ts), so every seed runs the
// service's state machine. Drawn from the seed's PRNG only (the same commands whatever the faults
// do): puts, cas and deletes on a few keys, some with a short TTL (so expiry purges happen at log
// positions), a few bare expire ticks, and now and then the previous command sent again under the
// same client request (the machine must answer it from its table, not apply it twice). A share of
// them are coordination commands (sessions, locks, fenced and ephemeral writes, master entries and
// session expiries) on sessions, tokens and epochs the client learned from earlier answers; the
// number of draws per command is fixed, so the rest of a seed's plan does not depend on them.
import { encodeCommand, type ClientRef, type KvCommand } from "../kv/commands.js";
import type { KvResult } from "../kv/results.js";

/** A small key space: commands collide on keys, and cas both wins and loses. */
export const SIM_KV_KEYS: readonly string[] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
const MAX_VALUE = 64;

const LOCKS: readonly string[] = ["L0", "L1"];
const MAX_LEARNED = 16;

export class SimKvClient {
  private req = 0;
  private last: Uint8Array | null = null;
  /** Sessions this client opened (newest last), a token it was granted, the latest epoch. */
  private sessions: number[] = [];
  private token = 0;
  private epoch = 0;

  constructor(private readonly me: number) {}

  /** The next command of this rank's client; atMs: the rank's (virtual) clock. */
  next(rng: { next(): number }, atMs: number): Uint8Array {
    const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
    const kind = rng.next();
    if (this.last && kind < 0.05) return this.last; // a retry: same client id and request
    if (kind < 0.08) return encodeCommand({ op: "expire", atMs });
    const key = SIM_KV_KEYS[int(0, SIM_KV_KEYS.length - 1)] ?? "k0";
    this.req++;
    const client = { id: `sim-${this.me}`, req: this.req, low: Math.max(1, this.req - 500) };
    const coordDraw = rng.next();
    const pickDraw = rng.next();
    if (kind < 0.3) {
      this.last = encodeCommand(this.coordCommand(coordDraw, pickDraw, key, atMs, client));
      return this.last;
    }
    const value = new Uint8Array(int(0, MAX_VALUE));
    for (let i = 0; i < value.length; i++) value[i] = int(0, 255);
    const ttlMs = rng.next() < 0.2 ? int(1, 3000) : 0;
    let cmd: KvCommand;
    if (kind < 0.6) cmd = { op: "put", key, value, ttlMs, atMs, client };
    else if (kind < 0.75) cmd = { op: "delete", key, atMs, client };
    else
      cmd = {
        op: "cas",
        key,
        version: int(0, 2) === 0 ? 0 : int(1, 200),
        value,
        ttlMs,
        atMs,
        client,
      };
    this.last = encodeCommand(cmd);
    return this.last;
  }

  /** What the answer to one of this client's commands taught it (sessions, tokens, epochs). */
  learn(result: KvResult): void {
    if (result.kind === "session") {
      this.sessions.push(result.session);
      if (this.sessions.length > MAX_LEARNED) this.sessions.shift();
    } else if (result.kind === "granted") this.token = result.token;
    else if (result.kind === "master") this.epoch = result.epoch;
  }

  private coordCommand(draw: number, pick: number, key: string, atMs: number, client: ClientRef) {
    const session = this.sessions[Math.floor(pick * this.sessions.length)] ?? 1;
    const lock = LOCKS[Math.floor(pick * LOCKS.length)] ?? "L0";
    const value = Uint8Array.of(Math.floor(pick * 256));
    const cmds: KvCommand[] = [
      { op: "session_open", ttlMs: 1000 + Math.floor(pick * 5000), atMs, client },
      { op: "acquire", lock, session, wait: pick < 0.7, atMs, client },
      { op: "release", lock, token: this.token, atMs, client },
      { op: "put", key, value, ttlMs: 0, atMs, client, ifHolds: { lock, token: this.token } },
      { op: "put", key, value, ttlMs: 0, atMs, client, session },
      { op: "cancel_wait", lock, session, atMs, client },
      { op: "session_close", session, atMs, client },
      { op: "master", rank: this.me, term: this.req, atMs },
      { op: "session_expire", sessions: [session], epoch: this.epoch, atMs },
    ];
    return cmds[Math.floor(draw * cmds.length)] as KvCommand;
  }
}
