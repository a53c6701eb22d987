// The KvMachine's recent changes, for watches: every put, delete and expiry with its revision, in
// log order, so a watcher can resume from any revision still kept. The history is part of the
// replicated state (in snapshots, trimmed by the same rule on every rank), so "compacted" means
// the same thing on every rank and a watcher can resume on any of them.
import type { ByteReader, ByteWriter } from "./byte_codec.js";
import { MAX_KEY_BYTES } from "./commands.js";
import { refuse } from "./kv_tables.js";

export type KvEventKind = "put" | "delete" | "expire";
const KINDS: readonly KvEventKind[] = ["put", "delete", "expire"];

/** A change to one key. value: the new value (put); prevValue: the value before, when there was
 * one. Both must not be modified (they are the state's). */
export interface KvEvent {
  revision: number;
  kind: KvEventKind;
  key: string;
  value?: Uint8Array;
  prevValue?: Uint8Array;
}

export interface HistoryLimits {
  maxEvents: number;
  maxBytes: number;
}
export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { maxEvents: 100_000, maxBytes: 32 << 20 };

export type EventsPage = { events: KvEvent[]; next: number } | { compacted: number };

function eventBytes(e: KvEvent): number {
  return 32 + e.key.length * 3 + (e.value?.length ?? 0) + (e.prevValue?.length ?? 0);
}

export class EventHistory {
  private events: KvEvent[] = [];
  private head = 0;
  private bytes = 0;
  /** Every event of a revision at or above this one is kept. */
  private keptFrom = 1;

  constructor(private readonly limits: HistoryLimits = DEFAULT_HISTORY_LIMITS) {}

  /** The oldest revision a watch may start from. */
  get oldestRevision(): number {
    return this.keptFrom;
  }

  get length(): number {
    return this.events.length - this.head;
  }

  /** The events of one revision (in the order they happened), then trims whole revisions from
   * the old end while over a limit. */
  append(batch: readonly KvEvent[]): void {
    for (const e of batch) {
      this.events.push(e);
      this.bytes += eventBytes(e);
    }
    while (this.length > this.limits.maxEvents || this.bytes > this.limits.maxBytes) {
      const first = this.events[this.head] as KvEvent;
      this.dropRevision(first.revision);
    }
    if (this.head > 4096 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  private dropRevision(revision: number): void {
    for (let e = this.events[this.head]; e && e.revision === revision; e = this.events[this.head]) {
      this.bytes -= eventBytes(e);
      this.head++;
    }
    this.keptFrom = revision + 1;
  }

  /** Events at or after `from` whose key matches, whole revisions only, stopping once at least
   * maxEvents were collected; next: the revision to ask for next. `upTo` is the machine's
   * current revision (next is past it when everything was read). */
  since(from: number, match: (key: string) => boolean, maxEvents: number, upTo: number) {
    if (from < this.keptFrom) return { compacted: this.keptFrom } satisfies EventsPage;
    const out: KvEvent[] = [];
    let i = this.firstAtOrAfter(from);
    while (i < this.events.length) {
      const revision = (this.events[i] as KvEvent).revision;
      if (out.length >= maxEvents) return { events: out, next: revision } satisfies EventsPage;
      for (let e = this.events[i]; e && e.revision === revision; e = this.events[++i]) {
        if (match(e.key)) out.push(e);
      }
    }
    return { events: out, next: Math.max(from, upTo + 1) } satisfies EventsPage;
  }

  private firstAtOrAfter(revision: number): number {
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid] as KvEvent).revision < revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  write(w: ByteWriter): void {
    w.nat(this.keptFrom);
    w.u32(this.length);
    for (let i = this.head; i < this.events.length; i++) {
      const e = this.events[i] as KvEvent;
      w.nat(e.revision);
      w.u8(KINDS.indexOf(e.kind));
      w.str(e.key);
      w.u8((e.value ? 1 : 0) | (e.prevValue ? 2 : 0));
      if (e.value) w.bytes(e.value);
      if (e.prevValue) w.bytes(e.prevValue);
    }
  }

  /** The inverse of write (events must be in order and within the limits). */
  read(r: ByteReader, taken: number, maxValueBytes: number): void {
    this.keptFrom = r.nat("kept from");
    const n = r.u32("event count");
    if (n > this.limits.maxEvents) refuse(`${n} events`);
    let previous = this.keptFrom;
    for (let i = 0; i < n; i++) {
      const revision = r.nat("revision");
      if (revision < previous || revision > taken + 1) refuse(`event ${i} out of order`);
      previous = revision;
      const kind = KINDS[r.u8("event kind")];
      if (!kind) refuse(`event ${i}: kind`);
      const e: KvEvent = { revision, kind, key: r.str("key", 1, MAX_KEY_BYTES) };
      const flags = r.u8("event flags");
      if (flags > 3) refuse(`event ${i}: flags`);
      if (flags & 1) e.value = r.bytes("value", maxValueBytes);
      if (flags & 2) e.prevValue = r.bytes("previous value", maxValueBytes);
      this.events.push(e);
      this.bytes += eventBytes(e);
    }
  }
}
