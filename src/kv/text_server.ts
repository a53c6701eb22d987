// The Raft KV seed's text protocol on --text-port: set/get/getm/cas/delete, one command per line,
// values read by length (binary safe). Every rank serves every command (no redirects). Commands of
// one connection run concurrently (writes share the log's batches) and are answered in order.
// Bounded per connection: commands in flight (more: stop reading the socket until some finish) and
// bytes written but not taken by the client (a client that never reads is dropped).
import net from "node:net";
import type { KvResult } from "./commands.js";
import { KvServiceError, type KvService } from "./service.js";
import type { GateLimits, Guard } from "../io/admission.js";
import { SocketServer } from "./socket_server.js";
import {
  TextParser,
  formatOk,
  formatValue,
  formatValueMeta,
  exptimeRemaining,
  REPLY_DELETED,
  REPLY_ERR_CMD,
  REPLY_ERR_INTERNAL,
  REPLY_ERR_NOT_FOUND,
  REPLY_ERR_VERSION,
  type TextCommand,
} from "./text_protocol.js";

export interface TextServerOptions {
  maxValueBytes: number;
  /** Commands of one connection in flight before its socket is paused. */
  maxInFlight?: number;
  /** Reply bytes a client may leave unread before it is dropped. */
  maxUnreadBytes?: number;
  /** What a connection may cost (TEXT_LIMITS where not given). */
  limits?: Partial<GateLimits>;
  /** Names the port in what its gate says. */
  rank?: number;
  warn?: (line: string) => void;
}

const MAX_IN_FLIGHT = 256;
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

/** The text port's defaults. It has no handshake (a connection counts as authenticated at once),
 * so what bounds a stranger is the connection cap, the stall deadline and the byte budget for
 * commands in progress (a `set` holds its value's declared length while it arrives). */
export const TEXT_LIMITS: GateLimits = {
  maxConnections: 4096,
  maxUnauthenticated: 256,
  maxUnauthenticatedPerAddress: 128,
  handshakeMs: 5000,
  stallMs: 10_000,
  maxPendingBytes: 32 * 1024 * 1024,
};

export class TextServer extends SocketServer {
  constructor(
    private readonly service: KvService,
    private readonly opts: TextServerOptions,
  ) {
    // allowHalfOpen: a client that sends its commands and then shuts its side (nc at the end of
    // its input) still gets every reply; the socket ends once they are written.
    super(
      () => net.createServer({ allowHalfOpen: true }),
      false,
      `rank ${opts.rank ?? 0} text port`,
      { ...TEXT_LIMITS, ...opts.limits },
      opts.warn ?? ((line) => void process.stderr.write(`${line}\n`)),
    );
  }

  protected serve(socket: net.Socket, guard: Guard): void {
    guard.authenticated(); // no handshake on this port
    const parser = new TextParser({ maxValueBytes: this.opts.maxValueBytes });
    const maxInFlight = this.opts.maxInFlight ?? MAX_IN_FLIGHT;
    const maxUnread = this.opts.maxUnreadBytes ?? MAX_UNREAD_BYTES;
    let inFlight = 0;
    let tail: Promise<void> = Promise.resolve();
    // A connection's commands on one key run in the order sent (a get after a set sees it);
    // commands on different keys run concurrently.
    const lastOnKey = new Map<string, Promise<unknown>>();
    const reply = (answer: Promise<string | Uint8Array>) => {
      inFlight++;
      if (inFlight >= maxInFlight) socket.pause();
      tail = tail.then(async () => {
        const bytes = await answer;
        inFlight--;
        if (socket.destroyed) return;
        socket.write(bytes);
        if (socket.writableLength > maxUnread)
          socket.destroy(); // it does not read its replies
        else if (inFlight < maxInFlight && socket.isPaused()) socket.resume();
      });
    };
    const ordered = (c: TextCommand) => {
      const before = lastOnKey.get(c.key) ?? Promise.resolve();
      const answer = before.then(() => this.answer(c));
      lastOnKey.set(c.key, answer);
      void answer.then(() => {
        if (lastOnKey.get(c.key) === answer) lastOnKey.delete(c.key);
      });
      return answer;
    };
    socket.on("data", (chunk: Buffer) => {
      parser.feed(chunk);
      if (!guard.holding(parser.bufferedBytes)) return;
      for (let item = parser.next(); item; item = parser.next()) {
        if ("close" in item) {
          reply(Promise.resolve(REPLY_ERR_CMD));
          tail = tail.then(() => void socket.end());
          return;
        }
        reply("error" in item ? Promise.resolve(REPLY_ERR_CMD) : ordered(item));
      }
    });
    socket.on("end", () => {
      tail = tail.then(() => void socket.end());
    });
    socket.on("error", () => socket.destroy());
  }

  /** One command's reply; never rejects (a failure is ERR_INTERNAL, the connection stays). */
  private async answer(c: TextCommand): Promise<string | Uint8Array> {
    try {
      switch (c.cmd) {
        case "get":
        case "getm":
          return await this.read(c.cmd, c.key);
        case "set":
          return written(
            await this.service.write({
              op: "put",
              key: c.key,
              value: c.value,
              ttlMs: c.exptime * 1000,
            }),
          );
        case "cas":
          return written(
            await this.service.write({
              op: "cas",
              key: c.key,
              version: c.version,
              value: c.value,
              ttlMs: c.exptime * 1000,
            }),
          );
        case "delete": {
          const r = await this.service.write({ op: "delete", key: c.key });
          return r.kind === "deleted" ? REPLY_DELETED : errorReply(r);
        }
      }
    } catch (e) {
      return e instanceof KvServiceError && e.code === "too_large"
        ? REPLY_ERR_CMD
        : REPLY_ERR_INTERNAL;
    }
  }

  private async read(cmd: "get" | "getm", key: string): Promise<string | Uint8Array> {
    const found = await this.service.read(key);
    if (!found) return REPLY_ERR_NOT_FOUND;
    if (cmd === "get") return formatValue(found.value);
    const left = exptimeRemaining(found.expiresAtMs, this.service.nowMs());
    return formatValueMeta(found.version, left, found.value);
  }
}

function written(r: KvResult): string {
  return r.kind === "written" ? formatOk(r.version) : errorReply(r);
}

function errorReply(r: KvResult): string {
  if (r.kind !== "error") return REPLY_ERR_INTERNAL;
  if (r.code === "not_found") return REPLY_ERR_NOT_FOUND;
  if (r.code === "version_mismatch") return REPLY_ERR_VERSION;
  return REPLY_ERR_INTERNAL;
}
