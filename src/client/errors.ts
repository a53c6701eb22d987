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
  | "too_many_requests";

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

/** More calls are waiting than the client's queue holds (see ConnectOptions.maxQueued). */
export class TooManyRequests extends KvError {
  override name = "TooManyRequests";
  constructor(message: string) {
    super("too_many_requests", message);
  }
}
