// Acquires waiting on this rank for a lock to be granted to their session. The log decides the
// order (the machine's FIFO queue); this table only remembers whom to answer when the machine
// tells of a grant. Bounded: past `max` waiters a new one is answered `limit` (busy) at once.
import type { KvResult } from "./commands.js";

interface Waiter {
  lock: string;
  session: number;
  answer(r: KvResult): void;
  /** Removes it without an answer (its connection is gone). */
  drop(): void;
}

const NO_SESSION: KvResult = { kind: "error", code: "no_session" };
const LIMIT: KvResult = { kind: "error", code: "limit" };
const CANCELLED: KvResult = { kind: "cancelled" };

export class LockWaiters {
  /** By `${session} ${lock}` (a session is digits, so the first space ends it). */
  private readonly byPair = new Map<string, Set<Waiter>>();
  private readonly bySession = new Map<number, Set<Waiter>>();
  private count = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.max;
  }

  /** Resolves once the lock is granted to the session (granted), the session ends (no_session)
   * or a cancel_wait for them is applied here (cancelled). When `closed` aborts first (the
   * client's connection is gone) the waiter is dropped and the promise never settles: nobody is
   * left to answer, and the machine's queue entry stays until the session's own end. */
  wait(lock: string, session: number, closed?: AbortSignal): Promise<KvResult> {
    if (this.full) return Promise.resolve(LIMIT);
    return new Promise((resolve) => {
      if (closed?.aborted) return;
      const pair = `${session} ${lock}`;
      const onClose = () => w.drop();
      const w: Waiter = {
        lock,
        session,
        answer: (r) => {
          w.drop();
          resolve(r);
        },
        drop: () => {
          closed?.removeEventListener("abort", onClose);
          if (!remove(this.byPair, pair, w)) return;
          remove(this.bySession, session, w);
          this.count--;
        },
      };
      add(this.byPair, pair, w);
      add(this.bySession, session, w);
      this.count++;
      closed?.addEventListener("abort", onClose, { once: true });
    });
  }

  granted(lock: string, session: number, token: number): void {
    this.answerPair(lock, session, { kind: "granted", token });
  }

  cancelled(lock: string, session: number): void {
    this.answerPair(lock, session, CANCELLED);
  }

  sessionEnded(session: number): void {
    const set = this.bySession.get(session);
    if (set) for (const w of [...set]) w.answer(NO_SESSION);
  }

  /** Forgets every waiter (the service is stopping; its connections close). */
  clear(): void {
    for (const set of [...this.bySession.values()]) for (const w of [...set]) w.drop();
  }

  private answerPair(lock: string, session: number, r: KvResult): void {
    const set = this.byPair.get(`${session} ${lock}`);
    if (set) for (const w of [...set]) w.answer(r);
  }
}

function add<K>(m: Map<K, Set<Waiter>>, k: K, w: Waiter): void {
  const set = m.get(k);
  if (set) set.add(w);
  else m.set(k, new Set([w]));
}

function remove<K>(m: Map<K, Set<Waiter>>, k: K, w: Waiter): boolean {
  const set = m.get(k);
  if (!set?.delete(w)) return false;
  if (set.size === 0) m.delete(k);
  return true;
}
