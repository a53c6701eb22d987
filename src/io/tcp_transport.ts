// Ranks over TCP. Each rank listens on its own address and keeps one outgoing connection per peer
// (reconnecting with backoff, so a peer that is not up yet is no error). Frames for one peer are
// gathered and written once per event-loop turn: the write system call, not encoding, is the cost.
// A message a rank sends itself never touches a socket.
import net from "node:net";
import type { WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import { encodeFrame, FrameDecoder, type FrameProblem } from "./codec.js";

export interface PeerAddress {
  host: string;
  port: number;
}

export interface TransportStats {
  framesOut: number;
  framesIn: number;
  droppedOut: number;
  malformed: number;
  oversized: number;
  unknown: number;
}

const QUEUE_LIMIT_BYTES = 8 * 1024 * 1024;
const SOCKET_BACKLOG_LIMIT = 32 * 1024 * 1024;

interface Peer {
  socket: net.Socket | null;
  connected: boolean;
  queue: Buffer[];
  queuedBytes: number;
  backoffMs: number;
  retry: NodeJS.Timeout | null;
}

export class TcpTransport implements Transport {
  private handler: (msg: WireMsg) => void = () => {};
  private server: net.Server | null = null;
  private readonly peers: Peer[];
  private readonly inbound = new Set<net.Socket>();
  private flushScheduled = false;
  private loopback: WireMsg[] = [];
  private closed = false;
  private lastMsg: WireMsg | null = null;
  private lastFrame: Buffer = Buffer.alloc(0);
  private readonly warned = new Set<string>();
  readonly stats: TransportStats = {
    framesOut: 0,
    framesIn: 0,
    droppedOut: 0,
    malformed: 0,
    oversized: 0,
    unknown: 0,
  };

  constructor(
    private readonly me: number,
    private readonly addrs: readonly PeerAddress[],
    private readonly warn: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  ) {
    this.peers = addrs.map(() => ({
      socket: null,
      connected: false,
      queue: [],
      queuedBytes: 0,
      backoffMs: 20,
      retry: null,
    }));
  }

  /** Start listening on this rank's address; rejects (e.g. EADDRINUSE) without side effects. */
  listen(): Promise<void> {
    const addr = this.addrs[this.me] as PeerAddress;
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(addr.port, addr.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  onMessage(handler: (msg: WireMsg) => void): void {
    this.handler = handler;
  }

  send(to: number, msg: WireMsg): void {
    if (this.closed) return;
    if (to === this.me) {
      this.loopback.push(msg);
    } else {
      const peer = this.peers[to];
      if (!peer) return;
      const frame = this.encode(msg);
      if (
        peer.queuedBytes + frame.length > QUEUE_LIMIT_BYTES ||
        (peer.socket?.writableLength ?? 0) > SOCKET_BACKLOG_LIMIT
      ) {
        this.stats.droppedOut++;
        return;
      }
      peer.queue.push(frame);
      peer.queuedBytes += frame.length;
      if (!peer.socket) this.connect(to);
    }
    this.scheduleFlush();
  }

  /** A broadcast hands the same object to send() once per peer: encode it once. */
  private encode(msg: WireMsg): Buffer {
    if (msg !== this.lastMsg) {
      this.lastMsg = msg;
      this.lastFrame = encodeFrame(msg);
    }
    return this.lastFrame;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peers) {
      if (p.retry) clearTimeout(p.retry);
      p.socket?.end();
      p.socket?.destroy();
    }
    for (const s of this.inbound) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const local = this.loopback;
    this.loopback = [];
    for (const msg of local) this.handler(msg);
    for (const peer of this.peers) {
      if (!peer.connected || !peer.socket || peer.queue.length === 0) continue;
      const data =
        peer.queue.length === 1
          ? (peer.queue[0] as Buffer)
          : Buffer.concat(peer.queue, peer.queuedBytes);
      this.stats.framesOut += peer.queue.length;
      peer.queue = [];
      peer.queuedBytes = 0;
      peer.socket.write(data);
    }
  }

  private connect(to: number): void {
    const peer = this.peers[to] as Peer;
    const addr = this.addrs[to] as PeerAddress;
    if (this.closed || peer.socket || peer.retry) return;
    const socket = net.connect({ host: addr.host, port: addr.port });
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.on("connect", () => {
      peer.connected = true;
      peer.backoffMs = 20;
      this.scheduleFlush();
    });
    socket.on("data", () => {}); // peers never answer on this connection
    socket.on("error", () => {}); // 'close' follows; a peer that is down is retried
    socket.on("close", () => {
      peer.socket = null;
      peer.connected = false;
      if (this.closed) return;
      // Frames queued for a dead peer are stale by the time it is back: the protocol resends.
      peer.queue = [];
      peer.queuedBytes = 0;
      peer.retry = setTimeout(() => {
        peer.retry = null;
        this.connect(to);
      }, peer.backoffMs);
      peer.backoffMs = Math.min(1000, peer.backoffMs * 2);
    });
  }

  private accept(socket: net.Socket): void {
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(
      {
        message: (msg) => {
          this.stats.framesIn++;
          this.handler(msg);
        },
        problem: (kind, detail) => this.onProblem(kind, detail, socket),
      },
      this.addrs.length,
    );
    socket.on("data", (chunk: Buffer) => {
      if (!decoder.push(chunk)) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => this.inbound.delete(socket));
  }

  private onProblem(kind: FrameProblem, detail: string, socket: net.Socket): void {
    this.stats[kind]++;
    // One line per kind of problem, not one per frame: a noisy peer must not flood stderr.
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.warn(
      `rank ${this.me}: dropped a ${kind} frame from ${socket.remoteAddress}:${socket.remotePort}: ${detail} (further ones are counted, not shown)`,
    );
  }
}
