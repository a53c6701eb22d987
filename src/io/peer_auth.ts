// Peer authentication: every frame on a peer connection carries a MAC under the cluster secret, so
// only holders of the secret can make a rank accept a frame, and no frame is accepted twice.
//
// Handshake. A rank sends frames only on connections it opened, and receives them only on
// connections it accepted. The accepting rank opens every connection with a challenge: the 4 bytes
// "YSA1" and a 16-byte nonce from the OS's random source, fresh for this connection. The connecting
// rank sends nothing until it has read the challenge.
//
// Frames. Then every frame the connecting rank sends is
//     [u32 length of the rest][u64 counter][16-byte tag][binary body, as wire_codec.ts encodes it]
// where the counter is 1, 2, 3, ... on this connection and the tag is HMAC-SHA256(key, nonce ||
// counter || body) cut to its first 16 bytes (128 bits, as RFC 4868 does for IPsec). The key is
// HKDF-SHA256 of the secret file's bytes with the label "yasp peer auth v1": a key for this use only.
//
// The accepting rank takes a frame only if its tag matches (a constant-time comparison) and its
// counter is the next one on the connection (TCP delivers in order, so anything else is a replay,
// a reordering or a deletion). Hence:
//   - a forged frame (made without the secret) or a tampered one fails the tag;
//   - a frame replayed on the same connection has a counter already used;
//   - a frame replayed on another connection was MACed under that connection's nonce, not this one;
//   - a frame sent without waiting for the challenge was MACed under no nonce of this connection.
// After a failure the connection is closed (transport): nothing that follows on it can be trusted.
// An honest sender reconnects, gets a new nonce and starts again at counter 1; the protocol resends
// what was lost, as it does for any lost frame.
//
// Not covered: confidentiality (frames travel in clear), and which rank a frame comes from: every
// holder of the secret is a member of the cluster and may speak for any rank. The challenge itself
// is not authenticated: a man in the middle who hands the connecting rank another nonce gets frames
// MACed under it, which he can only relay to the connection that nonce belongs to (delay or drop
// them, which he could do anyway): relayed in order, they are the sender's frames, unchanged.
//
// Everything here is pure (no sockets): the transport feeds it bytes.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

export const MIN_SECRET_BYTES = 16;
const MAGIC = Buffer.from("YSA1", "latin1");
const NONCE_BYTES = 16;
export const CHALLENGE_BYTES = MAGIC.length + NONCE_BYTES;
const COUNTER_BYTES = 8;
const TAG_BYTES = 16;
/** Counter and tag, between a frame's length and its body. */
export const AUTH_BYTES = COUNTER_BYTES + TAG_BYTES;
const LABEL = "yasp peer auth v1";

/** The MAC key of a cluster: derived from the secret, which is used for nothing else. */
export class PeerKey {
  readonly key: Buffer;

  constructor(secret: Uint8Array) {
    if (secret.length < MIN_SECRET_BYTES)
      throw new RangeError(`a cluster secret needs at least ${MIN_SECRET_BYTES} bytes`);
    this.key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), LABEL, 32));
  }

  tag(nonce: Buffer, counter: Buffer, body: Buffer): Buffer {
    return createHmac("sha256", this.key)
      .update(nonce)
      .update(counter)
      .update(body)
      .digest()
      .subarray(0, TAG_BYTES);
  }
}

/** A fresh challenge for a new inbound connection: what to send, and the nonce it carries. */
export function newChallenge(): { bytes: Buffer; nonce: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  return { bytes: Buffer.concat([MAGIC, nonce]), nonce };
}

/** The nonce of a challenge (CHALLENGE_BYTES long), or null if these bytes are not one. */
export function readChallenge(bytes: Buffer): Buffer | null {
  if (bytes.length !== CHALLENGE_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    return null;
  return Buffer.from(bytes.subarray(MAGIC.length));
}

function writeCounter(into: Buffer, at: number, counter: number): void {
  into.writeUInt32BE(Math.floor(counter / 2 ** 32), at);
  into.writeUInt32BE(counter >>> 0, at + 4);
}

/** The sending end of one connection: numbers and MACs its frames. */
export class FrameSealer {
  private counter = 0;

  constructor(
    private readonly key: PeerKey,
    private readonly nonce: Buffer,
  ) {}

  /** What goes on the wire before body: [u32 length][counter][tag]. */
  header(body: Buffer): Buffer {
    const header = Buffer.allocUnsafe(4 + AUTH_BYTES);
    header.writeUInt32BE(AUTH_BYTES + body.length, 0);
    writeCounter(header, 4, ++this.counter);
    const tag = this.key.tag(this.nonce, header.subarray(4, 4 + COUNTER_BYTES), body);
    tag.copy(header, 4 + COUNTER_BYTES);
    return header;
  }

  /** A whole sealed frame (header and body in one buffer). */
  seal(body: Buffer): Buffer {
    return Buffer.concat([this.header(body), body]);
  }
}

/** The receiving end of one connection: checks each frame's tag and counter. */
export class FrameOpener {
  private last = 0;

  constructor(
    private readonly key: PeerKey,
    private readonly nonce: Buffer,
  ) {}

  /** The body of a frame (the bytes after its length), or why it is refused. */
  open(payload: Buffer): Buffer | string {
    if (payload.length < AUTH_BYTES) return "frame too short to carry a MAC";
    const counterBytes = payload.subarray(0, COUNTER_BYTES);
    const body = payload.subarray(AUTH_BYTES);
    const expected = this.key.tag(this.nonce, counterBytes, body);
    if (!timingSafeEqual(expected, payload.subarray(COUNTER_BYTES, AUTH_BYTES)))
      return "bad MAC (forged, tampered, replayed from another connection, or another secret)";
    const counter = counterBytes.readUInt32BE(0) * 2 ** 32 + counterBytes.readUInt32BE(4);
    if (counter !== this.last + 1)
      return `frame counter ${counter} where ${this.last + 1} was due (replayed or reordered)`;
    this.last = counter;
    return body;
  }
}
