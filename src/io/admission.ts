// What a connection may cost a rank before and after it proves who it is, one Gate per listening
// port (peer, client, text). Whoever can reach a port can open connections and start frames; the
// gate bounds what that holds:
// - connections at once on the port (so a flood is refused before it uses up the descriptors the
//   rank needs for its peers, its files and its clients' established sessions);
// - unauthenticated connections at once, on the port and per remote address: to make room for a
//   new one the oldest is closed, so a stranger cannot hold slots an honest handshake needs;
// - a deadline for the handshake (the peer's hello, the client's hello);
// - bytes held for incomplete frames, across the port's connections: past the budget, the
//   connections whose frames have gone longest without a byte are closed first;
// - a frame in progress that receives no byte for stallMs is cut (authenticated or not).
// The servers keep their own limit on one frame's size (a smaller one for the first frame). Every
// closing is counted by kind, and said once per kind on stderr.
import type { Clock } from "../ports.js";

export interface GateLimits {
  /** All connections at once on this port. */
  maxConnections: number;
  /** Connections that have not finished their handshake, at once on this port. */
  maxUnauthenticated: number;
  /** The same, per remote address. */
  maxUnauthenticatedPerAddress: number;
  /** A connection must finish its handshake within this (ms). */
  handshakeMs: number;
  /** A frame in progress that receives no byte for this long is cut (ms). */
  stallMs: number;
  /** Bytes held for incomplete frames across the port's connections. */
  maxPendingBytes: number;
}

/** Why a gate closed a connection (the keys of GateStats). */
export type GateCut = "full" | "crowded" | "handshake" | "stalled" | "overBudget";

export type GateStats = Record<GateCut, number>;

/** What a gate needs of a socket. */
export interface GatedSocket {
  readonly remoteAddress?: string | undefined;
  destroy(): void;
}

const WHY: Record<GateCut, string> = {
  full: "refused a connection: the port is at its connection limit",
  crowded: "closed the oldest unauthenticated connection to make room for a new one",
  handshake: "closed a connection that did not finish its handshake in time",
  stalled: "cut a connection whose frame stalled",
  overBudget: "closed the most stalled connection: incomplete frames over the port's byte budget",
};

export class Gate {
  /** Unauthenticated connections, oldest first. */
  private readonly waiting = new Set<Guard>();
  private readonly perAddress = new Map<string, number>();
  /** Connections holding bytes of an incomplete frame. */
  private readonly holders = new Set<Guard>();
  private open = 0;
  private pending = 0;
  private sweeping: (() => void) | null = null;
  private readonly said = new Set<GateCut>();
  readonly stats: GateStats = { full: 0, crowded: 0, handshake: 0, stalled: 0, overBudget: 0 };

