// The client port's credentials from yasp-kv's flags: --client-cert/--client-key (TLS),
// --client-ca (client certificates required), --auth-token-file. Read and checked at start;
// a mistake is one line (UsageError).
import { readFileSync } from "node:fs";
import type { ClientSecurity } from "../kv/client_server.js";
import { UsageError } from "./config.js";

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/** --client-cert/--client-key/--client-ca/--auth-token-file, read and checked at start. */
export function loadClientSecurity(args: {
  "client-cert"?: string;
  "client-key"?: string;
  "client-ca"?: string;
  "auth-token-file"?: string;
}): ClientSecurity {
  const out: ClientSecurity = {};
  const cert = args["client-cert"];
  const key = args["client-key"];
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--client-cert and --client-key go together");
  if (args["client-ca"] !== undefined && cert === undefined)
    throw new UsageError("--client-ca needs --client-cert and --client-key (TLS)");
  if (cert !== undefined && key !== undefined) {
    out.tls = { cert: readPem(cert, "certificate"), key: readPem(key, "private key") };
    if (args["client-ca"] !== undefined) out.tls.ca = readPem(args["client-ca"], "CA certificate");
  }
  const tokenFile = args["auth-token-file"];
  if (tokenFile !== undefined) {
    const token = readPem(tokenFile, "auth token file").toString("utf8").split(/\r?\n/)[0] ?? "";
    if (token.length < 8)
      throw new UsageError(`the token in ${tokenFile} is shorter than 8 characters`);
    out.token = Buffer.from(token, "utf8");
  }
  return out;
}
