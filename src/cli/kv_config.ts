// yasp-kv's cluster: each rank's peer address and, for clients, its client and text addresses.
// From -n/--base-port (peer P+i, client P+1000+i, text P+2000+i when --text-port asks for one)
// or from a cluster file whose entries are "host:port" (the peer; client and text by the same
// offsets) or {"peer": "h:p", "client": "h:p", "text": "h:p"}. Mistakes become one line.
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { PeerAddress } from "../io/tcp_transport.js";
import { parseAddress, UsageError } from "./config.js";

export interface KvAddresses {
  peer: PeerAddress;
  client: PeerAddress;
  /** The Raft KV seed's text protocol: served only when configured (it has no authentication). */
  text: PeerAddress | null;
}

export const CLIENT_OFFSET = 1000;
export const TEXT_OFFSET = 2000;

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, { error: "expected host:port" });
const entry = z.union([
  hostPort,
  z.strictObject({ peer: hostPort, client: hostPort.optional(), text: hostPort.optional() }),
]);
const kvClusterFile = z
  .array(entry)
  .min(1, { error: "the cluster needs at least one rank" })
  .max(64);

function offset(a: PeerAddress, by: number, what: string): PeerAddress {
  if (a.port + by > 65535)
    throw new UsageError(`${what} port of ${a.host}:${a.port} would be ${a.port + by}: too high`);
  return { host: a.host, port: a.port + by };
}

export function loadKvCluster(path: string, textWanted: boolean): KvAddresses[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? "not JSON";
    throw new UsageError(`cannot read cluster file ${path}: ${why}`);
  }
  const parsed = kvClusterFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at [${issue.path.join(".")}]` : "";
    throw new UsageError(
      `cluster file ${path}${where}: ${issue?.message ?? "invalid"} (expected a list of "host:port" or {"peer", "client", "text"})`,
    );
  }
  return parsed.data.map((e) => {
    if (typeof e === "string") {
      const peer = parseAddress(e);
      return {
        peer,
        client: offset(peer, CLIENT_OFFSET, "client"),
        text: textWanted ? offset(peer, TEXT_OFFSET, "text") : null,
      };
    }
    const peer = parseAddress(e.peer);
    return {
      peer,
      client: e.client ? parseAddress(e.client) : offset(peer, CLIENT_OFFSET, "client"),
      text: e.text ? parseAddress(e.text) : textWanted ? offset(peer, TEXT_OFFSET, "text") : null,
    };
  });
}

export function loopbackKvCluster(
  n: number,
  basePort: number,
  host: string,
  textWanted: boolean,
): KvAddresses[] {
  if (basePort + TEXT_OFFSET + n - 1 > 65535)
    throw new UsageError(`--base-port ${basePort} leaves no room for ${n} ranks' client ports`);
  return Array.from({ length: n }, (_, i) => ({
    peer: { host, port: basePort + i },
    client: { host, port: basePort + CLIENT_OFFSET + i },
    text: textWanted ? { host, port: basePort + TEXT_OFFSET + i } : null,
  }));
}
