// Framing for the peer port: a 4-byte big-endian length, then that many bytes of JSON.
// Decoding validates every frame with zod; a bad frame is reported, never thrown.
import { LIMITS, wireMsg, type WireMsg } from "../protocol/messages.js";

export function encodeFrame(msg: WireMsg): Buffer {
  const body = JSON.stringify(msg);
  const len = Buffer.byteLength(body);
  const frame = Buffer.allocUnsafe(4 + len);
  frame.writeUInt32BE(len, 0);
  frame.write(body, 4, "utf8");
  return frame;
}

export type FrameProblem = "oversized" | "malformed" | "unknown";

export interface FrameSink {
  message(msg: WireMsg): void;
  /** A frame was dropped; "oversized" also means the stream cannot be trusted any more. */
  problem(kind: FrameProblem, detail: string): void;
}

/** Splits a byte stream into frames. Returns false once the stream must be closed. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly sink: FrameSink,
    private readonly n: number,
    private readonly maxFrameBytes: number = LIMITS.maxFrameBytes,
  ) {}

  push(chunk: Buffer): boolean {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32BE(off);
      if (len > this.maxFrameBytes) {
        this.sink.problem("oversized", `frame of ${len} bytes (limit ${this.maxFrameBytes})`);
        this.buf = Buffer.alloc(0);
        return false;
      }
      if (this.buf.length - off - 4 < len) break;
      this.decode(this.buf.toString("utf8", off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return true;
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
