// Ranks over TCP. Each rank listens on its own address and keeps one outgoing connection per peer
// (reconnecting with backoff, so a peer that is not up yet is no error). Frames for one peer are
// gathered and written once per event-loop turn: the write system call, not encoding, is the cost.
// A message a rank sends itself never touches a socket.
// With a cluster secret, every connection starts with a challenge from the accepting side and
// every frame carries a MAC and a counter (peer_auth.ts); a frame that fails them is dropped,
// counted and its connection closed. Without one, frames travel unauthenticated.
import net from "node:net";
import { LIMITS, type WireMsg } from "../protocol/messages.js";
import type { Transport } from "../ports.js";
import { Gate, type GateLimits } from "./admission.js";
import { encodeFrame, encodeHelloFrame, FrameDecoder, type FrameProblem } from "./codec.js";
import { SystemClock } from "./system_clock.js";
import {
  CHALLENGE_BYTES,
  FrameOpener,
  FrameSealer,
  newChallenge,
  PeerKey,
  readChallenge,
} from "./peer_auth.js";

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
  /** Frames that failed the MAC or counter check (only with a cluster secret). */
  unauthenticated: number;
}

export interface TransportOptions {
  /** The cluster secret (at least 16 bytes): peer frames are authenticated with it. */
  secret?: Uint8Array;
  /** With a secret: a peer that accepts a connection but sends no challenge in this time is not a
   * rank with the secret; the connection is closed and tried again. Default 10 s. */
  challengeTimeoutMs?: number;
  /** What inbound connections may cost (admission.ts); PEER_LIMITS where not given. */
  limits?: Partial<GateLimits>;
}

/** The peer port's defaults. An honest rank says hello as soon as it can (within one round trip),
 * and the largest frame it sends (LIMITS.maxFrameBytes) arrives without pauses. */
export const PEER_LIMITS: GateLimits = {
  maxConnections: 4 * LIMITS.maxRanks + 64,
  maxUnauthenticated: 64,
  maxUnauthenticatedPerAddress: 16,
  handshakeMs: 5000,
  stallMs: 10_000,
  maxPendingBytes: 2 * LIMITS.maxFrameBytes + 1024 * 1024,
};

/** Bytes queued for one peer and not yet handed to its socket (until the turn's flush, or until
 * the connection is up), past which frames are dropped; a frame always enters an empty queue, so
 * one of the largest (LIMITS.maxFrameBytes) still goes out. */
const QUEUE_LIMIT_BYTES = 8 * 1024 * 1024;
/** Bytes the socket may hold unsent before frames for the peer are dropped; checked before a
 * frame is queued, so a frame of any size is taken while the backlog is under the limit. */
const SOCKET_BACKLOG_LIMIT = 32 * 1024 * 1024;

interface Peer {
  socket: net.Socket | null;
  connected: boolean;
  queue: Buffer[];
  queuedBytes: number;
  backoffMs: number;
  retry: NodeJS.Timeout | null;
  /** With a secret: MACs this connection's frames, once the peer's challenge is in. */
  sealer: FrameSealer | null;
  challengeTimer: NodeJS.Timeout | null;
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
  private readonly key: PeerKey | null;
  private readonly challengeTimeoutMs: number;
  /** What inbound connections may cost. */
  readonly gate: Gate;
  readonly stats: TransportStats = {
    framesOut: 0,
    framesIn: 0,
    droppedOut: 0,
    malformed: 0,
    oversized: 0,
    unknown: 0,
    unauthenticated: 0,
  };

