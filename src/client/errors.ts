// The client library's typed errors: every server answer that is not a result, and every way a
// call can end without one, is one of these classes (test with instanceof, or switch on `code`).

export type KvErrorCode =
  | "not_found"
  | "version_mismatch"
  | "timeout"
  | "too_large"
  | "unauthenticated"
  | "bad_request"
  | "unavailable"
  | "internal"
  | "too_many_requests"
  | "no_session"
  | "lock_held"
  | "not_holder"
  | "fence_failed"
  | "not_master"
  | "compacted"
  | "aborted";

export class KvError extends Error {
  override name = "KvError";
  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The key does not exist (or has expired); for cas and delete: nothing was written. */
export class NotFound extends KvError {
  override name = "NotFound";
  constructor(message: string) {
    super("not_found", message);
  }
}

/** cas found another version: nothing was written. `currentVersion` is the key's version then. */
export class VersionMismatch extends KvError {
  override name = "VersionMismatch";
  constructor(
    message: string,
    readonly currentVersion: number | undefined,
  ) {
    super("version_mismatch", message);
  }
}

/** No answer within the call's timeout. A write's outcome is then unknown: it may have been
 * applied (a retry with the same client is still applied at most once). */
export class Timeout extends KvError {
  override name = "Timeout";
  constructor(message: string) {
    super("timeout", message);
  }
}

/** A key or value over a limit (the client's or the server's); nothing was written. */
export class TooLarge extends KvError {
  override name = "TooLarge";
  constructor(message: string) {
    super("too_large", message);
  }
}

/** The server refused the auth token (or wanted one): every pending call fails with this. */
export class Unauthenticated extends KvError {
  override name = "Unauthenticated";
  constructor(message: string) {
    super("unauthenticated", message);
  }
}

/** The request is malformed (an empty key, a negative ttl...): nothing was written. */
export class BadRequest extends KvError {
  override name = "BadRequest";
  constructor(message: string) {
    super("bad_request", message);
  }
}

/** No endpoint could be reached before the call's timeout, or the client was closed. */
export class Unavailable extends KvError {
  override name = "Unavailable";
  constructor(message: string) {
    super("unavailable", message);
  }
}

/** The server failed, or answered something this client does not understand. */
export class Internal extends KvError {
  override name = "Internal";
  constructor(message: string) {
    super("internal", message);
  }
}

/** A resent write that the server had already forgotten (stale_request): whether its first copy
 * was applied is unknown. An Internal error; acquires are retried under a new request number. */
export class ForgottenRequest extends Internal {
  override name = "ForgottenRequest";
}

/** More calls are waiting than the client's queue holds (see ConnectOptions.maxQueued). */
export class TooManyRequests extends KvError {
  override name = "TooManyRequests";
  constructor(message: string) {
    super("too_many_requests", message);
  }
}

/** The session does not exist or has ended (expired, closed; or the library saw its keepalives
 * go unanswered for its TTL and stopped using it): nothing was done. */
export class NoSession extends KvError {
  override name = "NoSession";
  constructor(message: string) {
    super("no_session", message);
  }
}

/** tryAcquire: another session holds the lock. `holderToken` is the holder's fencing token. */
export class LockHeldError extends KvError {
  override name = "LockHeldError";
  constructor(
    message: string,
    readonly holderToken: number | undefined,
  ) {
    super("lock_held", message);
  }
}

/** release: that token does not hold the lock (released already, or its session ended). */
export class NotHolderError extends KvError {
  override name = "NotHolderError";
  constructor(message: string) {
    super("not_holder", message);
  }
}

/** A write with `ifHolds`: the token no longer holds the lock, so nothing was written. */
export class FenceError extends KvError {
  override name = "FenceError";
  constructor(message: string) {
    super("fence_failed", message);
  }
}

/** Only the master answers this (session keepalives); `masterRank` when the rank knew it. */
export class NotMaster extends KvError {
  override name = "NotMaster";
  constructor(
    message: string,
    readonly masterRank: number | undefined,
  ) {
    super("not_master", message);
  }
}

/** A watch asked for revisions the server no longer keeps: `oldestRevision` is the oldest it
 * has. Read the current state (get / range) and watch again from after it. */
export class CompactedError extends KvError {
  override name = "CompactedError";
  constructor(
    message: string,
    readonly oldestRevision: number,
  ) {
    super("compacted", message);
  }
}

/** The call's AbortSignal fired (an acquire stops waiting: its place in the queue is given up). */
export class AbortError extends KvError {
  override name = "AbortError";
  constructor(message: string) {
    super("aborted", message);
  }
}
