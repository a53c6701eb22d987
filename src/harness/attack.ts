// Strangers on a rank's ports (issue: what an unauthenticated connection may cost): connections
// that start frames and stall, or never say anything, as an attacker without the cluster secret or
// the client token would. Each attack returns a handle that counts the connections the rank
// closed, and stops them all. Used by test/admission.test.ts (small sizes) and by
// `npm run attack` (attack_cli.ts, the sizes of the issue).
import net from "node:net";
import { readFileSync } from "node:fs";

export interface Attack {
  /** Connections opened so far. */
  readonly opened: number;
  /** Of those, how many the rank closed (we never close one before stop()). */
  readonly closedByRank: number;
  /** Closes every connection still open; resolves once all are closed. */
  stop(): Promise<void>;
}

export type AttackKind = "peer-frame" | "peer-silent" | "client-hello" | "text-set";

export interface AttackOptions {
  host: string;
  port: number;
  connections: number;
  /** peer-frame and client-hello: the frame length declared; text-set: the value's length. */
  declaredBytes?: number;
  /** Bytes actually sent after the header (default: all but the last one). */
  sendBytes?: number;
}

/** The bytes that open each connection of an attack (its header), and how many follow. */
function opening(kind: AttackKind, declared: number): Buffer {
  switch (kind) {
    case "peer-frame":
    case "client-hello": {
      const head = Buffer.alloc(4);
      if (kind === "peer-frame") head.writeUInt32BE(declared);
      else head.writeUInt32LE(declared);
      return head;
    }
    case "text-set":
      return Buffer.from(`set k 0 ${declared}\r\n`, "latin1");
    case "peer-silent":
      return Buffer.alloc(0);
  }
}

/** Opens the attack's connections (a few at a time) and starts each one's stalled frame. */
export function startAttack(kind: AttackKind, o: AttackOptions): Attack {
  const declared = o.declaredBytes ?? 0;
  const send = o.sendBytes ?? Math.max(0, declared - 1);
  const head = opening(kind, declared);
  const body = Buffer.alloc(Math.min(send, 1024 * 1024), 0x61);
  const sockets = new Set<net.Socket>();
  let opened = 0;
  let closedByRank = 0;
  let stopping = false;
  const open = () => {
    if (stopping || opened >= o.connections) return;
    opened += 1;
    const s = net.connect({ host: o.host, port: o.port });
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => {
      sockets.delete(s);
      if (!stopping) closedByRank += 1;
    });
    s.on("connect", () => {
      // peer-silent never writes. (It reads what comes, the 20-byte challenge, only so that it sees
      // the rank close the connection: unread, the challenge would cost the rank nothing more.)
      if (kind === "peer-silent") s.on("data", () => {});
      else writeStalled(s, head, body, send);
      open();
    });
  };
  for (let i = 0; i < Math.min(64, o.connections); i += 1) open();
  return {
    get opened() {
      return opened;
    },
    get closedByRank() {
      return closedByRank;
    },
    stop: async () => {
      stopping = true;
      const all = [...sockets].map(
        (s) => new Promise((r) => (s.destroyed ? r(0) : s.once("close", r))),
      );
      for (const s of sockets) s.destroy();
      await Promise.all(all);
    },
  };
}

/** Writes the header and `total` bytes of body (from a reused buffer), then nothing more. */
function writeStalled(s: net.Socket, head: Buffer, body: Buffer, total: number): void {
  s.on("data", () => {}); // the challenge, if any, is read and ignored
  s.write(head);
  let left = total;
  const more = () => {
    while (left > 0 && !s.destroyed) {
      const n = Math.min(left, body.length);
      left -= n;
      if (!s.write(body.subarray(0, n))) return void s.once("drain", more);
    }
  };
  more();
}

/** A process's resident memory in bytes (/proc/<pid>/status), or 0 when it cannot be read. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every ms until stopped; the highest seen. */
export function watchRss(pid: number, ms = 25): { peak(): number; stop(): void } {
  let peak = rssBytes(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), ms);
  return { peak: () => peak, stop: () => clearInterval(t) };
}
