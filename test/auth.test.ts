// Three real ranks with a cluster secret, and an attacker who can reach rank 1's peer port: a TCP
// proxy between rank 0 and rank 1 (rank 0's cluster file names the proxy for rank 1) that replays
// a frame inside the stream, tampers with one, and keeps what it saw; then a forger that sends a
// forged commit (for a seq ahead of the log, with an id nobody generated), a tampered copy and a
// replay of the captured bytes on connections of its own. Every such frame is refused: the ranks
// converge, the checker passes (rule 2: nothing forged is committed), and rank 1 reports the
// unauthenticated frames in one line. Without the MAC check the forged commit is committed on
// every rank (issue 11) and the checker fails.
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePorts,
  spawnRank,
  waitExit,
  writeClusterFiles,
  type RankOutcome,
} from "../src/cli/launch.js";
import { encodeFrame } from "../src/io/codec.js";
import { CHALLENGE_BYTES, FrameSealer, PeerKey, readChallenge } from "../src/io/peer_auth.js";
import type { WireMsg } from "../src/protocol/messages.js";
import { killAll, runChecker, tempDir } from "./helpers.js";

const dir = tempDir("auth");
const savedStats = process.env.YASP_STATS;
process.env.YASP_STATS = "1"; // the ranks print their frame counters at exit
afterAll(() => {
  if (savedStats === undefined) delete process.env.YASP_STATS;
  else process.env.YASP_STATS = savedStats;
  rmSync(dir, { recursive: true, force: true });
});

/** Ids of a rank the cluster does not have: nobody generates them. */
const FORGED = "Instance[7-";
/** 50 forged commits from seq on (ahead of the log, where the run will get to). */
const forgedCommit = (seq: number): WireMsg => ({
  t: "commit",
  from: 0,
  seq,
  ids: Array.from({ length: 50 }, (_, i) => `7-${424242 + i}`),
});
const commitsIn = (log: string) => readFileSync(log, "utf8").split("\ncommit ").length - 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Split a byte stream into length-prefixed frames (each returned with its length). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      onFrame(buf.subarray(0, 4 + len));
      buf = buf.subarray(4 + len);
    }
  };
}

/** A copy of a sealed frame with the lowest bit of its body's last byte flipped (a digit of an id,
 * or of a number: most often still a valid message, and refused for its MAC before decoding). */
function tamper(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  const at = copy.length - 1;
  copy[at] = (copy[at] as number) ^ 1;
  return copy;
}

/**
 * Rank 0 -> proxy -> rank 1. On the first connection that reaches rank 1 the proxy sends the 6th
 * frame twice (a replay inside the stream); on the second it changes a digit of the 4th frame.
 * Later connections pass unchanged. Frames of the first connection are kept in `captured`.
 */
function startProxy(upstreamPort: number) {
  const captured: Buffer[] = [];
  const sockets: net.Socket[] = [];
  let live = 0;
  const cut: Promise<void>[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: upstreamPort });
    sockets.push(client, upstream);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("close", () => upstream.destroy());
    let done = () => {};
    upstream.on("close", () => {
      client.destroy();
      done();
    });
    upstream.on("connect", () => {
      const conn = live++;
      if (conn < 2) cut.push(new Promise((resolve) => (done = resolve)));
      upstream.on("data", (d: Buffer) => client.write(d)); // the challenge
      let k = 0;
      client.on(
        "data",
        framer((frame) => {
          k++;
          if (conn === 0) captured.push(frame);
          upstream.write(conn === 1 && k === 4 ? tamper(frame) : frame);
          if (conn === 0 && k === 6) upstream.write(frame);
        }),
      );
    });
  });
  return { server, captured, sockets, cut };
}

/** Connect to a rank's peer port, read the challenge, send bytes (made with the nonce); resolves
 * true once the rank, having sent its challenge, closed the connection (within 5 s). */
async function attack(port: number, make: (nonce: Buffer | null) => Buffer): Promise<boolean> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  const closed = new Promise<boolean>((resolve) =>
    socket.once("close", () => resolve(hello.length >= CHALLENGE_BYTES)),
  );
  let hello = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => {
    if (hello.length >= CHALLENGE_BYTES) return;
    hello = Buffer.concat([hello, d]);
    if (hello.length >= CHALLENGE_BYTES) socket.write(make(readChallenge(hello)));
  });
  const ok = await Promise.race([closed, sleep(5000).then(() => false)]);
  socket.destroy();
  return ok;
}

