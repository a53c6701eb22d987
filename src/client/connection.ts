// One TCP (or TLS) connection of a client to one endpoint: it says hello, sends frames (coalesced
// per tick: a thousand calls made together go out in one write) and hands decoded responses up.
// It reports its end exactly once; reconnecting and resending is the client's business.
import net from "node:net";
import tls from "node:tls";
import {
  decodeResponse,
  encodeRequest,
  FrameReader,
  PROTOCOL_VERSION,
  type ClientResponse,
} from "../kv/client_wire.js";

export interface TlsOptions {
  /** CA certificate(s) the server's certificate must chain to (default: the system's). */
  ca?: string | Buffer;
  /** Client certificate and key, for a server that requires them (--client-ca). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name the server's certificate must carry (default: the endpoint's host). */
  servername?: string;
  /** false accepts any server certificate: for tests only (default true). */
  rejectUnauthorized?: boolean;
}

export interface Endpoint {
  host: string;
  port: number;
  /** As the user wrote it ("host:port"), for messages. */
  text: string;
}

export interface ConnectionEvents {
  /** The transport is up: requests may be written (hello goes first). */
  onOpen(): void;
  onResponse(res: ClientResponse): void;
  /** The connection is gone (refused, dropped, closed by either side); called once. */
  onLost(reason: string): void;
}

/** The request id hello goes under; calls never use it. */
export const HELLO_ID = 0;

export class Connection {
  private readonly socket: net.Socket;
  private readonly frames: FrameReader;
  private outbox: Uint8Array[] = [];
  private lost = false;
  private error: string | undefined;
  open = false;
  /** performance.now() of the last answer to a call: a rank that answers nothing is suspect. */
  lastResponseMs = -Infinity;

  constructor(
    readonly endpoint: Endpoint,
    hello: { clientId: string; token: string },
    tlsOptions: TlsOptions | undefined,
    maxFrameBytes: number,
    private readonly events: ConnectionEvents,
  ) {
    this.frames = new FrameReader(maxFrameBytes);
    const { host, port } = endpoint;
    this.socket = tlsOptions
      ? tls.connect({ host, port, ...tlsOptions, servername: serverName(host, tlsOptions) })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.once(tlsOptions ? "secureConnect" : "connect", () => {
      this.open = true;
      this.send(
        encodeRequest({ type: "hello", id: HELLO_ID, version: PROTOCOL_VERSION, ...hello }),
      );
      this.events.onOpen();
    });
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk));
    this.socket.on("error", (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
    });
    this.socket.on("close", () => this.end(this.error ?? "connection closed"));
  }

  /** Queues a frame; everything queued in one tick is written together. */
  send(frame: Uint8Array): void {
    if (this.lost) return;
    this.outbox.push(frame);
    if (this.outbox.length === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const out = this.outbox;
    this.outbox = [];
    if (this.lost || out.length === 0) return;
    this.socket.write(out.length === 1 ? (out[0] as Uint8Array) : Buffer.concat(out));
  }

  /** Keeps the process alive only while calls wait for this connection. */
  setBusy(busy: boolean): void {
    if (busy) this.socket.ref();
    else this.socket.unref();
  }

  /** Drops the connection (the client decided to leave this endpoint); onLost follows. */
  close(reason: string): void {
    this.error ??= reason;
    this.open = false; // nothing more is sent here while the socket winds down
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    const { frames, error } = this.frames.push(chunk);
    for (const f of frames) {
      if (this.lost) return;
      const d = decodeResponse(f);
      if (!d.ok) {
        // An undecodable answer: if its id is readable only that call fails, else nothing on this
        // connection can be trusted any more.
        if (d.id === undefined) return this.close(`undecodable response: ${d.error}`);
        const message = `undecodable response: ${d.error}`;
        this.events.onResponse({ type: "error", id: d.id, code: "internal", message });
        continue;
      }
      // hello's answer says nothing of whether the rank serves (a cut-off rank still says ok).
      if (d.message.id !== HELLO_ID) this.lastResponseMs = performance.now();
      this.events.onResponse(d.message);
    }
    if (error !== undefined) this.close(`bad frame from the server: ${error}`);
  }

  private end(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.open = false;
    this.outbox = [];
    this.events.onLost(reason);
  }
}

/** SNI may not carry an IP address; the certificate check then uses the IP itself. */
function serverName(host: string, t: TlsOptions): string | undefined {
  if (t.servername !== undefined) return t.servername;
  return net.isIP(host) === 0 ? host : undefined;
}

/** "host:port" (an IPv6 host in brackets: "[::1]:8000"). */
export function parseEndpoint(text: string): Endpoint | undefined {
  const m = /^\[?([^\s[\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  const host = m[1] ?? "";
  if (host === "" || port < 1 || port > 65535) return undefined;
  return { host, port, text: text.trim() };
}
