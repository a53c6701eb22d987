// How many descriptors this process may hold (RLIMIT_NOFILE's soft limit), and how a rank shares
// them out: a reserve for its files, its standard streams and its connections to peers comes
// first; what is left caps the connections its ports accept, so a flood of new connections is
// refused before the rank runs out of descriptors for the work it must keep doing.
import { readFileSync } from "node:fs";

/** Used when the limit cannot be read (not Linux): the usual soft default. */
const UNKNOWN_LIMIT = 1024;

/** The soft limit on open files, from /proc/self/limits (Linux), or 1024. */
export function openFileLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return UNKNOWN_LIMIT;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return UNKNOWN_LIMIT;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]) || UNKNOWN_LIMIT;
}

/** Descriptors a rank of `ranks` keeps for itself: files (WAL, snapshot, logs, status), standard
 * streams, and an outgoing and an inbound connection per peer with room to reconnect. */
export function reservedDescriptors(ranks: number): number {
  return 64 + 4 * ranks;
}

export interface PortShares {
  peer: number;
  client: number;
  text: number;
}

/**
 * The most connections each port may hold at once, within `limit` descriptors: the peer port
 * gets `peer`, the client port up to `client` and the text port up to `text` of what remains
 * (shared 3:1 when both want more than there is). Null when not even the reserve fits.
 */
export function shareDescriptors(
  limit: number,
  ranks: number,
  want: PortShares,
): PortShares | null {
  const left = limit - reservedDescriptors(ranks) - want.peer;
  if (left < 2) return null;
  if (want.client + want.text <= left) return want;
  const text = Math.max(1, Math.min(want.text, Math.floor(left / 4)));
  return { peer: want.peer, client: Math.max(1, Math.min(want.client, left - text)), text };
}
