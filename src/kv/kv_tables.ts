// The KvMachine's two side tables: the expiry heap and the exactly-once client table (with its
// snapshot reader). Deterministic like the machine: nothing here reads a clock.
import {
  ByteReader,
  checkString,
  MAX_CLIENT_ID_BYTES,
  readResult,
  type ClientRef,
  type KvResult,
} from "./commands.js";

export const MAX_RESULTS_PER_CLIENT = 1024;
export const MAX_CLIENTS = 100_000;

/** A snapshot the machine cannot restore (damaged, another format, or inconsistent). */
export class KvSnapshotError extends Error {
  override name = "KvSnapshotError";
}

export function refuse(why: string): never {
  throw new KvSnapshotError(`kv snapshot refused: ${why}`);
}

const STALE: KvResult = { kind: "error", code: "stale_request" };

/** A min-heap of (expiresAtMs, key) with lazy deletion: an item whose key no longer expires at
 * that time is skipped when it surfaces, so overwrites and deletes cost nothing here. */
export class ExpiryHeap {
  items: { at: number; key: string }[] = [];

  push(at: number, key: string): void {
    const h = this.items;
    let i = h.push({ at, key }) - 1;
    for (let p = (i - 1) >> 1; i > 0 && (h[p] as ExpiryItem).at > at; i = p, p = (i - 1) >> 1) {
      h[i] = h[p] as ExpiryItem;
      h[p] = { at, key };
    }
  }

  pop(): void {
    const h = this.items;
    const last = h.pop() as ExpiryItem;
    if (h.length === 0) return;
    let i = 0;
    for (let c = 1; c < h.length; i = c, c = 2 * i + 1) {
      if (c + 1 < h.length && (h[c + 1] as ExpiryItem).at < (h[c] as ExpiryItem).at) c++;
      if ((h[c] as ExpiryItem).at >= last.at) break;
      h[i] = h[c] as ExpiryItem;
    }
    h[i] = last;
  }
}
type ExpiryItem = ExpiryHeap["items"][number];

interface ClientRecord {
  /** Requests below it are forgotten: a repeat of one is stale_request. */
  floor: number;
  /** The seq of the client's last command (the table is kept in this order). */
  lastActiveSeq: number;
  results: Map<number, KvResult>;
}

/** Per client id the results of its requests at or above its floor. The Map's order is the order
 * of lastActiveSeq (touching a client moves it last), so the first one is the least recently
 * active: log position orders like log time, and breaks its ties the same way on every rank. */
export class ClientTable {
  clients = new Map<string, ClientRecord>();

  /** The answer to a request already seen (kept, or forgotten: stale), else undefined. */
  check(ref: ClientRef, seq: number): KvResult | undefined {
    const rec = this.clients.get(ref.id);
    if (!rec) return undefined;
    this.touch(ref.id, rec, seq);
    raiseFloor(rec, ref.low);
    const kept = rec.results.get(ref.req);
    if (kept) return kept;
    return ref.req < rec.floor ? STALE : undefined;
  }

  remember(ref: ClientRef, seq: number, result: KvResult): void {
    let rec = this.clients.get(ref.id);
    if (!rec) {
      rec = { floor: ref.low, lastActiveSeq: seq, results: new Map() };
      this.clients.set(ref.id, rec);
      if (this.clients.size > MAX_CLIENTS) {
        const oldest = this.clients.keys().next().value as string;
        this.clients.delete(oldest);
      }
    }
    rec.results.set(ref.req, result);
    if (rec.results.size > MAX_RESULTS_PER_CLIENT) {
      // The oldest request goes, and the floor with it: a retry of it must not apply again.
      const oldest = Math.min(...rec.results.keys());
      raiseFloor(rec, oldest + 1);
    }
  }

  private touch(id: string, rec: ClientRecord, seq: number): void {
    rec.lastActiveSeq = seq;
    this.clients.delete(id);
    this.clients.set(id, rec);
  }
}

function raiseFloor(rec: ClientRecord, floor: number): void {
  if (floor <= rec.floor) return;
  rec.floor = floor;
  for (const req of rec.results.keys()) if (req < floor) rec.results.delete(req);
}

export function readClients(r: ByteReader, taken: number): ClientTable {
  const count = r.u32("client count");
  if (count > MAX_CLIENTS) refuse(`${count} clients`);
  const table = new ClientTable();
  let previousSeq = -1;
  for (let i = 0; i < count; i++) {
    const id = r.str("client id", 1, MAX_CLIENT_ID_BYTES);
    if (checkString("client id", id, MAX_CLIENT_ID_BYTES) || table.clients.has(id)) {
      refuse(`client ${i}: bad or repeated id`);
    }
    const floor = r.nat("floor");
    const lastActiveSeq = r.nat("last active seq");
    if (lastActiveSeq <= previousSeq || lastActiveSeq > taken) refuse(`client ${i}: activity`);
    previousSeq = lastActiveSeq;
    const n = r.u32("result count");
    if (n > MAX_RESULTS_PER_CLIENT) refuse(`client ${i}: ${n} results`);
    const results = new Map<number, KvResult>();
    let previousReq = -1;
    for (let j = 0; j < n; j++) {
      const req = r.nat("req");
      if (req <= previousReq || req < floor) refuse(`client ${i}: req ${req} out of order`);
      previousReq = req;
      results.set(req, readResult(r));
    }
    table.clients.set(id, { floor, lastActiveSeq, results });
  }
  return table;
}
