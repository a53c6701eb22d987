import { describe, expect, it } from "vitest";
import { BayouNet } from "./bayou_net.test_helper.js";

describe("Bayou net (pure cores)", () => {
  it("spec example 1", () => {
    const n = new BayouNet();
    n.joinServer("0");
    n.joinServer("1");
    n.joinClient("2", "1");
    n.put("2", "song1", "url1");
    n.stabilize();
    expect(n.printLog("0")).toEqual(["PUT:(song1, url1):TRUE"]);
    expect(n.get("2", "song1")).toBe("song1:url1");
  });

  it("spec example 2", () => {
    const n = new BayouNet();
    n.joinServer("0");
    n.joinServer("1");
    n.breakLink("0", "1");
    n.joinClient("2", "0");
    n.put("2", "k", "v");
    n.breakLink("2", "0");
    n.restoreLink("2", "1");
    expect(n.get("2", "k")).toBe("k:ERR_DEP");
    expect(n.delete("2", "k")).toBe(false);
    n.restoreLink("0", "1");
    n.stabilize();
    expect(n.get("2", "k")).toBe("k:v");
    expect(n.printLog("1")).toEqual(["PUT:(k, v):TRUE"]);
  });

  it("two partitions converge to one tentative order each, then one stable order", () => {
    const n = new BayouNet(5);
    for (const id of ["0", "1", "2", "3", "4"]) n.joinServer(id);
    n.stabilize();
    for (const a of ["0", "1"]) for (const b of ["2", "3", "4"]) n.breakLink(a, b);
    n.joinClient("c1", "1");
    n.joinClient("c3", "3");
    n.joinClient("c4", "4");
    n.put("c3", "x", "three");
    n.put("c4", "x", "four");
    n.put("c1", "x", "one");
    n.put("c4", "y", "y4");
    n.stabilize();
    expect(n.printLog("2")).toEqual(n.printLog("3"));
    expect(n.printLog("3")).toEqual(n.printLog("4"));
    expect(n.printLog("3").every((l) => l.endsWith("FALSE"))).toBe(true);
    expect(n.printLog("1")).toEqual(["PUT:(x, one):TRUE"]);
    for (const a of ["0", "1"]) for (const b of ["2", "3", "4"]) n.restoreLink(a, b);
    n.stabilize();
    const final = n.printLog("0");
    expect(final).toHaveLength(4);
    expect(final.every((l) => l.endsWith("TRUE"))).toBe(true);
    for (const id of ["1", "2", "3", "4"]) expect(n.printLog(id)).toEqual(final);
  });

  it("random partitions and writes: stable logs stay prefixes, all converge", () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const n = new BayouNet(seed);
      const ids = ["0", "1", "2", "3", "4", "5"];
      for (const id of ids) n.joinServer(id);
      for (const id of ids) n.joinClient(`c${id}`, id);
      for (let step = 0; step < 60; step += 1) {
        const a = ids[n.rnd(ids.length)]!;
        const b = ids[n.rnd(ids.length)]!;
        const r = n.rnd(10);
        if (r === 0) n.breakLink(a, b);
        else if (r === 1) n.restoreLink(a, b);
        else if (r < 5) n.put(`c${a}`, `k${n.rnd(3)}`, `v${step}`);
        else if (r === 5) n.delete(`c${a}`, `k${n.rnd(3)}`);
        else n.gossip(2);
      }
      for (const a of ids) for (const b of ids) n.restoreLink(a, b);
      n.stabilize();
      const final = n.printLog("0");
      for (const id of ids) expect(n.printLog(id), `seed ${seed}`).toEqual(final);
      expect(final.every((l) => l.endsWith("TRUE"))).toBe(true);
    }
  });

  it("random writes, partitions and retirements (the primary too): the invariants hold", () => {
    for (let seed = 1; seed <= 30; seed += 1) {
      const n = new BayouNet(seed);
      const live = ["0", "1", "2", "3", "4"];
      for (const id of live) n.joinServer(id);
      for (let step = 0; step < 80; step += 1) {
        const a = live[n.rnd(live.length)]!;
        const b = live[n.rnd(live.length)]!;
        const r = n.rnd(12);
        if (r === 0) n.breakLink(a, b);
        else if (r === 1) n.restoreLink(a, b);
        else if (r === 2 && live.length > 2 && a !== b && n.linked(a, b)) {
          n.retireServer(a, b);
          live.splice(live.indexOf(a), 1);
        } else if (r < 7) {
          n.joinClient(`c${step}`, a);
          n.put(`c${step}`, `k${n.rnd(3)}`, `v${step}`);
        } else n.gossip(2);
      }
      for (const a of live) for (const b of live) n.restoreLink(a, b);
      n.stabilize();
      const final = n.printLog(live[0]!);
      for (const id of live) expect(n.printLog(id), `seed ${seed}`).toEqual(final);
    }
  });

  it("retirement of an ordinary server and of the primary twice in a row", () => {
    const n = new BayouNet(3);
    for (const id of ["0", "1", "2", "3"]) n.joinServer(id);
    n.joinClient("c", "2");
    n.put("c", "a", "1");
    n.retireServer("2", "3"); // ordinary: hands its write to 3
    n.joinClient("d", "3");
    n.put("d", "b", "2");
    expect(n.retireServer("0", "1")).toBe("1");
    expect(n.core("1").isPrimary).toBe(true);
    expect(n.retireServer("1", "3")).toBe("3");
    expect(n.core("3").isPrimary).toBe(true);
    n.stabilize();
    expect(n.printLog("3")).toEqual(["PUT:(a, 1):TRUE", "PUT:(b, 2):TRUE"]);
    expect([...n.servers.keys()]).toEqual(["3"]);
    expect(n.core("3").vector().keys()).toEqual([n.core("3").name]);
  });

  it("kicker: a retired server never comes back through gossip", () => {
    const n = new BayouNet(9);
    for (const id of ["0", "1", "2", "3"]) n.joinServer(id);
    n.joinClient("c", "2");
    n.put("c", "a", "1");
    n.stabilize(); // everyone has 2's write
    const gone = n.core("2").name;
    n.breakLink("0", "3");
    n.breakLink("1", "3");
    n.retireServer("2", "0");
    n.stabilize(); // 0 and 1 forgot it; 3 (cut off) still has its entry
    expect(n.core("1").vector().has(gone)).toBe(false);
    expect(n.core("3").vector().has(gone)).toBe(true);
    n.restoreLink("1", "3");
    n.session("3", "1"); // the one that remembers gossips to the one that forgot
    expect(n.core("1").vector().has(gone)).toBe(false);
    n.restoreLink("0", "3");
    n.stabilize();
    for (const id of ["0", "1", "3"]) expect(n.core(id).vector().has(gone)).toBe(false);
    for (const id of ["0", "1", "3"]) expect(n.printLog(id)).toEqual(["PUT:(a, 1):TRUE"]);
  });

  it("20 servers, a write at each, one stable log everywhere", () => {
    const n = new BayouNet(20);
    const ids = Array.from({ length: 21 }, (_, i) => `${i}`);
    for (const id of ids) n.joinServer(id);
    n.stabilize();
    const names = new Set(ids.map((id) => n.core(id).name));
    expect(names.size).toBe(21);
    for (const id of ids) {
      n.joinClient(`c${id}`, id);
      n.put(`c${id}`, `s${id}`, `u${id}`);
    }
    n.stabilize();
    const final = n.printLog("0");
    expect(final).toHaveLength(21);
    for (const id of ids) expect(n.printLog(id)).toEqual(final);
    expect(n.core("20").vector().size).toBe(21);
  });
});
