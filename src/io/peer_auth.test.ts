// The MAC, nonce and counter checks of peer frames (peer_auth.ts), alone and inside the decoder.
import { describe, expect, it } from "vitest";
import type { WireMsg } from "../protocol/messages.js";
import { encodeFrame, FrameDecoder, type FrameProblem } from "./codec.js";
import {
  AUTH_BYTES,
  CHALLENGE_BYTES,
  FrameOpener,
  FrameSealer,
  newChallenge,
  PeerKey,
  readChallenge,
} from "./peer_auth.js";

const secret = Buffer.from("0123456789abcdef0123456789abcdef");
const key = new PeerKey(secret);
const commit: WireMsg = { t: "commit", from: 0, seq: 5000, ids: ["2-999999"] };
const body = (msg: WireMsg) => encodeFrame(msg).subarray(4);

/** One connection: the accepting side's challenge, a sealer and an opener for its nonce. */
function connection(k = key) {
  const { bytes, nonce } = newChallenge();
  const got = readChallenge(bytes);
  if (!got) throw new Error("no nonce in a fresh challenge");
  return { nonce, sealer: new FrameSealer(k, got), opener: new FrameOpener(key, nonce) };
}

/** The payload a decoder hands the opener: a sealed frame without its length. */
const payload = (sealed: Buffer) => sealed.subarray(4);

describe("peer frame authentication", () => {
  it("opens what the other end of the connection sealed, frame after frame", () => {
    const c = connection();
    for (let i = 0; i < 3; i++) {
      const sealed = c.sealer.seal(body(commit));
      expect(sealed.readUInt32BE(0)).toBe(sealed.length - 4);
      expect(sealed.length).toBe(4 + AUTH_BYTES + body(commit).length);
      expect(c.opener.open(payload(sealed))).toEqual(body(commit));
    }
  });

  it("refuses a frame with any byte changed: body, tag or counter", () => {
    const c = connection();
    const sealed = c.sealer.seal(body(commit));
    for (const at of [4, 4 + 7, 4 + 8, 4 + AUTH_BYTES - 1, 4 + AUTH_BYTES, sealed.length - 2]) {
      const tampered = Buffer.from(sealed);
      tampered[at] = (tampered[at] as number) ^ 0x01;
      expect(c.opener.open(payload(tampered)), `byte ${at}`).toMatch(/bad MAC/);
    }
    expect(c.opener.open(payload(sealed))).toEqual(body(commit)); // the original still opens
  });

  it("refuses a frame sealed under another secret", () => {
    const c = connection(new PeerKey(Buffer.from("another secret of 32 bytes......")));
    expect(c.opener.open(payload(c.sealer.seal(body(commit))))).toMatch(/bad MAC/);
  });

  it("refuses a frame replayed on the same connection", () => {
    const c = connection();
    const first = c.sealer.seal(body(commit));
    expect(c.opener.open(payload(first))).toEqual(body(commit));
    expect(c.opener.open(payload(first))).toMatch(/counter 1 where 2 was due/);
  });

  it("refuses a counter going back, and one skipping ahead", () => {
    const c = connection();
    const frames = [1, 2, 3, 4].map(() => c.sealer.seal(body(commit)));
    expect(c.opener.open(payload(frames[0] as Buffer))).toEqual(body(commit));
    expect(c.opener.open(payload(frames[1] as Buffer))).toEqual(body(commit));
    expect(c.opener.open(payload(frames[0] as Buffer))).toMatch(/counter 1 where 3 was due/);
    expect(c.opener.open(payload(frames[3] as Buffer))).toMatch(/counter 4 where 3 was due/);
  });

  it("refuses a frame replayed on another connection (another nonce)", () => {
    const a = connection();
    const b = connection();
    const captured = a.sealer.seal(body(commit));
    expect(b.opener.open(payload(captured))).toMatch(/bad MAC/);
  });

  it("refuses frames from a connection that skipped the challenge", () => {
    const c = connection();
    // Sealed with the secret, but under a nonce the connecting side made up.
    const guessed = new FrameSealer(key, Buffer.alloc(16)).seal(body(commit));
    expect(c.opener.open(payload(guessed))).toMatch(/bad MAC/);
    // A plain frame, as a rank without a secret sends it.
    expect(c.opener.open(encodeFrame(commit).subarray(4))).toMatch(/bad MAC/);
    expect(c.opener.open(Buffer.from("{}"))).toMatch(/too short/);
  });

  it("reads a challenge only if it is one", () => {
    const { bytes, nonce } = newChallenge();
    expect(bytes.length).toBe(CHALLENGE_BYTES);
    expect(readChallenge(bytes)).toEqual(nonce);
    expect(newChallenge().nonce).not.toEqual(nonce);
    expect(readChallenge(bytes.subarray(1))).toBeNull();
    expect(readChallenge(Buffer.concat([bytes, Buffer.from("x")]))).toBeNull();
    const wrongMagic = Buffer.from(bytes);
    wrongMagic[0] = 0;
    expect(readChallenge(wrongMagic)).toBeNull();
  });

  it("needs a secret of at least 16 bytes", () => {
    expect(() => new PeerKey(Buffer.from("short"))).toThrow(/16 bytes/);
  });
});

describe("the frame decoder with a connection's opener", () => {
  function decoder() {
    const c = connection();
    const got: WireMsg[] = [];
    const problems: [FrameProblem, string][] = [];
    const d = new FrameDecoder(
      { message: (m) => got.push(m), problem: (k, why) => problems.push([k, why]) },
      3,
      { opener: c.opener },
    );
    return { c, d, got, problems };
  }

  it("decodes sealed frames split anywhere in the stream", () => {
    const { c, d, got, problems } = decoder();
    const ack: WireMsg = { t: "ack", from: 1, round: 3, seq: 0, count: 2, backlog: 0 };
    const stream = Buffer.concat([c.sealer.seal(body(commit)), c.sealer.seal(body(ack))]);
    for (let at = 0; at < stream.length; at += 7)
      expect(d.push(stream.subarray(at, at + 7))).toBe(true);
    expect(got).toEqual([commit, ack]);
    expect(problems).toEqual([]);
  });

  it("drops an unauthenticated frame, reports it, and reads nothing more of the stream", () => {
    const { c, d, got, problems } = decoder();
    const good = c.sealer.seal(body(commit));
    const forged = new FrameSealer(new PeerKey(Buffer.alloc(32, 7)), Buffer.alloc(16)).seal(
      body(commit),
    );
    const after = c.sealer.seal(body(commit));
    expect(d.push(Buffer.concat([good, forged, after]))).toBe(false);
    expect(got).toEqual([commit]);
    expect(problems).toEqual([["unauthenticated", expect.stringMatching(/bad MAC/) as string]]);
    expect(d.push(c.sealer.seal(body(commit)))).toBe(false);
    expect(got).toHaveLength(1);
  });

  it("still reports a well-sealed frame that is not a valid message as malformed", () => {
    const { c, d, got, problems } = decoder();
    expect(d.push(c.sealer.seal(body(commit).subarray(0, 5)))).toBe(true); // cut short
    expect(d.push(c.sealer.seal(body(commit)))).toBe(true);
    expect(problems.map(([k]) => k)).toEqual(["malformed"]);
    expect(got).toEqual([commit]);
  });
});
