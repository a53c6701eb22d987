// A stand-in for a yasp-kv rank's client port, for the client's and yaspctl's tests: node:net on
// 127.0.0.1 (port 0), an in-memory store that several fake servers may share (a "cluster" that is
// always in agreement), the exactly-once table keyed by (client id, req), and switches to misbehave
// (stay silent, answer not_ready, drop the connection before or after applying a request).
import net from "node:net";
import tls from "node:tls";
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeRequest,
  encodeResponse,
  FrameReader,
  type ClientRequest,
  type ClientResponse,
  type WireEntry,
} from "../kv/client_wire.js";

export type Answer = ClientResponse extends infer R
  ? R extends unknown
    ? Omit<R, "id">
    : never
  : never;

export class FakeStore {
  readonly data = new Map<string, { value: Uint8Array; version: number; expiresAtMs: number }>();
  revision = 0;
  /** The first answer to each (client id, req): a resend gets it again without being applied. */
  readonly results = new Map<string, Answer>();
  /** How many times each (client id, req) was applied (exactly-once: never more than 1). */
  readonly applied = new Map<string, number>();
}

export interface FakeServerOptions {
  token?: string;
  maxValueBytes?: number;
  tls?: { cert: string; key: string };
  /** Listen on this port (default 0: any free one), e.g. to come back where a closed one was. */
  port?: number;
}

export type Received = { clientId: string; request: ClientRequest; server: string };
/** What to do with a request: answer it, or drop the connection before or after applying it. */
export type Fault = "drop-before" | "drop-after" | undefined;

export class FakeKvServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Every request received after hello, resends included, in arrival order. */
  readonly received: Received[] = [];
  readonly hellos: { clientId: string; token: string }[] = [];
  connections = 0;
  mode: "normal" | "silent" | "not_ready" = "normal";
  fault: (req: ClientRequest) => Fault = () => undefined;
  /** An answer of the test's own (e.g. to coordination requests); undefined: the usual one;
   * null: none (this request stays unanswered). */
  answerWith: (req: ClientRequest) => Answer | null | undefined = () => undefined;
  port = 0;

  constructor(
    readonly name: string,
    readonly store: FakeStore = new FakeStore(),
    private readonly opts: FakeServerOptions = {},
  ) {
    const serve = (s: net.Socket) => this.serve(s);
    this.server = opts.tls ? tls.createServer(opts.tls, serve) : net.createServer(serve);
  }

  static async start(
    name = "fake",
    store?: FakeStore,
    opts?: FakeServerOptions,
  ): Promise<FakeKvServer> {
    const s = new FakeKvServer(name, store, opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(opts?.port ?? 0, "127.0.0.1", resolve);
    });
    const addr = s.server.address();
    s.port = typeof addr === "object" && addr ? addr.port : 0;
    return s;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Drops every open connection (the listener stays). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const frames = new FrameReader(DEFAULT_MAX_FRAME_BYTES);
    let clientId: string | undefined;
    socket.on("data", (chunk: Buffer) => {
      const { frames: got, error } = frames.push(chunk);
      for (const f of got) {
        if (socket.destroyed) return;
        const d = decodeRequest(f);
        if (!d.ok) {
          if (d.id === undefined) return void socket.destroy();
          socket.write(encodeResponse({ type: "error", id: d.id, code: d.code, message: d.error }));
        } else if (clientId === undefined) {
          clientId = this.hello(d.message, socket);
        } else this.request(d.message, clientId, socket);
      }
      if (error !== undefined) socket.destroy();
    });
  }

  private hello(req: ClientRequest, socket: net.Socket): string | undefined {
    if (req.type !== "hello" || (this.opts.token !== undefined && req.token !== this.opts.token)) {
      const message = "wrong or missing auth token";
      socket.end(encodeResponse({ type: "error", id: req.id, code: "unauthenticated", message }));
      return undefined;
    }
    this.hellos.push({ clientId: req.clientId, token: req.token });
    socket.write(encodeResponse({ type: "ok", id: req.id }));
    return req.clientId;
  }

  private request(req: ClientRequest, clientId: string, socket: net.Socket): void {
    this.received.push({ clientId, request: req, server: this.name });
    if (this.mode === "silent") return;
    if (this.mode === "not_ready") {
      const message = "catching up";
      return void socket.write(
        encodeResponse({ type: "error", id: req.id, code: "not_ready", message }),
      );
    }
    const fault = this.fault(req);
    if (fault === "drop-before") return void socket.destroy();
    const own = this.answerWith(req);
    if (own === null) return;
    const answer = own ?? this.answer(req, clientId);
    if (fault === "drop-after") return void socket.destroy();
    socket.write(encodeResponse({ ...answer, id: req.id }));
  }

  private answer(req: ClientRequest, clientId: string): Answer {
    if (req.type !== "put" && req.type !== "cas" && req.type !== "delete") return this.read(req);
    const k = `${clientId}/${req.req}`;
    const kept = this.store.results.get(k);
    if (kept) return kept;
    const max = this.opts.maxValueBytes ?? 1024 * 1024;
    if (req.type !== "delete" && req.value.length > max)
      return {
        type: "error",
        code: "too_large",
        message: `value of ${req.value.length} bytes: the limit is ${max}`,
      };
    const result = this.write(req);
    this.store.results.set(k, result);
    this.store.applied.set(k, (this.store.applied.get(k) ?? 0) + 1);
    return result;
  }

  private write(req: Extract<ClientRequest, { type: "put" | "cas" | "delete" }>): Answer {
    const { data } = this.store;
    const cur = data.get(req.key);
    const version = ++this.store.revision;
    if (req.type === "delete") {
      if (!cur) return { type: "error", code: "not_found", message: "" };
      data.delete(req.key);
      return { type: "deleted", version };
    }
    if (req.type === "cas") {
      if (!cur) return { type: "error", code: "not_found", message: "" };
      if (cur.version !== req.version)
        return { type: "error", code: "version_mismatch", message: "", version: cur.version };
    }
    const expiresAtMs = req.ttlMs > 0 ? Date.now() + req.ttlMs : 0;
    data.set(req.key, { value: req.value, version, expiresAtMs });
    return { type: "written", version };
  }

  private read(req: Exclude<ClientRequest, { type: "put" | "cas" | "delete" }>): Answer {
    const left = (at: number) => (at > 0 ? Math.max(1, at - Date.now()) : 0);
    if (req.type === "status")
      return {
        type: "status",
        json: JSON.stringify({ server: this.name, keys: this.store.data.size }),
      };
    if (req.type === "get" || req.type === "getm") {
      const e = this.store.data.get(req.key);
      if (!e) return { type: "error", code: "not_found", message: `no key ${req.key}` };
      return {
        type: "value",
        value: e.value,
        version: e.version,
        expiresInMs: left(e.expiresAtMs),
      };
    }
    if (req.type !== "range") return { type: "error", code: "bad_request", message: "hello again" };
    const s = req.selector;
    const keys = [...this.store.data.keys()]
      .filter((k) =>
        "prefix" in s ? k.startsWith(s.prefix) : k >= s.start && (s.end === "" || k < s.end),
      )
      .sort();
    const limit = req.limit === 0 ? 1000 : req.limit;
    const entries: WireEntry[] = keys.slice(0, limit).map((key) => {
      const e = this.store.data.get(key) as {
        value: Uint8Array;
        version: number;
        expiresAtMs: number;
      };
      return { key, value: e.value, version: e.version, expiresInMs: left(e.expiresAtMs) };
    });
    return { type: "entries", entries, more: keys.length > limit };
  }
}
