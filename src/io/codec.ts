// Framing for the peer port: a 4-byte big-endian length, then that many bytes of JSON.
// Decoding validates every frame with zod; a bad frame is reported, never thrown. With a cluster
// secret, a MAC and a counter sit between the length and the JSON (peer_auth.ts), checked first.
import { LIMITS, wireMsg, type WireMsg } from "../protocol/messages.js";
import { AUTH_BYTES, type FrameOpener } from "./peer_auth.js";

export function encodeFrame(msg: WireMsg): Buffer {
  const body = JSON.stringify(msg);
  const len = Buffer.byteLength(body);
  const frame = Buffer.allocUnsafe(4 + len);
  frame.writeUInt32BE(len, 0);
  frame.write(body, 4, "utf8");
  return frame;
}

export type FrameProblem = "oversized" | "malformed" | "unknown" | "unauthenticated";

export interface FrameSink {
  message(msg: WireMsg): void;
  /** A frame was dropped; "oversized" and "unauthenticated" also mean the stream cannot be
   * trusted any more. */
  problem(kind: FrameProblem, detail: string): void;
}

/** Splits a byte stream into frames. Returns false once the stream must be closed. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
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
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const limit = this.maxFrameBytes + (this.opener ? AUTH_BYTES : 0);
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32BE(off);
      if (len > limit) {
        this.sink.problem("oversized", `frame of ${len} bytes (limit ${limit})`);
        return this.close();
      }
      if (this.buf.length - off - 4 < len) break;
      const payload = this.buf.subarray(off + 4, off + 4 + len);
      const body = this.opener ? this.opener.open(payload) : payload;
      if (typeof body === "string") {
        this.sink.problem("unauthenticated", body);
        return this.close();
      }
      this.decode(body.toString("utf8"));
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return true;
  }

  private close(): false {
    this.closed = true;
    this.buf = Buffer.alloc(0);
    return false;
  }

  private decode(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.sink.problem("malformed", "frame is not JSON");
    }
    const parsed = wireMsg.safeParse(json);
    if (!parsed.success) {
      const t = typeof json === "object" && json !== null && "t" in json ? String(json.t) : "?";
      const known = wireMsg.options.some((o) => o.shape.t.value === t);
      return this.sink.problem(
        known ? "malformed" : "unknown",
        known ? `bad ${t} frame` : `unknown frame type ${t.slice(0, 40)}`,
      );
    }
    if (parsed.data.from >= this.n)
      return this.sink.problem("malformed", `sender ${parsed.data.from} is not in the cluster`);
    this.sink.message(parsed.data);
  }
}
