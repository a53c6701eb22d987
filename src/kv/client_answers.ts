// What the client port answers to each request: the service's result as a wire response. Never
// rejects: every failure becomes an error response under the request's id.
import type { ClientRequest, ClientResponse, WireErrorCode } from "./client_wire.js";
import type { KvResult } from "./commands.js";
import { KvServiceError, type KvService, type KvWrite } from "./service.js";

/** Most entries one range answer holds (a client pages with `more`). */
export const MAX_RANGE_ENTRIES = 1000;

export async function answerRequest(
  service: KvService,
  req: ClientRequest,
  clientId: string,
): Promise<ClientResponse> {
  try {
    return await answer(service, req, clientId);
  } catch (e) {
    return failed(req.id, e);
  }
}

async function answer(
  service: KvService,
  req: ClientRequest,
  clientId: string,
): Promise<ClientResponse> {
  const { id } = req;
  switch (req.type) {
    case "hello":
      return { type: "error", id, code: "bad_request", message: "hello was already said" };
    case "status":
      return { type: "status", id, json: JSON.stringify(service.status()) };
    case "get":
    case "getm": {
      const found = await service.read(req.key, req.stale);
      if (!found) return { type: "error", id, code: "not_found", message: `no key ${req.key}` };
      return {
        type: "value",
        id,
        value: found.value,
        version: found.version,
        expiresInMs: left(service, found.expiresAtMs),
      };
    }
    case "range":
      return range(service, req);
    case "put":
    case "cas":
    case "delete":
      return written(id, await write(service, req, clientId));
  }
}

function write(
  service: KvService,
  req: Extract<ClientRequest, { type: "put" | "cas" | "delete" }>,
  clientId: string,
): Promise<KvResult> | KvResult {
  const client = { id: clientId, req: req.req, low: req.low };
  if (req.type !== "delete" && req.value.length > service.opts.maxValueBytes)
    throw new KvServiceError(
      "too_large",
      `value of ${req.value.length} bytes: the limit is ${service.opts.maxValueBytes}`,
    );
  let w: KvWrite;
  if (req.type === "put")
    w = { op: "put", key: req.key, value: req.value, ttlMs: req.ttlMs, client };
  else if (req.type === "cas")
    w = {
      op: "cas",
      key: req.key,
      version: req.version,
      value: req.value,
      ttlMs: req.ttlMs,
      client,
    };
  else w = { op: "delete", key: req.key, client };
  return service.write(w);
}

function written(id: number, r: KvResult): ClientResponse {
  switch (r.kind) {
    case "written":
      return { type: "written", id, version: r.version };
    case "deleted":
      return { type: "deleted", id, version: r.version };
    case "expired":
      return { type: "error", id, code: "internal", message: "unexpected result" };
    case "error":
      if (r.code === "version_mismatch")
        return {
          type: "error",
          id,
          code: "version_mismatch",
          message: "version mismatch",
          version: r.version ?? 0,
        };
      if (r.code === "not_found")
        return { type: "error", id, code: "not_found", message: "no such key" };
      if (r.code === "stale_request")
        return {
          type: "error",
          id,
          code: "stale_request",
          message: "request number below what the server remembers",
        };
      return {
        type: "error",
        id,
        code: "bad_request",
        message: "the command was refused as malformed",
      };
  }
}

async function range(
  service: KvService,
  req: Extract<ClientRequest, { type: "range" }>,
): Promise<ClientResponse> {
  const limit = req.limit === 0 ? MAX_RANGE_ENTRIES : Math.min(req.limit, MAX_RANGE_ENTRIES);
  const query =
    "prefix" in req.selector
      ? { prefix: req.selector.prefix }
      : { start: req.selector.start, end: req.selector.end };
  const found = await service.range({ ...query, limit: limit + 1 }, req.stale);
  const entries = found.slice(0, limit).map((e) => ({
    key: e.key,
    value: e.value,
    version: e.version,
    expiresInMs: left(service, e.expiresAtMs),
  }));
  return { type: "entries", id: req.id, entries, more: found.length > limit };
}

/** Milliseconds a key has left (0: it never expires; at least 1 while it is there). */
function left(service: KvService, expiresAtMs: number): number {
  return expiresAtMs > 0 ? Math.max(1, expiresAtMs - service.nowMs()) : 0;
}

function failed(id: number, e: unknown): ClientResponse {
  const code: WireErrorCode =
    e instanceof KvServiceError
      ? e.code === "too_large"
        ? "too_large"
        : e.code === "unknown_outcome"
          ? "internal"
          : "not_ready"
      : "internal";
  const message = e instanceof Error ? e.message : String(e);
  return { type: "error", id, code, message };
}
