// The TCP transport's queue limits with the largest frames: a frame over the per-peer queue limit
// still goes out when the queue is empty, and arrives whole.
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "../cli/launch.js";
import { LIMITS, type WireMsg } from "../protocol/messages.js";
import { TcpTransport } from "./tcp_transport.js";

let open: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function pair(secret?: Uint8Array) {
  const addrs = (await freePorts(2)).map((port) => ({ host: "127.0.0.1", port }));
  const warnings: string[] = [];
  const opts = secret ? { secret } : {};
  const [t0, t1] = [0, 1].map((i) => new TcpTransport(i, addrs, (l) => warnings.push(l), opts)) as [
    TcpTransport,
    TcpTransport,
  ];
  open.push(t0, t1);
  await t0.listen();
  await t1.listen();
  const got: WireMsg[] = [];
  t1.onMessage((m) => got.push(m));
  return { t0, t1, got, warnings };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 10));
}

describe("TcpTransport with frames near LIMITS.maxFrameBytes", () => {
  for (const secret of [undefined, Buffer.from("a cluster secret of 32 bytes....")]) {
    it(`delivers a frame larger than the queue limit whole (${secret ? "with" : "without"} a secret)`, async () => {
      const { t0, t1, got, warnings } = await pair(secret);
      // Seven commands of the largest size: a frame of about 56 MiB (the queue limit is 8 MiB).
      const cmds = Array.from({ length: 7 }, (_, i) =>
        new Uint8Array(LIMITS.maxCommandBytes).fill(i + 1),
      );
      const ids = cmds.map((_, i) => `0-${i}`);
      const big: WireMsg = { t: "commit", from: 0, seq: 0, ids, cmds };
      t0.send(1, big);
      t0.send(1, { t: "ping", from: 0, round: 1 }); // over the queue limit behind it: dropped
      await until(() => got.length >= 1);
      const [m] = got;
      expect(m?.t).toBe("commit");
      if (m?.t !== "commit") return;
      expect(m.ids).toEqual(ids);
      expect(
        m.cmds?.every(
          (c, i) =>
            c.length === LIMITS.maxCommandBytes && c[0] === i + 1 && c[c.length - 1] === i + 1,
        ),
      ).toBe(true);
      expect(t0.stats.droppedOut).toBe(1);
      t0.send(1, { t: "ping", from: 0, round: 2 }); // the queue is empty again
      await until(() => got.length >= 2);
      expect(got[1]).toEqual({ t: "ping", from: 0, round: 2 });
      expect(t1.stats.framesIn).toBe(2);
      expect(warnings).toEqual([]);
    }, 30_000);
  }

  it("does not send a frame over the limit (the peer would close the connection on it)", async () => {
    const { t0, t1, got, warnings } = await pair();
    const cmds = Array.from({ length: 9 }, () => new Uint8Array(LIMITS.maxCommandBytes));
    const ids = cmds.map((_, i) => `0-${i}`);
    t0.send(1, { t: "commit", from: 0, seq: 0, ids, cmds }); // about 72 MiB
    t0.send(1, { t: "ping", from: 0, round: 1 });
    await until(() => got.length >= 1);
    expect(got).toEqual([{ t: "ping", from: 0, round: 1 }]);
    expect(t0.stats.droppedOut).toBe(1);
    expect(t1.stats.oversized).toBe(0);
    expect(warnings).toEqual([
      expect.stringMatching(/^rank 0: not sending a commit frame of \d+ bytes/),
    ]);
  });
});
