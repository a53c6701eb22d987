// Bayou's TCP frames: a peer that sends garbage is dropped or cut off, never crashes the node, and
// cannot speak for another node.
import { createConnection, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { PeerMsg } from "./messages.js";
import { MAX_FRAME_BYTES, TcpPeers } from "./tcp_peers.js";

const open: TcpPeers[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await Promise.all(open.splice(0).map((p) => p.close()));
});

function frame(value: unknown): Buffer {
  const body = Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

async function listener(): Promise<{ peers: TcpPeers; got: PeerMsg[]; notes: string[] }> {
  const notes: string[] = [];
  const peers = await TcpPeers.open(1, true, (m) => notes.push(m));
  open.push(peers);
  const got: PeerMsg[] = [];
  peers.onMessage((m) => got.push(m));
  return { peers, got, notes };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => resolve(s));
    sockets.push(s);
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok: PeerMsg = { t: "ae_done", from: 5, sid: 1 };

describe("TcpPeers", () => {
  it("drops malformed and spoofed frames and keeps the connection for good ones", async () => {
    const { peers, got, notes } = await listener();
    const s = await dial(peers.port);
    s.write(frame({ hello: 5 }));
    s.write(frame({ t: "ae_done", from: 5, sid: -1 })); // fails the schema
    s.write(frame({ t: "nonsense", from: 5 }));
    s.write(frame({ ...ok, from: 6 })); // speaks for another node
    s.write(frame(ok));
    await pause(100);
    expect(got).toEqual([ok]);
    expect(notes.filter((n) => n.includes("malformed"))).toHaveLength(3);
  });

  it("closes a connection that sends no hello, bad JSON or a frame too long", async () => {
    const { peers, got } = await listener();
    for (const bad of [frame(ok), frame("{not json"), null]) {
      const s = await dial(peers.port);
      const closed = new Promise<void>((r) => s.once("close", () => r()));
      if (bad === null) {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
        s.write(head);
      } else s.write(bad);
      await closed;
    }
    // The node still serves a well-behaved peer.
    const s = await dial(peers.port);
    s.write(Buffer.concat([frame({ hello: 5 }), frame(ok)]));
    await pause(100);
    expect(got).toEqual([ok]);
  });

  it("answers on the connection a peer opened (a client has no address)", async () => {
    const { peers } = await listener();
    const client = await TcpPeers.open(7, false, () => {});
    open.push(client);
    const answers: PeerMsg[] = [];
    client.onMessage((m) => answers.push(m));
    client.setAddresses([[1, String(peers.port)]]);
    peers.onMessage((m) => peers.send(m.from, { t: "ae_done", from: 1, sid: 9 }));
    client.send(1, { t: "ae_done", from: 7, sid: 2 });
    await pause(200);
    expect(answers).toEqual([{ t: "ae_done", from: 1, sid: 9 }]);
  });
});
