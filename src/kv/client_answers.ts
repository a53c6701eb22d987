// What the client port answers to each request: the service's result as a wire response. Never
// rejects: every failure becomes an error response under the request's id.
import type { ClientRequest, ClientResponse, WireErrorCode } from "./client_wire.js";
import type { KvResult } from "./commands.js";
import { answerCoord, resultResponse, type ConnectionContext } from "./coord_service_answers.js";
import { KvServiceError, type KvService, type KvWrite } from "./service.js";

export type { ConnectionContext } from "./coord_service_answers.js";

/** Most entries one range answer holds (a client pages with `more`). */
export const MAX_RANGE_ENTRIES = 1000;

/** The answer to a request; null when the request answered itself (a watch sends its own frames
 * on `conn`). */
export async function answerRequest(
  service: KvService,
  req: ClientRequest,
  clientId: string,
  conn?: ConnectionContext,
): Promise<ClientResponse | null> {
  try {
    return await answer(service, req, clientId, conn);
  } catch (e) {
    return failed(req.id, e);
  }
}

async function answer(
  service: KvService,
  req: ClientRequest,
  clientId: string,
  conn: ConnectionContext | undefined,
): Promise<ClientResponse | null> {
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
    default:
      return answerCoord(service, req, clientId, conn);
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
  const fence = req.ifHolds ? { ifHolds: req.ifHolds } : {};
  const owner = req.session !== undefined && req.session > 0 ? { session: req.session } : {};
  let w: KvWrite;
  if (req.type === "put")
    w = { op: "put", key: req.key, value: req.value, ttlMs: req.ttlMs, client, ...owner, ...fence };
  else if (req.type === "cas")
    w = {
      op: "cas",
      key: req.key,
      version: req.version,
      value: req.value,
      ttlMs: req.ttlMs,
      client,
      ...owner,
      ...fence,
    };
  else w = { op: "delete", key: req.key, client, ...fence };
  return service.write(w);
}

function written(id: number, r: KvResult): ClientResponse {
  return resultResponse(id, r);
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
