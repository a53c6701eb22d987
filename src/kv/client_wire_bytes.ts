// The byte-level pieces of the client wire protocol (client_wire.ts documents the layout):
// little-endian numbers, length-prefixed strings and bytes, and the splitting of a TCP byte stream
// into frames. Little-endian (unlike src/io/binary.ts, which serves the peer wire and the WAL) so a
// client in another language can read every number with its platform's native calls.
import { ByteReader, ByteWriter } from "./byte_codec.js";

export const PROTOCOL_VERSION = 1;
export const MAX_KEY_BYTES = 4096;
export const MAX_CLIENT_ID_BYTES = 64;
export const MAX_TOKEN_BYTES = 4096;
/** The longest hello frame (type, request id, version, client id and token with their u32
 * lengths): the most a connection may send before it is authenticated. */
export const MAX_HELLO_FRAME_BYTES = 1 + 4 + 1 + 4 + MAX_CLIENT_ID_BYTES + 4 + MAX_TOKEN_BYTES;
export const MAX_ERROR_MESSAGE_BYTES = 65536;
export const DEFAULT_MAX_FRAME_BYTES = 2 * 1024 * 1024 + 64 * 1024;

/** What a reader refuses; `code` is the error reply a server sends back for it. */
export class WireError extends Error {
  override name = "WireError";
  constructor(
    message: string,
    readonly code: "bad_request" | "too_large" = "bad_request",
  ) {
    super(message);
  }
}

/** The client wire's writer: the state machine codec's little-endian ByteWriter, plus what the
 * wire needs besides (booleans, a length patched in after its frame, refusable numbers). */
export class LeWriter extends ByteWriter {
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  /** u64 LE (low word first). A number that is not a non-negative safe integer is written with a
   * high word the reader refuses: the peer answers bad_request instead of acting on another number. */
  override nat(v: number): void {
    if (Number.isSafeInteger(v) && v >= 0) super.nat(v);
    else {
      this.u32(0);
      this.u32(0xffffffff);
    }
  }

  /** Sets the u32 at `at` (a length written before its contents were known). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }
}

/** Reads one frame; every method throws WireError when the bytes do not fit the layout (a length
 * over its limit: code too_large). */
export class LeReader extends ByteReader {
  protected override fail(message: string, tooLarge = false): Error {
    return new WireError(message, tooLarge ? "too_large" : "bad_request");
  }

  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw new WireError(`${what} is ${v}, expected 0 or 1`);
    return v === 1;
  }
}

/** A frame's header: u32 length of the rest, then u8 type and u32 request id. */
export const FRAME_LENGTH_BYTES = 4;
export const MIN_FRAME_BYTES = 5;

export type FrameChunk = { frames: Uint8Array[]; error?: string };

/**
 * Splits a byte stream into frames (each without its length prefix: type, request id, body). It
 * holds at most one partial frame, allocated at its declared length once that is known to be within
 * the limit; a declared length over the limit (or under the 5 header bytes) is an error after which
 * the reader accepts nothing: the stream cannot be resynchronised, so the caller closes it.
 * Frames handed out may be views of the pushed chunk: decode them before the chunk is reused.
 */
export class FrameReader {
  private readonly head = Buffer.alloc(FRAME_LENGTH_BYTES);
  private headLen = 0;
  private body: Buffer | undefined;
  private bodyLen = 0;
  private failed: string | undefined;

  /** Frames read so far (the first may have its own limit). */
  private frames = 0;

  /** maxFrameBytes: the longest frame taken; firstFrameBytes: the longest first frame (a server
   * takes no more than a hello before it knows who is talking). */
  constructor(
    readonly maxFrameBytes: number,
    readonly firstFrameBytes: number = maxFrameBytes,
  ) {}

  /** Bytes received for a frame not yet complete (at most 4 + maxFrameBytes). */
  get buffered(): number {
    return this.body !== undefined ? FRAME_LENGTH_BYTES + this.bodyLen : this.headLen;
  }

  /** Bytes held for a frame not yet complete: its body is allocated at its declared length. */
  get held(): number {
    return this.body !== undefined ? FRAME_LENGTH_BYTES + this.body.length : this.headLen;
  }

  push(chunk: Uint8Array): FrameChunk {
    const frames: Uint8Array[] = [];
    if (this.failed !== undefined) return { frames, error: this.failed };
    let at = 0;
    while (at < chunk.length) {
      if (this.body === undefined) {
        at = this.readHead(chunk, at, frames);
        if (this.failed !== undefined) return { frames, error: this.failed };
      } else {
        at = this.fillBody(chunk, at, frames);
      }
    }
    return { frames };
  }

  /** Reads a length (whole from the chunk when it can: no copy for frames within one chunk). */
  private readHead(chunk: Uint8Array, at: number, frames: Uint8Array[]): number {
    let length: number;
    if (this.headLen === 0 && chunk.length - at >= FRAME_LENGTH_BYTES) {
      length = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).readUInt32LE(at);
      at += FRAME_LENGTH_BYTES;
    } else {
      while (this.headLen < FRAME_LENGTH_BYTES && at < chunk.length)
        this.head[this.headLen++] = chunk[at++] as number;
      if (this.headLen < FRAME_LENGTH_BYTES) return at;
      length = this.head.readUInt32LE(0);
      this.headLen = 0;
    }
    const limit = this.frames === 0 ? this.firstFrameBytes : this.maxFrameBytes;
    this.frames += 1;
    if (length > limit) {
      const which = limit === this.maxFrameBytes ? "" : "first ";
      this.failed = `${which}frame of ${length} bytes (limit ${limit})`;
      return at;
    }
    if (length < MIN_FRAME_BYTES) {
      this.failed = `frame of ${length} bytes (at least ${MIN_FRAME_BYTES})`;
      return at;
    }
    if (chunk.length - at >= length) {
      frames.push(chunk.subarray(at, at + length));
      return at + length;
    }
    this.body = Buffer.allocUnsafe(length);
    this.bodyLen = 0;
    return at;
  }

  private fillBody(chunk: Uint8Array, at: number, frames: Uint8Array[]): number {
    const body = this.body as Buffer;
    const n = Math.min(body.length - this.bodyLen, chunk.length - at);
    body.set(chunk.subarray(at, at + n), this.bodyLen);
    this.bodyLen += n;
    if (this.bodyLen === body.length) {
      frames.push(body);
      this.body = undefined;
      this.bodyLen = 0;
    }
    return at + n;
  }
}
