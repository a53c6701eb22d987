// The master lease's settings and their defaults (chosen so that a new master is serving within
// 2 s of the old one's kill -9: a lease of 1 s, renewed every 250 ms, the next candidate trying at
// most ~150 ms after the last acceptor saw it run out).
import { MAX_LEASE_MS, MAX_PRIORITY } from "../protocol/lease_messages.js";

export interface LeaseConfig {
  me: number;
  n: number;
  /** Lease length asked of the acceptors (ms). Every rank should use the same one: an acceptor
   * refuses longer leases than its own (its restart wait covers only its own). */
  leaseMs: number;
  /** Higher tries first when the lease is free; ties: lower rank first. */
  priority: number;
  /** The clocks' worst relative rate error: the holder believes its lease ends this fraction early. */
  drift: number;
  /** And that much earlier still (µs): scheduling delays between a check and an action on it. */
  marginUs: number;
  /** A candidate whose attempt failed tries again after this (µs), plus its place delay and jitter. */
  retryUs: number;
  /** Random extra wait of every try, up to this (µs), so candidates seldom collide. */
  jitterUs: number;
  /** Extra wait per place in the priority order (µs), so the highest-priority live rank wins. */
  placeDelayUs: number;
  /** Ballots of this life start above this (the shell passes its monotonic clock in ms, so a
   * restarted rank's terms are above its last life's on one host). */
  startCounter: number;
}

export const LEASE_DEFAULTS = {
  leaseMs: 1000,
  priority: 0,
  drift: 0.05,
  marginUs: 20_000,
  retryUs: 100_000,
  jitterUs: 50_000,
  placeDelayUs: 100_000,
  startCounter: 0,
} as const;

/** The shortest lease allowed: below it scheduling noise eats the lease. */
export const MIN_LEASE_MS = 100;

/** Why cfg cannot work, or null. */
export function leaseConfigProblem(cfg: LeaseConfig): string | null {
  if (!Number.isInteger(cfg.n) || cfg.n < 1 || cfg.n > 64) return `${cfg.n} ranks (1..64)`;
  if (!Number.isInteger(cfg.me) || cfg.me < 0 || cfg.me >= cfg.n) return `rank ${cfg.me}`;
  if (!Number.isInteger(cfg.leaseMs) || cfg.leaseMs < MIN_LEASE_MS || cfg.leaseMs > MAX_LEASE_MS)
    return `lease of ${cfg.leaseMs} ms (${MIN_LEASE_MS}..${MAX_LEASE_MS})`;
  if (!Number.isInteger(cfg.priority) || cfg.priority < 0 || cfg.priority > MAX_PRIORITY)
    return `priority ${cfg.priority} (0..${MAX_PRIORITY})`;
  if (!(cfg.drift >= 0 && cfg.drift < 0.5)) return `drift ${cfg.drift} (0..0.5)`;
  // The holder's lease must outlast a renewal's two phases, or it could never be renewed.
  if (!(cfg.marginUs >= 0) || believedUs(cfg) < cfg.leaseMs * 500)
    return `margin ${cfg.marginUs} µs leaves too little of a ${cfg.leaseMs} ms lease`;
  for (const k of ["retryUs", "jitterUs", "placeDelayUs", "startCounter"] as const)
    if (!Number.isSafeInteger(cfg[k]) || cfg[k] < 0) return `${k} ${cfg[k]}`;
  return null;
}

/** How long after sending its prepare the holder believes its lease lasts (µs). */
export function believedUs(cfg: LeaseConfig): number {
  return Math.floor(cfg.leaseMs * 1000 * (1 - cfg.drift)) - cfg.marginUs;
}
