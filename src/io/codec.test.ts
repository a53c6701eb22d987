// The frame decoder: frames split anywhere in the stream, large frames joined once, and what it
// reports about frames it drops.
import { afterEach, describe, expect, it, vi } from "vitest";
import { LIMITS, type WireMsg } from "../protocol/messages.js";
import { encodeFrame, encodeHelloFrame, FrameDecoder, type FrameProblem } from "./codec.js";

const commit: WireMsg = { t: "commit", from: 1, seq: 7, ids: ["1-7", "2-8"] };
const ack: WireMsg = { t: "ack", from: 2, round: 3, seq: 0, count: 2, backlog: 0 };

function decoder(n = 3, maxFrameBytes?: number) {
  const got: WireMsg[] = [];
  const problems: [FrameProblem, string][] = [];
  const d = new FrameDecoder(
    { message: (m) => got.push(m), problem: (k, why) => problems.push([k, why]) },
    n,
    { maxFrameBytes },
  );
  return { d, got, problems };
}

/** A frame with this body (its length in front). */
function frame(body: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("FrameDecoder", () => {
  it("decodes frames split at every point of the stream", () => {
    const stream = Buffer.concat([encodeFrame(commit), encodeFrame(ack), encodeFrame(commit)]);
    for (let cut = 1; cut < stream.length; cut++) {
      for (const size of [1, 3, cut]) {
        const { d, got, problems } = decoder();
        expect(d.push(stream.subarray(0, cut))).toBe(true);
        for (let at = cut; at < stream.length; at += size)
          expect(d.push(stream.subarray(at, at + size))).toBe(true);
        expect(got).toEqual([commit, ack, commit]);
        expect(problems).toEqual([]);
      }
    }
  });

  it("joins a large frame once, when all of it is in (not once per chunk)", () => {
    const cmds = [new Uint8Array(LIMITS.maxCommandBytes).fill(1), new Uint8Array(3).fill(2)];
    const big: WireMsg = { t: "commit", from: 0, seq: 1, ids: ["0-1", "0-2"], cmds };
    const stream = Buffer.concat([encodeFrame(ack), encodeFrame(big), encodeFrame(ack)]);
    const { d, got, problems } = decoder();
    const concat = vi.spyOn(Buffer, "concat");
    for (let at = 0; at < stream.length; at += 64 * 1024)
      expect(d.push(stream.subarray(at, at + 64 * 1024))).toBe(true);
    expect(concat.mock.calls.length).toBeLessThanOrEqual(2);
    expect(problems).toEqual([]);
    expect(got.map((m) => m.t)).toEqual(["ack", "commit", "ack"]);
    const [, decoded] = got;
    expect(decoded?.t === "commit" && decoded.cmds?.map((c) => c.length)).toEqual([
      LIMITS.maxCommandBytes,
      3,
    ]);
    expect(
      decoded?.t === "commit" && Buffer.from(decoded.cmds?.[0] ?? []).equals(cmds[0] as Uint8Array),
    ).toBe(true);
  });

  it("reports an oversized frame as soon as its length is in, and reads nothing more", () => {
    const { d, got, problems } = decoder(3, 100);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(101);
    expect(d.push(encodeFrame(ack))).toBe(true);
    expect(d.push(len.subarray(0, 2))).toBe(true);
    expect(d.push(len.subarray(2))).toBe(false);
    expect(d.push(encodeFrame(ack))).toBe(false);
    expect(got).toEqual([ack]);
    expect(problems).toEqual([["oversized", "frame of 101 bytes (limit 100)"]]);
  });

  it("drops unknown and malformed frames, and a sender outside the cluster, and goes on", () => {
    const { d, got, problems } = decoder(2);
    const unknown = frame(Buffer.from([99, 0, 1, 2]));
    const json = frame(Buffer.from('{"t":"ping","from":0,"round":1}'));
    const cut = frame(encodeFrame(commit).subarray(4, 12));
    const trailing = frame(
      Buffer.concat([encodeFrame({ ...ack, from: 1 }).subarray(4), Buffer.from([0])]),
    );
    const stranger = encodeFrame({ ...ack, from: 2 });
    const ok = encodeFrame({ ...ack, from: 1 });
    expect(d.push(Buffer.concat([unknown, json, cut, trailing, stranger, ok]))).toBe(true);
    expect(got).toEqual([{ ...ack, from: 1 }]);
    expect(problems).toEqual([
      ["unknown", "unknown frame type 99"],
      ["unknown", "unknown frame type 123 (a JSON frame: an older yasp?)"],
      ["malformed", expect.stringMatching(/^bad commit frame: .*runs past the end/)],
      ["malformed", "bad ack frame: 1 bytes after the end"],
      ["malformed", "sender 2 is not in the cluster"],
    ]);
  });
});

describe("FrameDecoder with a hello first (the peer port)", () => {
  function greeted(n = 3) {
    const got: WireMsg[] = [];
    const problems: [FrameProblem, string][] = [];
    const hellos: number[] = [];
    const d = new FrameDecoder(
      { message: (m) => got.push(m), problem: (k, why) => problems.push([k, why]) },
      n,
      { onHello: (rank) => hellos.push(rank) },
    );
    return { d, got, problems, hellos };
  }

  it("takes the hello (split anywhere), then frames", () => {
    const stream = Buffer.concat([encodeHelloFrame(2), encodeFrame(ack), encodeFrame(commit)]);
    for (let cut = 1; cut < stream.length; cut++) {
      const { d, got, problems, hellos } = greeted();
      expect(d.push(stream.subarray(0, cut))).toBe(true);
      expect(d.push(stream.subarray(cut))).toBe(true);
      expect(hellos).toEqual([2]);
      expect(got).toEqual([ack, commit]);
      expect(problems).toEqual([]);
    }
  });

  it("closes a stream whose first frame is longer than a hello, before reading its body", () => {
    const { d, got, problems } = greeted();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(64 * 1024 * 1024);
    expect(d.push(head)).toBe(false);
    expect(problems[0]?.[0]).toBe("oversized");
    expect(problems[0]?.[1]).toMatch(/before the hello/);
    expect(d.pendingBytes).toBe(0);
    expect(got).toEqual([]);
  });

  it("closes a stream that opens with anything else, or a hello from outside the cluster", () => {
    const notHello = frame(Buffer.from([0, 1, 0x59, 0x53, 0x48, 0x32])); // "YSH2"
    const short = frame(Buffer.from([5, 1])); // a valid nack-sized frame of another type
    const cases: [Buffer, FrameProblem][] = [
      [encodeFrame(ack), "oversized"],
      [encodeHelloFrame(5), "unauthenticated"],
      [notHello, "unauthenticated"],
      [short, "unauthenticated"],
    ];
    for (const [first, problem] of cases) {
      const { d, got, problems, hellos } = greeted(3);
      expect(d.push(Buffer.concat([first, encodeFrame(commit)]))).toBe(false);
      expect(problems.map(([k]) => k)).toEqual([problem]);
      expect([got, hellos]).toEqual([[], []]);
    }
  });

  it("counts the bytes it holds for an incomplete frame", () => {
    const { d } = greeted();
    const f = Buffer.concat([encodeHelloFrame(1), encodeFrame(commit)]);
    d.push(f.subarray(0, f.length - 3));
    expect(d.pendingBytes).toBe(encodeFrame(commit).length - 3);
    d.push(f.subarray(f.length - 3));
    expect(d.pendingBytes).toBe(0);
  });
});
