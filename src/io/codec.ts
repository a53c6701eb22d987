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

export type FrameProblem = "oversized" | "malformed" | "unknown" | "unauthenticated";

export interface FrameSink {
  message(msg: WireMsg): void;
  /** A frame was dropped; "oversized" and "unauthenticated" also mean the stream cannot be
   * trusted any more. */
  problem(kind: FrameProblem, detail: string): void;
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

  constructor(
    private readonly sink: FrameSink,
    private readonly n: number,
    private readonly maxFrameBytes: number = LIMITS.maxFrameBytes,
    /** With a cluster secret: the connection's MAC and counter check (peer_auth.ts). */
    private readonly opener: FrameOpener | null = null,
  ) {}

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
    const limit = this.maxFrameBytes + (this.opener ? AUTH_BYTES : 0);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (len > limit) {
        this.sink.problem("oversized", `frame of ${len} bytes (limit ${limit})`);
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

  private close(): false {
    this.closed = true;
    this.parts = [];
    this.partBytes = 0;
    return false;
  }
}
