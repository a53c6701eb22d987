// Histories that are linearizable by construction, for the tests and for measuring the checker
// by hand (npx tsx checker/lincheck_generate.ts <ops per key> [keys] [clients] > h.jsonl; seed 1, 2%
// of writes unknown).
//
// Each client issues ops one after another with random gaps; each op gets a random interval and a
// linearization point inside it. The ops are then applied to real registers in the order of their
// linearization points, which decides what reads return and which cases succeed: whatever the
// intervals, that order is a valid linearization. Some writes end "unknown" (taking effect or not,
// at random); the client then goes on under a new id, as a recorder would after a timeout.
// Seeded, so that a failing test can be replayed.

export interface GenerateOptions {
  seed: number;
  opsPerKey: number;
  keys: number;
  clients: number;
  /** fraction of writes whose outcome is unknown (never returned) */
  unknownRate: number;
}

export interface RecordedOp {
  client: number;
  op: "write" | "read" | "cas" | "delete";
  key: string;
  value?: string | null;
  from?: string | null;
  to?: string | null;
  call: number;
  ret: number | null;
  status: "ok" | "fail" | "unknown";
}

interface Planned {
  record: RecordedOp;
  point: number;
  /** for an unknown op: whether it takes effect */
  applies: boolean;
}

/** A small deterministic generator (mulberry32): tests must replay. */
function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateHistory(options: GenerateOptions): RecordedOp[] {
  const random = randomSource(options.seed);
  const below = (n: number): number => Math.floor(random() * n);
  const planned: Planned[] = [];
  const total = options.opsPerKey * options.keys;
  const clock = new Array<number>(options.clients).fill(0);
  const ids = Array.from({ length: options.clients }, (_, i) => i + 1);
  for (let n = 0; n < total; n++) {
    const c = below(options.clients);
    const call = (clock[c] ?? 0) + below(5);
    const point = call + below(20) + random() / 2;
    const ret = Math.ceil(point) + below(20);
    const key = `k${below(options.keys)}`;
    const record = chooseOp(ids[c] ?? 0, key, `v${n}`, call, ret, below);
    let applies = true;
    if (record.op === "write" && random() < options.unknownRate) {
      record.status = "unknown";
      record.ret = null;
      applies = random() < 0.5;
      ids[c] = (ids[c] ?? 0) + options.clients; // a fresh client id after a timeout
    }
    clock[c] = ret;
    planned.push({ record, point, applies });
  }
  applyInOrder(planned, below);
  return planned.map((p) => p.record).sort((a, b) => a.call - b.call);
}

function chooseOp(
  client: number,
  key: string,
  fresh: string,
  call: number,
  ret: number,
  below: (n: number) => number,
): RecordedOp {
  const base = { client, key, call, ret, status: "ok" as const };
  const roll = below(10);
  if (roll < 4) return { ...base, op: "read" };
  if (roll < 7) return { ...base, op: "write", value: fresh };
  if (roll < 9) return { ...base, op: "cas", to: fresh };
  return { ...base, op: "delete" };
}

/** Runs the ops on registers in linearization-point order and fills in what they returned. */
function applyInOrder(planned: Planned[], below: (n: number) => number): void {
  const registers = new Map<string, string | null>();
  const recent = new Map<string, (string | null)[]>();
  for (const { record, applies } of [...planned].sort((a, b) => a.point - b.point)) {
    const current = registers.get(record.key) ?? null;
    const seen = recent.get(record.key) ?? [null];
    let next = current;
    if (record.op === "read") record.value = current;
    else if (record.op === "write") next = record.value ?? null;
    else if (record.op === "delete") next = null;
    else {
      // Mostly the current value (a cas that succeeds), sometimes an older one (a mismatch).
      record.from = below(3) === 0 ? (seen[below(seen.length)] ?? null) : current;
      if (record.from === current) next = record.to ?? null;
      else record.status = "fail";
    }
    if (applies) {
      registers.set(record.key, next);
      recent.set(record.key, [...seen.slice(-4), next]);
    }
  }
}

const isMain = /lincheck_generate\.[jt]s$/.test(process.argv[1] ?? "");
if (isMain) {
  const [opsPerKey = "1000", keys = "1", clients = "5"] = process.argv.slice(2);
  const history = generateHistory({
    seed: 1,
    opsPerKey: Number(opsPerKey),
    keys: Number(keys),
    clients: Number(clients),
    unknownRate: 0.02,
  });
  process.stdout.write(history.map((op) => JSON.stringify(op)).join("\n") + "\n");
}
