// The simulator's client commands: yasp-kv's own (src/kv/commands.ts), so every seed runs the
// service's state machine. Drawn from the seed's PRNG only (the same commands whatever the faults
// do): puts, cas and deletes on a few keys, some with a short TTL (so expiry purges happen at log
// positions), a few bare expire ticks, and now and then the previous command sent again under the
// same client request (the machine must answer it from its table, not apply it twice).
import { encodeCommand, type KvCommand } from "../kv/commands.js";

/** A small key space: commands collide on keys, and cas both wins and loses. */
export const SIM_KV_KEYS: readonly string[] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
const MAX_VALUE = 64;

export class SimKvClient {
  private req = 0;
  private last: Uint8Array | null = null;

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
}
