// What Bayou's processes say to each other. Peer frames travel between servers and clients (TCP or
// the simulator's network); every one names its sender by node number (the master numbers the
// processes it starts; script ids never reach the wire). Control frames go from the master to one
// process and back. Both are validated where they enter a process: a malformed frame is dropped
// with one line on stderr, never a crash.
import { z } from "zod";
import type { AntiEntropyBatch, AntiEntropyRequest } from "../server_core.js";
import { VersionVector } from "../vectors.js";

/** Longest song or URL a client may send (the script parser refuses longer ones first). */
export const MAX_TEXT = 4096;
/** Most items in one anti-entropy batch: a longer one is sent as a prefix (the log order keeps a
 * prefix meaningful) and the next session carries the rest. */
export const MAX_BATCH_ITEMS = 5000;
/** Most items a frame may carry: a retirement's last batch is not cut (it must be whole). */
const MAX_FRAME_ITEMS = 200_000;
/** Most servers a peer table or vector may name. */
export const MAX_SERVERS = 4096;

const text = z.string().min(1).max(MAX_TEXT);
const node = z.number().int().min(0).max(1_000_000);
/** A whole number from 0: stamps, CSNs, session and request numbers. */
const uint = z.number().int().min(0);
const entries = z.array(z.tuple([z.string().max(MAX_TEXT), uint])).max(MAX_SERVERS);

const op = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("put"), song: text, url: text }),
  z.object({ kind: z.literal("delete"), song: text }),
  z.object({ kind: z.literal("create") }),
  z.object({ kind: z.literal("retire") }),
]);
const clientOp = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("put"), song: text, url: text }),
  z.object({ kind: z.literal("delete"), song: text }),
]);
const write = z.object({
  server: z.string().max(MAX_TEXT),
  stamp: uint,
  csn: uint.nullable(),
  op,
});
const item = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("write"), write }),
  z.object({ kind: z.literal("commit"), server: z.string().max(MAX_TEXT), stamp: uint, csn: uint }),
]);
const request = z.object({ vector: entries, csn: uint });
const wireBatch = z.object({
  full: z
    .object({
      db: z.array(z.tuple([text, text])),
      o: entries,
      osn: uint,
      senderVector: entries,
    })
    .nullable(),
  items: z.array(item).max(MAX_FRAME_ITEMS),
  handoffPrimary: z.boolean(),
});
const readResult = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("value"), url: text, relevant: entries }),
  z.object({ kind: z.literal("err_key"), relevant: entries }),
  z.object({ kind: z.literal("err_dep") }),
]);

export const peerMsgSchema = z.discriminatedUnion("t", [
  /** Anti-entropy, sender → receiver: may I send you what you lack? (`have`: what I have.) */
  z.object({ t: z.literal("ae_open"), from: node, sid: uint, have: request, retire: z.boolean() }),
  /** Receiver → sender: what I have; or null, busy with another session (try later) or
   * already holding everything the sender has (nothing to do). */
  z.object({
    t: z.literal("ae_vector"),
    from: node,
    sid: uint,
    req: request.nullable(),
    busy: z.boolean(),
  }),
  /** Sender → receiver: what you lack, in my log's order (retire: my last batch). */
  z.object({
    t: z.literal("ae_batch"),
    from: node,
    sid: uint,
    batch: wireBatch,
    retire: z.boolean(),
  }),
  /** Receiver → sender: applied. */
  z.object({ t: z.literal("ae_done"), from: node, sid: uint }),
  /** A joining server → its creator, and the creator's answer (the new name and a batch). */
  z.object({ t: z.literal("join_req"), from: node }),
  z.object({
    t: z.literal("join_ok"),
    from: node,
    name: z.string().max(MAX_TEXT),
    batch: wireBatch,
  }),
  /** Client → server, and the answers. */
  z.object({ t: z.literal("c_write"), from: node, req: uint, op: clientOp, deps: entries }),
  z.object({ t: z.literal("c_read"), from: node, req: uint, song: text, deps: entries }),
  z.object({
    t: z.literal("c_written"),
    from: node,
    req: uint,
    write: z.object({ server: z.string().max(MAX_TEXT), stamp: uint }).nullable(),
  }),
  z.object({ t: z.literal("c_read_ok"), from: node, req: uint, result: readResult }),
]);

export type PeerMsg = z.infer<typeof peerMsgSchema>;
export type WireBatch = z.infer<typeof wireBatch>;
export type WireReadResult = z.infer<typeof readResult>;
export type ClientOp = z.infer<typeof clientOp>;

/** A batch as it crosses the wire (Maps and vectors as entry lists). */
export function batchToWire(b: AntiEntropyBatch): WireBatch {
  const full =
    b.full === null
      ? null
      : {
          db: [...b.full.base.db],
          o: b.full.base.o.entries(),
          osn: b.full.base.osn,
          senderVector: b.full.senderVector,
        };
  return { full, items: b.items, handoffPrimary: b.handoffPrimary };
}

export function batchFromWire(w: WireBatch): AntiEntropyBatch {
  const full =
    w.full === null
      ? null
      : {
          base: { db: new Map(w.full.db), o: new VersionVector(w.full.o), osn: w.full.osn },
          senderVector: w.full.senderVector,
        };
  return { full, items: w.items, handoffPrimary: w.handoffPrimary };
}

export type { AntiEntropyRequest };
