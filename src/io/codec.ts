// Framing for the peer port: a 4-byte big-endian length, then that many bytes of a binary message
// body (wire_codec.ts). Decoding validates every frame; a bad frame is reported, never thrown.
// With a cluster secret, a MAC and a counter sit between the length and the body (peer_auth.ts),
// checked first.
import { LIMITS, type WireMsg } from "../protocol/messages.js";
import { AUTH_BYTES, type FrameOpener } from "./peer_auth.js";
import { decodeMsg, encodeMsg } from "./wire_codec.js";

export function encodeFrame(msg: WireMsg): Buffer {
  const frame = encodeMsg(msg, 4);
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

/** The first frame on every peer connection (sealed like the rest with a cluster secret): the
 * type byte 0 (no message has it), the sender's rank, and "YSH1". Until it is in, the accepting
 * rank takes no frame longer than it. */
const HELLO_MAGIC = Buffer.from("YSH1", "latin1");
export const HELLO_BODY_BYTES = 2 + HELLO_MAGIC.length;

export function encodeHelloFrame(me: number): Buffer {
  const frame = Buffer.alloc(4 + HELLO_BODY_BYTES);
  frame.writeUInt32BE(HELLO_BODY_BYTES, 0);
  frame.writeUInt8(0, 4);
  frame.writeUInt8(me, 5);
  HELLO_MAGIC.copy(frame, 6);
  return frame;
}

/** The rank a hello body names, or null if these bytes are not a hello from a rank of n. */
function readHello(body: Buffer, n: number): number | null {
  if (body.length !== HELLO_BODY_BYTES || body[0] !== 0) return null;
  const rank = body[1] as number;
  return rank < n && body.subarray(2).equals(HELLO_MAGIC) ? rank : null;
}

export type FrameProblem = "oversized" | "malformed" | "unknown" | "unauthenticated";

export interface FrameSink {
  message(msg: WireMsg): void;
  /** A frame was dropped; "oversized" and "unauthenticated" also mean the stream cannot be
   * trusted any more. */
  problem(kind: FrameProblem, detail: string): void;
}

export interface FrameDecoderOptions {
  maxFrameBytes?: number;
  /** With a cluster secret: the connection's MAC and counter check (peer_auth.ts). */
  opener?: FrameOpener | null;
  /** The stream must open with a hello frame (encodeHelloFrame): called with its rank. Any other
   * first frame, or a longer one, closes the stream. */
  onHello?: (rank: number) => void;
}

/** Splits a byte stream into frames. Returns false once the stream must be closed.
 * A frame that arrives in many chunks (up to LIMITS.maxFrameBytes of them) is joined once, when
 * its last byte is in: the chunks wait in a list, not in a buffer copied at every chunk. */
export class FrameDecoder {
  /** Bytes of an incomplete frame (or length), in arrival order. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes the parts must reach before they are worth joining: the length field, then the frame. */
  private want = 4;
  /** Once a stream cannot be trusted, nothing more of it is read. */
  private closed = false;
  private readonly maxFrameBytes: number;
  private readonly opener: FrameOpener | null;
  private readonly onHello: ((rank: number) => void) | null;
  private greeted: boolean;

  constructor(
    private readonly sink: FrameSink,
    private readonly n: number,
    options: FrameDecoderOptions = {},
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? LIMITS.maxFrameBytes;
    this.opener = options.opener ?? null;
    this.onHello = options.onHello ?? null;
    this.greeted = this.onHello === null;
  }

  /** Bytes held for an incomplete frame (what a connection costs between chunks). */
  get pendingBytes(): number {
    return this.partBytes;
  }

  push(chunk: Buffer): boolean {
    if (this.closed) return false;
    let buf = chunk;
    if (this.partBytes > 0) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      if (this.partBytes < this.want) return true;
      buf = Buffer.concat(this.parts, this.partBytes);
      this.parts = [];
      this.partBytes = 0;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      const limit = this.limit();
      if (len > limit) {
        const what = this.greeted ? "" : " before the hello";
        this.sink.problem("oversized", `frame of ${len} bytes${what} (limit ${limit})`);
        return this.close();
      }
      if (buf.length - off - 4 < len) break;
      const payload = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      const body = this.opener ? this.opener.open(payload) : payload;
      if (typeof body === "string") {
        this.sink.problem("unauthenticated", body);
        return this.close();
      }
      if (!this.greeted) {
        if (!this.greet(body)) return this.close();
        continue;
      }
      const d = decodeMsg(body, this.n);
      if (d.ok) this.sink.message(d.msg);
      else this.sink.problem(d.kind, d.detail);
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      this.parts = [rest];
      this.partBytes = rest.length;
      this.want = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 4;
    }
    return true;
  }

  /** The longest frame taken now: only a hello's length before the hello. */
  private limit(): number {
    const auth = this.opener ? AUTH_BYTES : 0;
    return (this.greeted ? this.maxFrameBytes : HELLO_BODY_BYTES) + auth;
  }

  /** The first frame: a hello (marks the stream greeted; the frame is consumed) or the end. */
  private greet(body: Buffer): boolean {
    const rank = readHello(body, this.n);
    if (rank === null) {
      this.sink.problem("unauthenticated", "the first frame is not a hello");
      return false;
    }
    this.greeted = true;
    this.onHello?.(rank);
    return true;
  }

  private close(): false {
    this.closed = true;
    this.parts = [];
    this.partBytes = 0;
    return false;
  }
}
