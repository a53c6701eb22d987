// Interning of instance ids straight from the log bytes.
//
// Every commit line names an instance, so a log set has millions of id
// occurrences but only about a million distinct ids. Making a JS string for each
// occurrence and looking it up in a Map was the parser's main cost, so ids are
// hashed and compared as bytes in an open-addressing table, and a string is only
// decoded when a report needs the name. Ids therefore compare byte-for-byte as
// written; this differs from comparing decoded strings only for malformed UTF-8.
//
// With a million ids the table is far larger than the CPU caches, and each lookup
// costs several cache misses. Ranks normally commit the same instance at the same
// seq, so the id last seen at a seq is tried first: those checks walk memory in
// order and are cheap.

const EMPTY = -1;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Seqs beyond this get no hint (a hint table that large would waste memory). */
const MAX_HINTED_SEQ = 1 << 26;
/** Nor do seqs far beyond the number of ids (a sparse seq would waste the table). */
const HINT_SLACK = 1 << 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/** Gives each distinct instance id a dense integer (0, 1, 2, ...), shared by all ranks. */
export class InstanceNames {
  /** the bytes of every distinct id, back to back */
  private arena = new Uint8Array(1 << 16);
  private arenaUsed = 0;
  /** per id: where its bytes start in the arena; id i ends where id i + 1 starts */
  private starts = new Int32Array(1024);
  /** (hash, id) pairs, open addressing; kept at most half full */
  private slots = new Int32Array(2 * 2048).fill(EMPTY);
  /** the id last interned for each seq, + 1 (0: none) */
  private idAtSeq = new Int32Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * The id's number, adding it if new. `bytes[start, end)` is the id as logged;
   * `seq`, if given, is the seq of the commit line naming it (a lookup hint).
   */
  internBytes(bytes: Uint8Array, start: number, end: number, seq = -1): number {
    const hinted = seq >= 0 && seq < this.idAtSeq.length ? (this.idAtSeq[seq] ?? 0) - 1 : EMPTY;
    if (hinted !== EMPTY && this.holds(hinted, bytes, start, end)) return hinted;
    const id = this.lookup(bytes, start, end);
    if (seq >= 0 && seq < MAX_HINTED_SEQ && seq < 2 * this.count + HINT_SLACK) {
      if (seq >= this.idAtSeq.length) this.idAtSeq = grown(this.idAtSeq, seq + 1);
      this.idAtSeq[seq] = id + 1;
    }
    return id;
  }

  intern(name: string): number {
    const bytes = encoder.encode(name);
    return this.internBytes(bytes, 0, bytes.length);
  }

  nameOf(id: number): string {
    if (id < 0 || id >= this.count) return `#${id}`;
    return decoder.decode(this.arena.subarray(this.starts[id], this.starts[id + 1]));
  }

  private lookup(bytes: Uint8Array, start: number, end: number): number {
    let hash = FNV_OFFSET;
    for (let position = start; position < end; position++)
      hash = Math.imul(hash ^ (bytes[position] ?? 0), FNV_PRIME);
    const mask = (this.slots.length >> 1) - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const id = this.slots[2 * slot + 1] ?? EMPTY;
      if (id === EMPTY) return this.add(bytes, start, end, hash, slot);
      if (this.slots[2 * slot] === hash && this.holds(id, bytes, start, end)) return id;
    }
  }

  private holds(id: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.starts[id] ?? 0;
    if ((this.starts[id + 1] ?? 0) - from !== end - start) return false;
    for (let offset = 0; offset < end - start; offset++) {
      if (this.arena[from + offset] !== bytes[start + offset]) return false;
    }
    return true;
  }

  private add(bytes: Uint8Array, start: number, end: number, hash: number, slot: number): number {
    const id = this.count;
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length)
      this.arena = grown(this.arena, this.arenaUsed + length);
    this.arena.set(bytes.subarray(start, end), this.arenaUsed);
    this.arenaUsed += length;
    if (id + 2 > this.starts.length) this.starts = grown(this.starts, id + 2);
    this.starts[id + 1] = this.arenaUsed;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = id;
    this.count++;
    if (this.count * 4 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = (slots.length >> 1) - 1;
    for (let old = 0; old < this.slots.length; old += 2) {
      const hash = this.slots[old] ?? 0;
      const id = this.slots[old + 1] ?? EMPTY;
      if (id === EMPTY) continue;
      let slot = hash & mask;
      while (slots[2 * slot + 1] !== EMPTY) slot = (slot + 1) & mask;
      slots[2 * slot] = hash;
      slots[2 * slot + 1] = id;
    }
    this.slots = slots;
  }
}

/** A copy of `array` with room for at least `needed` elements (doubling, so appends stay cheap). */
function grown<T extends Uint8Array | Int32Array>(array: T, needed: number): T {
  let capacity = array.length * 2;
  while (capacity < needed) capacity *= 2;
  const copy = new (array.constructor as new (length: number) => T)(capacity);
  copy.set(array);
  return copy;
}