describe("3 real ranks with a cluster secret, and an attacker on the peer port", () => {
  it("refuse forged, tampered and replayed frames; nothing forged is committed", async () => {
    const files = await writeClusterFiles(dir, 3);
    expect(readFileSync(files.secret as string).length).toBe(32);
    const addrs = JSON.parse(readFileSync(files.cluster, "utf8")) as string[];
    const port1 = Number(addrs[1]?.split(":")[1]);
    const [proxyPort] = (await freePorts(1)) as [number];
    const proxy = startProxy(port1);
    await new Promise<void>((resolve) => proxy.server.listen(proxyPort, "127.0.0.1", resolve));
    const viaProxy = join(dir, "cluster-rank0.json");
    writeFileSync(viaProxy, JSON.stringify([addrs[0], `127.0.0.1:${proxyPort}`, addrs[2]]));
    const args = ["-o", "50", "-l", "100", "-t", "4", "--rate", "300", "--grace", "20"];
    const children: ChildProcess[] = [];
    const outcomes: Promise<RankOutcome>[] = [];
    let results: RankOutcome[];
    try {
      for (let i = 0; i < 3; i++) {
        const own = i === 0 ? { ...files, cluster: viaProxy } : files;
        const child = spawnRank(i, own, dir, args);
        children.push(child);
        outcomes.push(waitExit(child, i));
      }
      await until(() => proxy.captured.length >= 6, 20_000);
      expect(proxy.captured.length).toBeGreaterThanOrEqual(6);
      const captured = Buffer.concat(proxy.captured);
      const ahead = encodeFrame(forgedCommit(commitsIn(join(dir, "rank-1.log")) + 300));
      const forger = new PeerKey(randomBytes(32)); // the secret, guessed
      const refused = [
        // (a) the forged commit: sealed with a guessed secret, and as a plain frame
        await attack(port1, (nonce) =>
          new FrameSealer(forger, nonce ?? Buffer.alloc(16)).seal(ahead.subarray(4)),
        ),
        await attack(port1, () => ahead),
        // (b) a tampered copy of a captured frame; (c) the captured bytes, replayed
        await attack(port1, () => tamper(proxy.captured[2] as Buffer)),
        await attack(port1, () => captured),
      ];
      expect(refused).toEqual([true, true, true, true]);
      // The proxy's replay and tampering each made rank 1 close a connection.
      await until(() => proxy.cut.length === 2, 10_000);
      const cut = await Promise.race([Promise.all(proxy.cut).then(() => true), sleep(10_000)]);
      expect(cut, "rank 1 closed the replaying and the tampering connections").toBe(true);
      results = await Promise.all(outcomes);
    } finally {
      killAll(children);
      for (const s of proxy.sockets) s.destroy();
      proxy.server.close();
    }
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/converged;/);
    }
    // On rank 1 one line per kind of refusal (then its stats), none on the others: a frame that
    // fails its MAC, and one longer than a hello before the hello (refused from its length).
    const lines = (r: RankOutcome) => r.stderr.split("\n").filter((l) => l && !l.startsWith("{"));
    const [l0, l1, l2] = results.map(lines);
    expect([l0, l2]).toEqual([[], []]);
    expect([...(l1 ?? [])].sort()).toEqual([
      expect.stringMatching(
        /^rank 1: dropped an oversized frame from 127\.0\.0\.1:\d+: .*before the hello/,
      ),
      expect.stringMatching(/^rank 1: dropped an unauthenticated frame from 127\.0\.0\.1:\d+: /),
    ]);
    expect(results.map((r) => r.stderr).join("")).not.toMatch(/\n\s+at /);
    const frames = results.map(
      (r) =>
        (
          JSON.parse(r.stderr.split("\n").find((l) => l.startsWith("{")) ?? "{}") as {
            frames?: { unauthenticated: number; oversized: number; malformed: number };
          }
        ).frames,
    );
    // In-stream replay and tampering, the two forged commits, the tampered copy, the replay: each
    // failed its MAC, or (a frame longer than a hello, before the hello) its length.
    expect((frames[1]?.unauthenticated ?? 0) + (frames[1]?.oversized ?? 0)).toBe(6);
    expect(frames.map((f) => f?.malformed)).toEqual([0, 0, 0]);
    const logs = [0, 1, 2].map((r) => join(dir, `rank-${r}.log`));
    for (const log of logs) expect(readFileSync(log, "utf8")).not.toContain(FORGED);
    const check = await runChecker(logs);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/check validity -+\npass\n-+ check safety -+\npass\n/);
  }, 90_000);
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await sleep(20);
}
