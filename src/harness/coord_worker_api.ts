// The role spec the harness passes a coordination worker (coord_worker.ts) as its argument.
export interface Spec {
  role: "basic" | "counter" | "holder" | "waiter" | "watcher" | "writer" | "fanout";
  endpoints: string[];
  timeoutMs?: number;
  key?: string;
  dataKey?: string;
  lock?: string;
  prefix?: string;
  ttlMs?: number;
  rounds?: number;
  fromRevision?: number;
  /** fanout: how many watches of the prefix. */
  watches?: number;
  /** watcher: report values too. */
  values?: boolean;
  /** writer: how long, how many keys, puts in flight, a delete every n writes. */
  forMs?: number;
  keys?: number;
  concurrency?: number;
  deleteEvery?: number;
}
