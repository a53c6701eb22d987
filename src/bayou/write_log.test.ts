import { describe, expect, it } from "vitest";
import { InvariantError } from "../protocol/assert.js";
import { WriteLog, type Op, type Write } from "./write_log.js";

const put = (song: string, url: string): Op => ({ kind: "put", song, url });
const del = (song: string): Op => ({ kind: "delete", song });
const w = (server: string, stamp: number, op: Op, csn: number | null = null): Write => ({
  server,
  stamp,
  op,
  csn,
});

function check(log: WriteLog): void {
  expect(new Map(log.db)).toEqual(log.replay());
}

describe("write log", () => {
  it("orders tentative writes by stamp then name, undoing and redoing", () => {
    const log = new WriteLog();
    log.insertTentative(w("<1,R>", 5, put("s", "late")));
    check(log);
    log.insertTentative(w("<2,R>", 3, put("s", "early")));
    check(log);
    expect(log.db.get("s")).toBe("late");
    log.insertTentative(w("R", 5, del("s"))); // same stamp: R sorts before <1,R>
    check(log);
    expect(log.db.get("s")).toBe("late");
    expect(log.printLog()).toEqual([
      "PUT:(s, early):FALSE",
      "DELETE:(s):FALSE",
      "PUT:(s, late):FALSE",
    ]);
    log.insertTentative(w("R", 9, del("s")));
    expect(log.db.has("s")).toBe(false);
    check(log);
  });

  it("commit moves a write into the stable prefix, in CSN order", () => {
    const log = new WriteLog();
    log.insertTentative(w("R", 1, put("a", "1")));
    log.insertTentative(w("<1,R>", 2, put("a", "2")));
    log.commit("<1,R>", 2, 1);
    check(log);
    expect(log.db.get("a")).toBe("1"); // the committed write now comes before the tentative one
    expect(log.printLog()).toEqual(["PUT:(a, 2):TRUE", "PUT:(a, 1):FALSE"]);
    log.appendStable(w("<5,R>", 7, del("a"), 2)); // a stable write it never had tentatively
    check(log);
    expect(log.db.get("a")).toBe("1");
    expect(log.csn).toBe(2);
    expect(() => log.commit("R", 1, 4)).toThrow(InvariantError);
    expect(() => log.insertTentative(w("R", 1, put("a", "x")))).toThrow(/already/);
  });

  it("membership writes change no value and print nothing", () => {
    const log = new WriteLog();
    log.insertTentative(w("R", 1, { kind: "create" }));
    log.insertTentative(w("R", 2, { kind: "retire" }));
    expect(log.printLog()).toEqual([]);
    expect(log.db.size).toBe(0);
  });

  it("random inserts and commits keep db == replay", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const log = new WriteLog();
    const servers = ["R", "<1,R>", "<2,R>", "<3,<1,R>>"];
    const stamps = new Map<string, number>();
    for (let i = 0; i < 300; i += 1) {
      const t = log.tentativeWrites();
      if (rnd(4) === 0 && t.length > 0) {
        const x = t[rnd(t.length)]!;
        log.commit(x.server, x.stamp, log.csn + 1);
      } else {
        const s = servers[rnd(servers.length)]!;
        const st = (stamps.get(s) ?? 0) + 1 + rnd(5);
        stamps.set(s, st);
        log.insertTentative(w(s, st, rnd(3) === 0 ? del(`k${rnd(3)}`) : put(`k${rnd(3)}`, `${i}`)));
      }
      check(log);
    }
  });

  it("truncation folds the stable prefix into the base, O and OSN", () => {
    const log = new WriteLog();
    log.appendStable(w("R", 1, put("a", "1"), 1));
    log.appendStable(w("<1,R>", 4, put("b", "2"), 2));
    log.appendStable(w("R", 6, del("a"), 3));
    log.insertTentative(w("<1,R>", 8, put("c", "3")));
    log.truncate(2);
    expect(log.omitted.osn).toBe(2);
    expect(log.omitted.o.toString()).toBe("{<1,R>:4 R:1}");
    expect(log.csn).toBe(3);
    expect(log.printLog()).toEqual(["DELETE:(a):TRUE", "PUT:(c, 3):FALSE"]);
    expect(log.baseCopy().db).toEqual(
      new Map([
        ["a", "1"],
        ["b", "2"],
      ]),
    );
    check(log);
    expect(() => log.truncate(9)).toThrow(InvariantError);
  });
});