  constructor(
    private readonly me: number,
    private readonly addrs: readonly PeerAddress[],
    private readonly warn: (line: string) => void = (line) => process.stderr.write(line + "\n"),
    options: TransportOptions = {},
  ) {
    this.key = options.secret ? new PeerKey(options.secret) : null;
    const limits = { ...PEER_LIMITS, ...options.limits };
    this.gate = new Gate(`rank ${me} peer port`, limits, new SystemClock(), warn);
    this.challengeTimeoutMs = options.challengeTimeoutMs ?? 10_000;
    this.peers = addrs.map(() => ({
      socket: null,
      connected: false,
      queue: [],
      queuedBytes: 0,
      backoffMs: 20,
      retry: null,
      sealer: null,
      challengeTimer: null,
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
      if (frame.length - 4 > LIMITS.maxFrameBytes) {
        // The peer would close the connection on it (and the protocol would send it again).
        this.stats.droppedOut++;
        this.warnOnce(
          "oversized-out",
          `rank ${this.me}: not sending a ${msg.t} frame of ${frame.length - 4} bytes (limit ${LIMITS.maxFrameBytes}); further ones are counted, not shown`,
        );
        return;
      }
      if (
        (peer.queuedBytes > 0 && peer.queuedBytes + frame.length > QUEUE_LIMIT_BYTES) ||
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
      if (p.challengeTimer) clearTimeout(p.challengeTimer);
      p.socket?.end();
      p.socket?.destroy();
    }
    for (const s of this.inbound) s.destroy();
    this.gate.stop();
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
      const data = peer.sealer
        ? sealAll(peer.sealer, peer.queue)
        : peer.queue.length === 1
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
    const key = this.key;
    if (key) this.awaitChallenge(to, socket, key);
    else {
      socket.on("connect", () => this.ready(peer));
      socket.on("data", () => {}); // peers never answer on this connection
    }
    socket.on("error", () => {}); // 'close' follows; a peer that is down is retried
    socket.on("close", () => {
      peer.socket = null;
      peer.connected = false;
      peer.sealer = null;
      if (peer.challengeTimer) clearTimeout(peer.challengeTimer);
      peer.challengeTimer = null;
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

  /** With a secret, an outgoing connection carries frames once the peer's challenge is in; a peer
   * that does not send one in time, or sends something else, is not a rank with the secret. */
  private awaitChallenge(to: number, socket: net.Socket, key: PeerKey): void {
    const peer = this.peers[to] as Peer;
    const addr = this.addrs[to] as PeerAddress;
    const refuse = (kind: string, what: string) => {
      this.warnOnce(
        kind,
        `rank ${this.me}: peer ${to} at ${addr.host}:${addr.port} ${what} (does it run without --cluster-secret?); reconnecting`,
      );
      socket.destroy();
    };
    socket.on("connect", () => {
      peer.challengeTimer = setTimeout(
        () => refuse("no-challenge", `sent no challenge in ${this.challengeTimeoutMs / 1000} s`),
        this.challengeTimeoutMs,
      );
    });
    let hello = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      // After the challenge, peers never send anything on this connection.
      if (peer.sealer || socket !== peer.socket) return;
      hello = Buffer.concat([hello, chunk]);
      if (hello.length < CHALLENGE_BYTES) return;
      const nonce = readChallenge(hello);
      if (!nonce) return refuse("bad-challenge", "did not open with a challenge");
      peer.sealer = new FrameSealer(key, nonce);
      this.ready(peer);
    });
  }

  /** The connection can carry frames (with a secret: the peer's challenge is in). Its first frame
   * is the hello. */
  private ready(peer: Peer): void {
    if (peer.challengeTimer) clearTimeout(peer.challengeTimer);
    peer.challengeTimer = null;
    const hello = encodeHelloFrame(this.me);
    peer.queue.unshift(hello);
    peer.queuedBytes += hello.length;
    peer.connected = true;
    peer.backoffMs = 20;
    this.scheduleFlush();
  }

  /** An inbound connection: admitted by the gate, then a challenge (with a secret), a hello
   * (the first frame, sealed like the rest), and frames. */
  private accept(socket: net.Socket): void {
    socket.on("error", () => {});
    const guard = this.gate.admit(socket);
    if (guard === null) return;
    this.inbound.add(socket);
    socket.setNoDelay(true);
    let opener: FrameOpener | null = null;
    if (this.key) {
      const challenge = newChallenge();
      socket.write(challenge.bytes);
      opener = new FrameOpener(this.key, challenge.nonce);
    }
    const sink = {
      message: (msg: WireMsg) => {
        this.stats.framesIn++;
        this.handler(msg);
      },
      problem: (kind: FrameProblem, detail: string) => this.onProblem(kind, detail, socket),
    };
    const onHello = () => guard.authenticated();
    const decoder = new FrameDecoder(sink, this.addrs.length, { opener, onHello });
    socket.on("data", (chunk: Buffer) => {
      if (!decoder.push(chunk)) socket.destroy();
      else guard.holding(decoder.pendingBytes);
    });
    socket.on("close", () => {
      guard.closed();
      this.inbound.delete(socket);
    });
  }

  private onProblem(kind: FrameProblem, detail: string, socket: net.Socket): void {
    this.stats[kind]++;
    const a = kind === "unauthenticated" || kind === "oversized" ? "an" : "a";
    this.warnOnce(
      kind,
      `rank ${this.me}: dropped ${a} ${kind} frame from ${socket.remoteAddress}:${socket.remotePort}: ${detail} (further ones are counted, not shown)`,
    );
  }

  /** One line per kind of problem, not one per frame: a noisy peer must not flood stderr. */
  private warnOnce(kind: string, line: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.warn(line);
  }
}

/** The queued frames of one connection, each with its counter and MAC, in one buffer. */
function sealAll(sealer: FrameSealer, frames: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const frame of frames) {
    const body = frame.subarray(4); // the codec's length is replaced by the sealed one
    const header = sealer.header(body);
    parts.push(header, body);
    bytes += header.length + body.length;
  }
  return Buffer.concat(parts, bytes);
}
