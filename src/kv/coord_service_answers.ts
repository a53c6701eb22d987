// What the client port answers to the coordination requests (sessions, locks, watches, the
// master), and how any state machine result becomes a wire response.
import type { ClientRequest, ClientResponse, CoordRequest } from "./client_wire.js";
import { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS, type KvResult } from "./commands.js";
import type { KvService } from "./service.js";
import type { WatchConnection } from "./watch_hub.js";

/** What a request may need of its connection. */
export interface ConnectionContext {
  /** Aborts when the connection is gone (a waiting acquire's answer is then dropped). */
  closed: AbortSignal;
  watches: WatchConnection;
}

/** The answer to a coordination request; null when the request answered itself (watch). */
export async function answerCoord(
  service: KvService,
  req: CoordRequest,
  clientId: string,
  conn: ConnectionContext | undefined,
): Promise<ClientResponse | null> {
  const { id } = req;
  const ref = (r: { req: number; low: number }) => ({ id: clientId, req: r.req, low: r.low });
  switch (req.type) {
    case "session_open": {
      const { ttlMs } = req;
      if (ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS) return badTtl(id, ttlMs);
      const w = { op: "session_open" as const, ttlMs, client: ref(req) };
      return resultResponse(id, await service.write(w));
    }
    case "session_keepalive": {
      const r = await service.coord.keepalive(req.session);
      if ("ttlMs" in r) return { type: "kept", id, ttlMs: r.ttlMs };
      if (r.error === "no_session") return noSession(id, req.session);
      return notMaster(id, r.master);
    }
    case "session_close": {
      const w = { op: "session_close" as const, session: req.session, client: ref(req) };
      return resultResponse(id, await service.write(w));
    }
    case "acquire": {
      const { lock, session, wait } = req;
      const a = { lock, session, wait, client: ref(req) };
      return resultResponse(id, await service.coord.acquire(a, conn?.closed));
    }
    case "release": {
      const w = { op: "release" as const, lock: req.lock, token: req.token, client: ref(req) };
      return resultResponse(id, await service.write(w));
    }
    case "cancel_wait": {
      const c = { lock: req.lock, session: req.session, client: ref(req) };
      return resultResponse(id, await service.coord.cancelWait(c));
    }
    case "master":
      return { type: "master", id, master: service.coord.masterInfo() };
    case "watch":
      return watch(req, conn);
    case "unwatch":
      conn?.watches.unwatch(req.watch);
      return { type: "ok", id };
  }
}

function watch(
  req: Extract<ClientRequest, { type: "watch" }>,
  conn: ConnectionContext | undefined,
): ClientResponse | null {
  const { id } = req;
  if (!conn) return { type: "error", id, code: "bad_request", message: "watch needs a connection" };
  const started = conn.watches.start(id, req.selector, req.fromRevision, req.prevValue);
  return started.ok ? null : { type: "error", id, code: started.code, message: started.message };
}

function badTtl(id: number, ttlMs: number): ClientResponse {
  const message = `ttl ${ttlMs} ms: a session's TTL is ${MIN_SESSION_TTL_MS} to ${MAX_SESSION_TTL_MS} ms`;
  return { type: "error", id, code: "bad_request", message };
}

function noSession(id: number, session?: number): ClientResponse {
  const which = session === undefined ? "the session" : `session ${session}`;
  return { type: "error", id, code: "no_session", message: `${which} does not exist or has ended` };
}

function notMaster(id: number, master: number | undefined): ClientResponse {
  const message =
    master === undefined ? "this rank is not the master; no master known" : `ask rank ${master}`;
  return master === undefined
    ? { type: "error", id, code: "not_master", message }
    : { type: "error", id, code: "not_master", message, master };
}

/** A state machine result as the response to the request `id`. */
export function resultResponse(id: number, r: KvResult): ClientResponse {
  switch (r.kind) {
    case "written":
      return { type: "written", id, version: r.version };
    case "deleted":
      return { type: "deleted", id, version: r.version };
    case "session":
      return { type: "session", id, session: r.session, ttlMs: r.ttlMs };
    case "granted":
      return { type: "granted", id, token: r.token };
    case "session_closed":
    case "released":
    case "cancelled":
      return { type: "ok", id };
    case "error":
      return errorResponse(id, r);
    case "expired":
    case "master":
    case "sessions_expired":
    case "queued":
      return { type: "error", id, code: "internal", message: `unexpected result ${r.kind}` };
  }
}

function errorResponse(id: number, r: Extract<KvResult, { kind: "error" }>): ClientResponse {
  const error = (code: Extract<ClientResponse, { type: "error" }>["code"], message: string) =>
    ({ type: "error", id, code, message }) as const;
  switch (r.code) {
    case "version_mismatch":
      return { ...error("version_mismatch", "version mismatch"), version: r.version ?? 0 };
    case "not_found":
      return error("not_found", "no such key");
    case "stale_request":
      return error("stale_request", "request number below what the server remembers");
    case "no_session":
      return noSession(id);
    case "lock_held":
      return { ...error("lock_held", "the lock is held"), version: r.version ?? 0 };
    case "not_holder":
      return error("not_holder", "that token does not hold the lock");
    case "fence_failed":
      return error("fence_failed", "the fencing token no longer holds the lock: nothing written");
    case "not_master":
      return notMaster(id, undefined);
    case "bad_ttl":
      return error(
        "bad_request",
        `a session's TTL is ${MIN_SESSION_TTL_MS} to ${MAX_SESSION_TTL_MS} ms`,
      );
    case "limit":
      return error("busy", "a server table is full (sessions or waiters); try later");
    case "bad_command":
      return error("bad_request", "the command was refused as malformed");
  }
}
