import { describe, expect, it } from "vitest";
import { InvariantError } from "../protocol/assert.js";
import { ServerCore } from "./server_core.js";
import { VersionVector } from "./vectors.js";

const none = new VersionVector();
const put = (song: string, url: string) => ({ kind: "put", song, url }) as const;

function pair(): [ServerCore, ServerCore] {
  const p = ServerCore.root();
  const name = p.createServer();
  return [p, ServerCore.join(name, p.antiEntropyFor(ServerCore.joinRequest()))];
}

const ae = (from: ServerCore, to: ServerCore) =>
  to.receive(from.antiEntropyFor(to.antiEntropyRequest()));

describe("ServerCore", () => {
  it("a joining server gets its recursive name and its creator's log", () => {
    const [p, s] = pair();
    expect(s.name).toBe("<1,R>");
    expect(s.vector().toString()).toBe("{<1,R>:0 R:1}");
    expect(s.csn).toBe(1); // the creation write, committed by the primary
    expect(s.logicalClock).toBe(1);
    expect(p.vector().get("<1,R>")).toBe(0);
  });

  it("the primary commits its own clients' writes at once, others when it receives them", () => {
    const [p, s] = pair();
    expect(p.clientWrite(put("a", "1"), none).accepted).toBe(true);
    expect(s.clientWrite(put("b", "2"), none).accepted).toBe(true);
    expect(p.printLog()).toEqual(["PUT:(a, 1):TRUE"]);
    expect(s.printLog()).toEqual(["PUT:(b, 2):FALSE"]);
    ae(s, p);
    expect(p.printLog()).toEqual(["PUT:(a, 1):TRUE", "PUT:(b, 2):TRUE"]);
    // Back to s: a new stable write and a commit notification for the one it has tentatively.
    const batch = p.antiEntropyFor(s.antiEntropyRequest());
    expect(batch.items.map((i) => i.kind)).toEqual(["write", "commit"]);
    s.receive(batch);
    expect(s.printLog()).toEqual(p.printLog());
    expect(s.wouldMove(p.antiEntropyRequest())).toBe(false);
    expect(p.wouldMove(s.antiEntropyRequest())).toBe(false);
  });

  it("reads: ERR_DEP first, then the value or ERR_KEY", () => {
    const [p, s] = pair();
    const w = p.clientWrite(put("k", "v"), none);
    if (!w.accepted) throw new Error("dropped");
    const deps = new VersionVector([[w.write.server, w.write.stamp]]);
    expect(s.read("k", deps).kind).toBe("err_dep");
    expect(s.read("k", none).kind).toBe("err_key");
    expect(s.clientWrite({ kind: "delete", song: "k" }, deps).accepted).toBe(false);
    expect(s.printLog()).toEqual([]);
    ae(p, s);
    const r = s.read("k", deps);
    expect(r.kind === "value" && r.url).toBe("v");
    expect(r.kind === "value" && r.relevant.toString()).toBe("{R:2}");
  });

  it("tentative writes sort by stamp, then name; the primary's order wins at the end", () => {
    const p = ServerCore.root();
    const a = ServerCore.join(p.createServer(), p.antiEntropyFor(ServerCore.joinRequest()));
    const b = ServerCore.join(p.createServer(), p.antiEntropyFor(ServerCore.joinRequest()));
    b.clientWrite(put("x", "b"), none); // stamp 3 at <2,R>
    a.clientWrite(put("x", "a"), none); // stamp 2 at <1,R>
    a.clientWrite(put("x", "a2"), none); // stamp 3 at <1,R>: ties b's, <1,R> sorts first
    ae(a, b);
    expect(b.printLog()).toEqual(["PUT:(x, a):FALSE", "PUT:(x, a2):FALSE", "PUT:(x, b):FALSE"]);
    expect(b.db().get("x")).toBe("b");
    ae(b, p); // the primary commits in the order it receives: b's log order
    ae(p, a);
    expect(a.printLog()).toEqual(["PUT:(x, a):TRUE", "PUT:(x, a2):TRUE", "PUT:(x, b):TRUE"]);
  });

  it("a retiring ordinary server hands its writes over and leaves every vector", () => {
    const [p, s] = pair();
    s.clientWrite(put("a", "1"), none);
    p.receive(s.retireTo(p.antiEntropyRequest()));
    expect(p.printLog()).toEqual(["PUT:(a, 1):TRUE"]);
    expect(p.vector().has(s.name)).toBe(false);
    expect(s.isRetired).toBe(true);
    expect(() => s.antiEntropyRequest()).toThrow(InvariantError);
  });

  it("a retiring primary hands its role to the receiver, which commits its tentative writes", () => {
    const [p, s] = pair();
    s.clientWrite(put("a", "1"), none);
    s.receive(p.retireTo(s.antiEntropyRequest()));
    expect(s.isPrimary).toBe(true);
    expect(s.vector().has("R")).toBe(false);
    expect(s.printLog()).toEqual(["PUT:(a, 1):TRUE"]);
  });

  it("kicker: a server that forgot a retired one does not take it back from one that has not", () => {
    const p = ServerCore.root();
    const x = ServerCore.join(p.createServer(), p.antiEntropyFor(ServerCore.joinRequest()));
    const y = ServerCore.join(p.createServer(), p.antiEntropyFor(ServerCore.joinRequest()));
    ae(p, x); // x learns of y
    expect(x.vector().has(y.name)).toBe(true);
    y.clientWrite(put("a", "1"), none);
    ae(y, x); // x has y's write, not its retirement
    p.receive(y.retireTo(p.antiEntropyRequest()));
    expect(p.vector().has(y.name)).toBe(false);
    // x still has y's entry; p forgot y. Either direction must leave y forgotten at p.
    ae(x, p);
    expect(p.vector().has(y.name)).toBe(false);
    ae(p, x);
    expect(x.vector().has(y.name)).toBe(false);
    expect(x.printLog()).toEqual(["PUT:(a, 1):TRUE"]);
    ae(x, p);
    expect(p.vector().has(y.name)).toBe(false);
    expect(p.wouldMove(x.antiEntropyRequest())).toBe(false);
    expect(x.wouldMove(p.antiEntropyRequest())).toBe(false);
  });

  it("a receiver behind the sender's truncation gets a full transfer and keeps its own writes", () => {
    const [p, s] = pair();
    p.clientWrite(put("a", "1"), none);
    p.clientWrite(put("b", "2"), none);
    s.clientWrite(put("c", "3"), none);
    p.truncate(2);
    const batch = p.antiEntropyFor(s.antiEntropyRequest());
    expect(batch.full).not.toBeNull();
    s.receive(batch);
    expect(new Map(s.db())).toEqual(
      new Map([
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
      ]),
    );
    expect(s.printLog()).toEqual(["PUT:(b, 2):TRUE", "PUT:(c, 3):FALSE"]);
    expect(new Map(s.db())).toEqual(s.replayDb());
    ae(s, p);
    expect(p.printLog()).toEqual(["PUT:(b, 2):TRUE", "PUT:(c, 3):TRUE"]);
  });
});