  constructor(
    /** How the port is named in what the gate says ("rank 1 client port"). */
    readonly name: string,
    readonly limits: GateLimits,
    private readonly clock: Pick<Clock, "nowUs" | "after">,
    private readonly say: (line: string) => void,
  ) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isFinite(v) || v < 1) throw new RangeError(`gate ${name}: ${k} must be >= 1`);
    }
  }

  /** Connections open now, and of those not yet authenticated; bytes held for frames. */
  get load(): { open: number; unauthenticated: number; pendingBytes: number } {
    return { open: this.open, unauthenticated: this.waiting.size, pendingBytes: this.pending };
  }

  /** A new connection: its guard, or null when it was refused (closed, counted). */
  admit(socket: GatedSocket): Guard | null {
    if (this.open >= this.limits.maxConnections) {
      socket.destroy();
      this.count("full");
      return null;
    }
    const address = socket.remoteAddress ?? "unknown";
    this.makeRoom(address);
    const g = new Guard(this, socket, address, this.clock.nowUs());
    this.open += 1;
    this.waiting.add(g);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.sweepSoon();
    return g;
  }

  /** @internal (Guard) */
  nowUs(): number {
    return this.clock.nowUs();
  }

  /** @internal (Guard) */
  authenticated(g: Guard): void {
    if (this.waiting.delete(g)) this.leaveAddress(g.address);
  }

  /** @internal (Guard): g now holds `bytes` for an incomplete frame. */
  held(g: Guard, before: number, bytes: number): void {
    this.pending += bytes - before;
    if (bytes > 0) this.holders.add(g);
    else this.holders.delete(g);
    if (this.pending > this.limits.maxPendingBytes) this.shed(g);
    if (bytes > 0) this.sweepSoon();
  }

  /** @internal (Guard): the connection is gone, for whatever reason. */
  closed(g: Guard): void {
    this.open -= 1;
    this.authenticated(g);
    this.pending -= g.bytes;
    this.holders.delete(g);
  }

  /** @internal (Guard) */
  cut(g: Guard, why: GateCut): void {
    g.close();
    this.count(why);
  }

  private makeRoom(address: string): void {
    const { maxUnauthenticated, maxUnauthenticatedPerAddress } = this.limits;
    if ((this.perAddress.get(address) ?? 0) >= maxUnauthenticatedPerAddress) {
      const oldest = [...this.waiting].find((w) => w.address === address);
      if (oldest !== undefined) this.cut(oldest, "crowded");
    }
    if (this.waiting.size >= maxUnauthenticated) {
      const oldest = this.waiting.values().next().value;
      if (oldest !== undefined) this.cut(oldest, "crowded");
    }
  }

  /** Over the byte budget: close the holders that have waited longest for a byte, keeping `fresh`
   * (it just received one) unless it alone is over. */
  private shed(fresh: Guard): void {
    if (fresh.bytes > this.limits.maxPendingBytes) return this.cut(fresh, "overBudget");
    const byIdle = [...this.holders].sort((a, b) => a.lastByteUs - b.lastByteUs);
    for (const g of byIdle) {
      if (this.pending <= this.limits.maxPendingBytes) return;
      if (g !== fresh) this.cut(g, "overBudget");
    }
    if (this.pending > this.limits.maxPendingBytes) this.cut(fresh, "overBudget");
  }

  private leaveAddress(address: string): void {
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }

  /** One timer per gate, running while something has a deadline: it checks handshakes and
   * stalled frames a few times per deadline. */
  private sweepSoon(): void {
    if (this.sweeping !== null) return;
    const every = Math.max(10, Math.min(this.limits.handshakeMs, this.limits.stallMs) / 4);
    this.sweeping = this.clock.after(every, () => {
      this.sweeping = null;
      this.sweep();
      if (this.waiting.size > 0 || this.holders.size > 0) this.sweepSoon();
    });
  }

  private sweep(): void {
    const now = this.clock.nowUs();
    for (const g of this.waiting) {
      if (now - g.openedUs < this.limits.handshakeMs * 1000) break; // oldest first
      this.cut(g, "handshake");
    }
    for (const g of [...this.holders]) {
      if (now - g.lastByteUs >= this.limits.stallMs * 1000) this.cut(g, "stalled");
    }
  }

  private count(why: GateCut): void {
    this.stats[why] += 1;
    if (this.said.has(why)) return;
    this.said.add(why);
    this.say(`${this.name}: ${WHY[why]} (further ones are counted, not shown)`);
  }

  /** Stops the sweep timer (the port is closing). */
  stop(): void {
    this.sweeping?.();
    this.sweeping = null;
  }
}

/** One connection's standing with its gate. The server calls authenticated() after the handshake,
 * holding() after every chunk it read, and closed() when the socket closes. */
export class Guard {
  bytes = 0;
  lastByteUs: number;
  private done = false;

  constructor(
    private readonly gate: Gate,
    private readonly socket: GatedSocket,
    readonly address: string,
    readonly openedUs: number,
  ) {
    this.lastByteUs = openedUs;
  }

  get isClosed(): boolean {
    return this.done;
  }

  authenticated(): void {
    this.gate.authenticated(this);
  }

  /** After a chunk: the bytes now held (or allocated) for an incomplete frame. False when the gate
   * closed the connection (over the budget). */
  holding(bytes: number): boolean {
    if (this.done) return false;
    const before = this.bytes;
    this.bytes = bytes;
    this.lastByteUs = this.gate.nowUs();
    this.gate.held(this, before, bytes);
    return !this.done;
  }

  /** Closes the socket (once); the gate forgets the connection. */
  close(): void {
    if (this.done) return;
    this.closed();
    this.socket.destroy();
  }

  /** The socket closed: the gate forgets it (idempotent). */
  closed(): void {
    if (this.done) return;
    this.done = true;
    this.gate.closed(this);
  }
}
