// The shell that runs the PaxosLease core (core.ts) for real: messages over the rank's peer
// transport (rank.onLeaseMessage / rank.sendLease), one timer, the host's monotonic clock, and the
// lease log file (lines.ts), each line written to the OS before the next effect is performed (a
// held line is in the file before the node reports itself master; kill -9 cannot lose it).
import { closeSync, openSync, writeSync } from "node:fs";
import type { LeaseMsg } from "../protocol/lease_messages.js";
import type { Random } from "../ports.js";
import { LEASE_DEFAULTS, type LeaseConfig } from "./config.js";
import { LeaseCore, type LeaseEffect, type LeaseView } from "./core.js";

/** What a service needs of the lease: who is master now, and a call when that changes. */
export interface MasterView {
  view(): LeaseView;
  onChange(cb: (v: LeaseView) => void): void;
}

/** The peer side: a Rank has these. */
export interface LeasePeer {
  onLeaseMessage(handler: (msg: LeaseMsg) => void): void;
  sendLease(to: number, msg: LeaseMsg): void;
}

/** Where lease lines go; write must have handed the line to the OS when it returns. */
export interface LeaseLog {
  write(line: string): void;
  close(): void;
}

/** Microseconds on CLOCK_MONOTONIC (process.hrtime): the same clock for every process of one
 * host, so ranks' lease lines compare; never the wall clock, which may jump. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Appends lines to a file, each with one write(2): in the OS when write returns. */
export class FileLeaseLog implements LeaseLog {
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, "a");
  }

  write(line: string): void {
    if (this.fd === null) throw new Error(`lease log ${this.path} is closed`);
    writeSync(this.fd, line + "\n");
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export type LeaseNodeConfig = Partial<LeaseConfig> & { me: number; n: number };

export class LeaseNode implements MasterView {
  private readonly core: LeaseCore;
  private readonly listeners: ((v: LeaseView) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    cfg: LeaseNodeConfig,
    private readonly peer: LeasePeer,
    private readonly log: LeaseLog,
    random: Random,
    private readonly warn: (line: string) => void = () => {},
    private readonly now: () => number = monotonicUs,
  ) {
    const startCounter = Math.floor(this.now() / 1000);
    this.core = new LeaseCore({ ...LEASE_DEFAULTS, startCounter, ...cfg }, random);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.peer.onLeaseMessage((msg) => {
      if (this.running) this.step((now, out) => this.core.onMessage(msg, now, out));
    });
    this.step((now, out) => this.core.start(now, out));
  }

  /** A master ends its lease now (the ended line first), then releases it to the others. */
  stop(): void {
    if (!this.running) return;
    this.step((now, out) => this.core.stop(now, out));
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.log.close();
  }

  view(): LeaseView {
    return this.core.view(this.now());
  }

  /** cb runs on every change of iAmMaster, master or term (not on renewals). */
  onChange(cb: (v: LeaseView) => void): void {
    this.listeners.push(cb);
  }

  private step(input: (nowUs: number, out: LeaseEffect[]) => void): void {
    const out: LeaseEffect[] = [];
    input(this.now(), out);
    for (const eff of out) {
      if (eff.kind === "send") this.peer.sendLease(eff.to, eff.msg);
      else if (eff.kind === "line") {
        if (!this.writeLine(eff.line)) return this.failed();
      } else for (const cb of this.listeners) cb(eff.view);
    }
    this.arm();
  }

  private writeLine(line: string): boolean {
    try {
      this.log.write(line);
      return true;
    } catch (e) {
      this.warn(`lease: cannot write the lease log: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /** A line that cannot be written cannot back a lease: stop taking part (nothing after the line
   * was performed, so this node never said it was master on the strength of it). */
  private failed(): void {
    const out: LeaseEffect[] = [];
    this.core.stop(this.now(), out);
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const eff of out) if (eff.kind === "view") for (const cb of this.listeners) cb(eff.view);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const at = this.core.wakeAtUs();
    if (!this.running || at === Infinity) return;
    const ms = Math.min(Math.max(0, Math.ceil((at - this.now()) / 1000)), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) this.step((now, out) => this.core.onTime(now, out));
    }, ms);
  }
}
