// The replicated-state rules on hand-made runs: they pass what agrees and name what does not.
import { describe, expect, it } from "vitest";
import { encodeCommand } from "../kv/commands.js";
import { AppliedLog, CheckedKv, checkFinalState, type FinalState } from "./state_checks.js";

const put = (key: string, b: number) =>
  encodeCommand({ op: "put", key, value: Uint8Array.of(b), ttlMs: 0, atMs: 1000 });
const written = (version: number) => ({ kind: "written", version });

/** Ranks that applied cmds at seqs 0, 1, ... (seq by seq, like a rank), each a CheckedKv. */
function ranksApplying(log: AppliedLog, count: number, cmds: Uint8Array[]): CheckedKv[] {
  return Array.from({ length: count }, (_, me) => {
    const m = new CheckedKv(me, log);
    cmds.forEach((c, seq) => m.apply(seq, c));
    return m;
  });
}

const final = (m: CheckedKv, appliedSeq: number): FinalState => ({
  commitIndex: appliedSeq + 1,
  appliedSeq,
  hash: m.stateHash(),
});

describe("the replicated-state rules", () => {
  const cmds = [put("k0", 1), put("k1", 2), put("k0", 3)];

  it("pass ranks that applied the same commands, and submits answered with their seq's result", () => {
    const log = new AppliedLog();
    const ranks = ranksApplying(log, 3, cmds);
    const answers = [{ rank: 1, seq: 2, result: written(3) }];
    expect(
      checkFinalState(
        log,
        ranks.map((m) => final(m, 2)),
        answers,
      ),
    ).toEqual([]);
  });

  it("name the ranks, seqs and hashes when a rank's state differs (a skipped install)", () => {
    const log = new AppliedLog();
    const [a, b] = ranksApplying(log, 2, cmds) as [CheckedKv, CheckedKv];
    // A rank that missed seq 1 (as if it ignored a snapshot covering it) and applied seq 2.
    const c = new CheckedKv(2, log);
    c.apply(0, cmds[0] as Uint8Array);
    c.apply(2, cmds[2] as Uint8Array);
    const v = checkFinalState(log, [final(a, 2), final(b, 2), final(c, 2)], []);
    expect(v[0]).toMatch(
      /^state: ranks differ: rank 0 applied to seq 2 .*; rank 2 applied to seq 2/,
    );
    expect(v[0]).toContain(a.stateHash().slice(0, 12));
    expect(v[0]).toContain(c.stateHash().slice(0, 12));
  });

  it("fail a rank that did not apply up to its commit index", () => {
    const log = new AppliedLog();
    const [a] = ranksApplying(log, 1, cmds) as [CheckedKv];
    const v = checkFinalState(log, [{ ...final(a, 2), commitIndex: 5 }], []);
    expect(v[0]).toMatch(
      /rank 0 applied to seq 2 \(commit index 5\).*not applied up to its last commit/,
    );
  });

  it("fail a submit whose result is not what its seq's command gives", () => {
    const log = new AppliedLog();
    const ranks = ranksApplying(log, 2, cmds);
    const answers = [
      { rank: 0, seq: 2, result: written(2) },
      { rank: 1, seq: 7, result: written(1) },
    ];
    expect(
      checkFinalState(
        log,
        ranks.map((m) => final(m, 2)),
        answers,
      ),
    ).toEqual([
      'state: a submit on rank 0 resolved at seq 2 with {"kind":"written","version":2}; the command there gives {"kind":"written","version":3}',
      'state: a submit on rank 1 resolved at seq 7 with {"kind":"written","version":1}; the command there gives nothing (no command applied)',
    ]);
  });

  it("catch two ranks applying different commands at one seq", () => {
    const log = new AppliedLog();
    new CheckedKv(0, log).apply(0, put("k0", 1));
    new CheckedKv(1, log).apply(0, put("k0", 2));
    expect(log.problems).toEqual(["state: seq 0: rank 1 applied another command than rank 0"]);
  });
});
