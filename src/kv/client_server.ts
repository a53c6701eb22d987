// The client port: the binary protocol of client_wire.ts over TCP, or TLS with --client-cert and
// --client-key (and client certificates required with --client-ca); with --auth-token-file every
// connection must say the token in its hello first. Requests of a connection run concurrently and
// are answered by request id. Bounded per connection: requests in flight (more: the socket is
// paused until some finish), one frame (the reader refuses a larger one: the connection closes;
// before the hello, nothing longer than the longest hello), and reply bytes the client leaves
// unread (past the limit it is dropped, others unaffected). What connections cost before and
// after the hello is bounded by the port's gate (socket_server.ts).
import net from "node:net";
import tls from "node:tls";
import { timingSafeEqual } from "node:crypto";
import type { GateLimits, Guard } from "../io/admission.js";
import {
  decodeRequest,
  DEFAULT_MAX_FRAME_BYTES,
  encodeResponse,
  FrameReader,
  MAX_HELLO_FRAME_BYTES,
  type ClientRequest,
  type ClientResponse,
} from "./client_wire.js";
import { answerRequest, type ConnectionContext } from "./client_answers.js";
import type { KvService } from "./service.js";
import { SocketServer } from "./socket_server.js";

export interface ClientSecurity {
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  token?: Buffer;
}

export interface ClientServerOptions extends ClientSecurity {
  rank: number;
  maxInFlight?: number;
  maxUnreadBytes?: number;
  /** What a connection may cost (CLIENT_LIMITS where not given). */
  limits?: Partial<GateLimits>;
  warn?: (line: string) => void;
}

const MAX_IN_FLIGHT = 4096;
const MAX_UNREAD_BYTES = 32 * 1024 * 1024;

/** The client port's defaults: an honest client sends its hello as soon as it has connected
 * (and its TLS handshake is done); many clients may share one address (a load generator). */
export const CLIENT_LIMITS: GateLimits = {
  maxConnections: 16_384,
  maxUnauthenticated: 256,
  maxUnauthenticatedPerAddress: 128,
  handshakeMs: 5000,
  stallMs: 10_000,
  maxPendingBytes: 32 * 1024 * 1024,
};

export class ClientServer extends SocketServer {
  constructor(
    private readonly service: KvService,
    private readonly opts: ClientServerOptions,
  ) {
    const secure = opts.tls;
    const options = { allowHalfOpen: true };
    super(
      () =>
        secure
          ? tls.createServer({
              ...options,
              cert: secure.cert,
              key: secure.key,
              ...(secure.ca ? { ca: secure.ca, requestCert: true, rejectUnauthorized: true } : {}),
            })
          : net.createServer(options),
      secure !== undefined,
      `rank ${opts.rank} client port`,
      { ...CLIENT_LIMITS, ...opts.limits },
      opts.warn ?? ((line) => void process.stderr.write(`${line}\n`)),
    );
    // A TLS handshake that fails (no client certificate, garbage) only closes that connection.
    this.server.on("tlsClientError", (_e: Error, socket: net.Socket) => socket.destroy());
  }

  protected serve(socket: net.Socket, guard: Guard): void {
    const frames = new FrameReader(DEFAULT_MAX_FRAME_BYTES, MAX_HELLO_FRAME_BYTES);
    const maxInFlight = this.opts.maxInFlight ?? MAX_IN_FLIGHT;
    const maxUnread = this.opts.maxUnreadBytes ?? MAX_UNREAD_BYTES;
    let clientId: string | null = null;
    let inFlight = 0;
    // The client shut its side (allowHalfOpen): end ours once every request is answered.
    let clientEnded = false;
    const endIfDone = () => {
      if (clientEnded && inFlight === 0 && !socket.destroyed) socket.end();
    };
    const send = (r: ClientResponse) => {
      if (socket.destroyed) return;
      socket.write(encodeResponse(r));
      if (socket.writableLength > maxUnread) socket.destroy(); // it does not read its replies
    };
    const conn = this.context(socket, send);
    const run = (req: ClientRequest, id: string) => {
      inFlight++;
      if (inFlight >= maxInFlight) socket.pause();
      void answerRequest(this.service, req, id, conn).then((r) => {
        inFlight--;
        if (r) send(r);
        if (inFlight < maxInFlight && socket.isPaused() && !socket.destroyed) socket.resume();
        endIfDone();
      });
    };
    socket.on("data", (chunk: Buffer) => {
      const { frames: got, error } = frames.push(chunk);
      for (const f of got) {
        const d = decodeRequest(f);
        if (!d.ok) {
          if (d.id === undefined) return void socket.destroy();
          send({ type: "error", id: d.id, code: d.code, message: d.error });
          continue;
        }
        if (clientId === null) {
          clientId = this.hello(d.message, send);
          if (clientId === null) return void socket.end();
          guard.authenticated();
          continue;
        }
        run(d.message, clientId);
      }
      if (error !== undefined)
        socket.destroy(); // an oversized or impossible frame: no resync
      else guard.holding(frames.held);
    });
    socket.on("end", () => {
      clientEnded = true;
      endIfDone();
    });
    socket.on("error", () => socket.destroy());
  }

  /** What requests need of their connection: its end (waiting acquires stop waiting, watches
   * end) and a sink for watch frames. */
  private context(socket: net.Socket, send: (r: ClientResponse) => void): ConnectionContext {
    const closing = new AbortController();
    const watches = this.service.watches.connection({
      send,
      buffered: () => socket.writableLength,
      drained: () =>
        new Promise<void>((resolve) => {
          if (socket.destroyed || socket.writableLength === 0) return resolve();
          const done = () => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.on("drain", done);
          socket.on("close", done);
        }),
    });
    socket.once("close", () => {
      closing.abort();
      watches.close();
    });
    return { closed: closing.signal, watches };
  }

  /** The first frame: hello with the token if one is required. The client id, or null (refused). */
  private hello(req: ClientRequest, send: (r: ClientResponse) => void): string | null {
    if (req.type !== "hello") {
      send({ type: "error", id: req.id, code: "unauthenticated", message: "say hello first" });
      return null;
    }
    const want = this.opts.token;
    const given = Buffer.from(req.token, "utf8");
    if (want && (given.length !== want.length || !timingSafeEqual(given, want))) {
      send({
        type: "error",
        id: req.id,
        code: "unauthenticated",
        message: "wrong or missing auth token",
      });
      return null;
    }
    send({ type: "ok", id: req.id });
    return req.clientId;
  }
}
