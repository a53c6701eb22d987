// Peer authentication in the TCP transport, in one process on 127.0.0.1: transports with the same
// secret talk; with another secret, or none on one side, nothing is delivered, the refused frames
// are counted and reported once; a raw socket that forges frames is refused and disconnected.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "../src/cli/launch.js";
import { encodeFrame, encodeHelloFrame } from "../src/io/codec.js";
import { CHALLENGE_BYTES, FrameSealer, PeerKey, readChallenge } from "../src/io/peer_auth.js";
import { TcpTransport, type TransportOptions } from "../src/io/tcp_transport.js";
import type { WireMsg } from "../src/protocol/messages.js";

const SECRET = Buffer.from("a cluster secret of 32 bytes....");
const OTHER = Buffer.from("another secret, also 32 bytes...");
const commit = (seq: number): WireMsg => ({ t: "commit", from: 0, seq, ids: [`9-${seq}`] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let open: TcpTransport[] = [];
let sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(open.map((t) => t.close()));
  open = [];
  sockets = [];
});

/** Two transports, rank 0 and rank 1, listening; what rank 1 receives and warns. */
async function pair(opts0: TransportOptions, opts1: TransportOptions) {
  const ports = await freePorts(2);
  const addrs = ports.map((port) => ({ host: "127.0.0.1", port }));
  const warnings: string[][] = [[], []];
  const [t0, t1] = [opts0, opts1].map(
    (o, i) => new TcpTransport(i, addrs, (l) => warnings[i]?.push(l), o),
  ) as [TcpTransport, TcpTransport];
  open.push(t0, t1);
  await t0.listen();
  await t1.listen();
  const got: WireMsg[] = [];
  t1.onMessage((m) => got.push(m));
  return { t0, t1, got, warnings, port1: ports[1] as number };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await sleep(10);
}

/** Connect to a port, read its challenge; resolves with the socket and the nonce. */
async function handshake(port: number): Promise<{ socket: net.Socket; nonce: Buffer }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  let hello = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      hello = Buffer.concat([hello, chunk]);
      const nonce = hello.length >= CHALLENGE_BYTES ? readChallenge(hello) : null;
      if (nonce) resolve({ socket, nonce });
    });
  });
}

/** The body of rank 0's hello, the first frame on every peer connection. */
const helloBody = encodeHelloFrame(0).subarray(4);

const closed = (s: net.Socket) =>
  new Promise<void>((resolve) => (s.closed ? resolve() : s.once("close", () => resolve())));

describe("TCP transport with a cluster secret", () => {
  it("delivers frames between ranks that share the secret", async () => {
    const { t0, t1, got, warnings } = await pair({ secret: SECRET }, { secret: SECRET });
    for (let seq = 0; seq < 50; seq++) t0.send(1, commit(seq));
    await until(() => got.length === 50);
    expect(got).toEqual(Array.from({ length: 50 }, (_, seq) => commit(seq)));
    expect(t1.stats.unauthenticated).toBe(0);
    expect(warnings).toEqual([[], []]);
  });

  it("delivers nothing from a rank with another secret, counts it and says so once", async () => {
    const { t0, t1, got, warnings } = await pair({ secret: OTHER }, { secret: SECRET });
    for (let round = 0; round < 5; round++) {
      t0.send(1, commit(round));
      await sleep(60); // each refused frame closes the connection; rank 0 reconnects
    }
    await until(() => t1.stats.unauthenticated >= 3);
    expect(got).toEqual([]);
    expect(t1.stats.unauthenticated).toBeGreaterThanOrEqual(3);
    expect(warnings[1]).toHaveLength(1);
    expect(warnings[1]?.[0]).toMatch(
      /^rank 1: dropped an unauthenticated frame from 127\.0\.0\.1:/,
    );
    expect(warnings[1]?.[0]).toMatch(/bad MAC/);
  });

  it("delivers nothing from a rank without the secret", async () => {
    const { t0, t1, got, warnings } = await pair({}, { secret: SECRET });
    t0.send(1, commit(1));
    await until(() => t1.stats.unauthenticated > 0);
    expect(got).toEqual([]);
    expect(warnings[1]?.join("\n")).toMatch(/unauthenticated/);
  });

  it("a rank with a secret sends nothing to a peer that sends no challenge, and says so", async () => {
    const { t0, got, warnings } = await pair(
      { secret: SECRET, challengeTimeoutMs: 100 },
      {}, // rank 1 runs without a secret: it never sends a challenge
    );
    t0.send(1, commit(1));
    await until(() => warnings[0]?.length === 1);
    expect(got).toEqual([]);
    expect(warnings[0]?.[0]).toMatch(/peer 1 .* sent no challenge .*--cluster-secret/);
  });

  it("refuses forged frames from a raw socket and closes its connection", async () => {
    const { t1, got, port1 } = await pair({ secret: SECRET }, { secret: SECRET });
    // No handshake: a plain frame, as anyone could send it before peer authentication. It is
    // longer than a hello, so it is refused from its length alone.
    const raw = net.connect({ host: "127.0.0.1", port: port1 });
    sockets.push(raw);
    raw.on("data", () => {}); // the challenge, ignored
    raw.write(encodeFrame(commit(7)));
    await closed(raw);
    // After the challenge: a hello sealed with a guessed secret; and a plain hello.
    const { socket, nonce } = await handshake(port1);
    socket.write(new FrameSealer(new PeerKey(OTHER), nonce).seal(helloBody));
    await closed(socket);
    const plain = await handshake(port1);
    plain.socket.write(encodeHelloFrame(0));
    await closed(plain.socket);
    expect(got).toEqual([]);
    // The plain commit fails the MAC check, or (were it longer than a sealed hello) its length.
    expect(t1.stats.unauthenticated + t1.stats.oversized).toBe(3);
    expect(t1.stats.malformed).toBe(0);
  });

  it("counts a well-sealed but malformed frame as malformed and keeps the connection", async () => {
    const { t1, got, port1 } = await pair({ secret: SECRET }, { secret: SECRET });
    const { socket, nonce } = await handshake(port1);
    const sealer = new FrameSealer(new PeerKey(SECRET), nonce);
    socket.write(sealer.seal(helloBody));
    socket.write(sealer.seal(encodeFrame(commit(2)).subarray(4, 10))); // a commit cut short
    socket.write(sealer.seal(encodeFrame(commit(3)).subarray(4)));
    await until(() => got.length === 1);
    expect(got).toEqual([commit(3)]);
    expect(t1.stats.malformed).toBe(1);
    expect(t1.stats.unauthenticated).toBe(0);
    expect(socket.closed).toBe(false);
  });
});
