// Snapshot transfer: a rank that needs seqs its peers no longer hold (they are under a snapshot,
// e.g. after its data directory was wiped) gets the snapshot itself. The serving side answers such
// a fetch with the first chunk of its latest snapshot; the receiver pulls the rest chunk by chunk
// (snapFetch with the offset it has reached), so neither side holds more than the snapshot and a
// transfer cut off resumes where it stopped. A transfer that stalls for a timeout starts again
// through repair's next fetch, perhaps from another peer; a snapshot replaced on the serving side restarts it from that one.
import { crc32 } from "node:zlib";
import { Deadline } from "./deadline.js";
import type { Effect } from "./effects.js";
import { SNAP_CHUNK_BYTES, type SnapChunkMsg, type SnapFetchMsg } from "./messages.js";

export interface Snapshot {
  /** The last seq the snapshot covers. */
  seq: number;
  data: Uint8Array;
}

/** The serving side: the latest snapshot this rank took or installed. */
export class SnapshotServer {
  private current: (Snapshot & { crc: number }) | null = null;

  constructor(private readonly me: number) {}

  get seq(): number {
    return this.current?.seq ?? -1;
  }

  hold(snapshot: Snapshot): void {
    if (snapshot.seq > this.seq) this.current = { ...snapshot, crc: crc32(snapshot.data) };
  }

  /** A chunk of the held snapshot at offset (or its first chunk if the asker named another). */
  chunk(to: number, seq: number, offset: number, out: Effect[]): void {
    const s = this.current;
    if (!s) return;
    const at = s.seq === seq && offset <= s.data.length ? offset : 0;
    const msg: SnapChunkMsg = {
      t: "snapChunk",
      from: this.me,
      seq: s.seq,
      total: s.data.length,
      crc: s.crc,
      offset: at,
      data: s.data.subarray(at, Math.min(s.data.length, at + SNAP_CHUNK_BYTES)),
    };
    out.push({ kind: "send", to, msg });
  }
}

export interface ReceiverStats {
  snapshotsInstalled: number;
  snapshotChunks: number;
  snapshotsRefused: number;
}

/** The receiving side: one transfer at a time. */
export class SnapshotReceiver {
  private transfer: { from: number; seq: number; total: number; crc: number } | null = null;
  private parts: Uint8Array[] = [];
  private got = 0;
  readonly stalled = new Deadline("snapshot-stalled");
  readonly stats: ReceiverStats = { snapshotsInstalled: 0, snapshotChunks: 0, snapshotsRefused: 0 };

  constructor(
    private readonly me: number,
    private readonly timeoutUs: number,
    /** Snapshots larger than this are refused (memory stays bounded). */
    private readonly maxBytes: number,
  ) {}

  /** A chunk arrived: keep it if it continues the transfer (or starts one worth having: a
   * snapshot past commitIndex). Returns the whole snapshot once its last chunk is in and checks. */
  onChunk(msg: SnapChunkMsg, commitIndex: number, nowUs: number, out: Effect[]): Snapshot | null {
    if (msg.seq < commitIndex) return null; // nothing this rank lacks
    const t = this.transfer;
    if (!t || t.seq !== msg.seq || t.from !== msg.from) {
      if (msg.offset !== 0 || msg.total > this.maxBytes) return this.refuse(msg, out);
      this.transfer = { from: msg.from, seq: msg.seq, total: msg.total, crc: msg.crc };
      this.parts = [];
      this.got = 0;
    }
    if (msg.offset !== this.got) return null; // a repeat or out of order: the next ask fixes it
    this.stats.snapshotChunks++;
    this.parts.push(msg.data);
    this.got += msg.data.length;
    this.stalled.arm(nowUs + this.timeoutUs);
    if (this.got < msg.total && msg.data.length > 0) {
      this.ask(msg.from, msg.seq, this.got, out);
      return null;
    }
    return this.finish(msg, out);
  }

  /** A transfer silent for a timeout is dropped: the next fetch (repair retries them, turning
   * to other peers) brings a first chunk again. */
  onTime(nowUs: number): void {
    if (!this.transfer || !this.stalled.fired(nowUs)) return;
    this.transfer = null;
    this.parts = [];
    this.stalled.disarm();
  }

  private finish(msg: SnapChunkMsg, out: Effect[]): Snapshot | null {
    const data = Buffer.concat(this.parts, this.got);
    this.transfer = null;
    this.parts = [];
    this.stalled.disarm();
    if (data.length !== msg.total || crc32(data) !== msg.crc) return this.refuse(msg, out);
    this.stats.snapshotsInstalled++;
    return { seq: msg.seq, data };
  }

  private refuse(msg: SnapChunkMsg, out: Effect[]): null {
    this.stats.snapshotsRefused++;
    out.push({
      kind: "warn",
      line: `rank ${this.me}: snapshot at seq ${msg.seq} from rank ${msg.from} refused (${msg.total} bytes, or its checksum failed)`,
    });
    return null;
  }

  private ask(to: number, seq: number, offset: number, out: Effect[]): void {
    const msg: SnapFetchMsg = { t: "snapFetch", from: this.me, seq, offset };
    out.push({ kind: "send", to, msg });
  }
}
