// Bayou's network over loopback TCP: length-prefixed JSON frames. A connection opens with a hello
// naming its node; every later frame must come from that node and pass the schema, or it is
// dropped (a frame too long, or not JSON, closes the connection). Nothing a peer sends can crash
// the process. Outgoing frames use the connection this node opened to the peer, else the one the
// peer opened (a client has no listening address: its server answers on the client's connection).
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Transport } from "../../ports.js";
import { peerMsgSchema, type PeerMsg } from "./messages.js";

/** Longest frame accepted (a retirement's whole log fits). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Bytes waiting to be written to one peer before further frames to it are dropped. */
const MAX_BACKLOG_BYTES = 128 * 1024 * 1024;

export class TcpPeers implements Transport<PeerMsg> {
  private readonly addrs = new Map<number, number>();
  private readonly outgoing = new Map<number, Socket>();
  private readonly incoming = new Map<number, Socket>();
  private handler: (msg: PeerMsg) => void = () => {};
  private readonly sockets = new Set<Socket>();
  dropped = 0;

  private constructor(
    private readonly me: number,
    private readonly server: Server | null,
    private readonly note: (msg: string) => void,
  ) {}

  /** A node that listens on a port the OS chooses (a server), or only dials (a client). */
  static async open(me: number, listen: boolean, note: (m: string) => void): Promise<TcpPeers> {
    if (!listen) return new TcpPeers(me, null, note);
    const server = createServer();
    const peers = new TcpPeers(me, server, note);
    server.on("connection", (s) => {
      s.setNoDelay(true);
      peers.adopt(s, null);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return peers;
  }

  get port(): number {
    const a = this.server?.address();
    return a !== null && a !== undefined && typeof a === "object" ? a.port : 0;
  }

  /** Where each node listens (node → port). */
  setAddresses(peers: readonly (readonly [number, string])[]): void {
    for (const [node, addr] of peers) {
      const port = Number(addr);
      if (Number.isInteger(port) && port > 0 && port < 65536) this.addrs.set(node, port);
    }
  }

  onMessage(handler: (msg: PeerMsg) => void): void {
    this.handler = handler;
  }

  send(to: number, msg: PeerMsg): void {
    const s = this.socketFor(to);
    if (s === null || s.writableLength > MAX_BACKLOG_BYTES) {
      this.dropped += 1;
      return;
    }
    s.write(frame(msg));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server !== null) await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private socketFor(to: number): Socket | null {
    const open = this.outgoing.get(to) ?? this.incoming.get(to);
    if (open !== undefined && !open.destroyed) return open;
    const port = this.addrs.get(to);
    if (port === undefined) return null;
    const s = createConnection({ host: "127.0.0.1", port });
    s.setNoDelay(true);
    this.outgoing.set(to, s);
    this.adopt(s, to);
    s.write(frame({ hello: this.me }));
    return s;
  }

  /** Reads frames from a socket; `peer` is known for connections this node opened. */
  private adopt(s: Socket, peer: number | null): void {
    this.sockets.add(s);
    let from = peer;
    let buf: Buffer = Buffer.alloc(0);
    const forget = () => {
      this.sockets.delete(s);
      if (from !== null && this.outgoing.get(from) === s) this.outgoing.delete(from);
      if (from !== null && this.incoming.get(from) === s) this.incoming.delete(from);
    };
    s.on("error", () => forget());
    s.on("close", forget);
    s.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (len > MAX_FRAME_BYTES) return this.refuse(s, `a frame of ${len} bytes`);
        if (buf.length < 4 + len) return;
        const body = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        const next = this.frameIn(s, body, from);
        if (next === undefined) return;
        from = next;
      }
    });
  }

  /** One frame: the hello (returns its node), or a message; undefined when s was refused. */
  private frameIn(s: Socket, body: Buffer, from: number | null): number | null | undefined {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      this.refuse(s, "a frame that is not JSON");
      return undefined;
    }
    if (from === null) {
      const hello = (value as { hello?: unknown } | null)?.hello;
      if (typeof hello !== "number" || !Number.isInteger(hello) || hello < 0) {
        this.refuse(s, "a connection without a hello");
        return undefined;
      }
      this.incoming.set(hello, s);
      return hello;
    }
    const parsed = peerMsgSchema.safeParse(value);
    if (!parsed.success || parsed.data.from !== from) {
      this.dropped += 1;
      this.note(`node ${this.me}: dropped a malformed frame from node ${from}`);
      return from;
    }
    this.handler(parsed.data);
    return from;
  }

  private refuse(s: Socket, what: string): void {
    this.note(`node ${this.me}: closed a connection that sent ${what}`);
    s.destroy();
  }
}

function frame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}
