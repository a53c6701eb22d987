// The replicated state's rules. Every rank's state machine is yasp-kv's KvMachine seen through
// CheckedKv, which records each command applied and its result in one cluster-wide AppliedLog.
// At the end of a converged run: a fresh KvMachine replaying the commands the ranks applied must
// give the same results, every submit must have resolved with the result of its seq, and every
// rank must have applied up to its commit index and hold the same state hash as the replay.
import type { StateMachine } from "../ports.js";
import { KvMachine } from "../kv/kv_machine.js";

/** Violations reported per rule at most (the first ones say what broke; the rest is noise). */
const MAX_REPORTED = 5;

/** What the ranks applied, by seq: the command, and the result the first rank to apply it got. */
export class AppliedLog {
  private readonly cmds: (Uint8Array | undefined)[] = [];
  private readonly results: (string | undefined)[] = [];
  private readonly firstBy: number[] = [];
  readonly problems: string[] = [];
  private mismatches = 0;

  record(me: number, seq: number, cmd: Uint8Array, result: unknown): void {
    const got = JSON.stringify(result);
    const known = this.cmds[seq];
    if (known === undefined) {
      this.cmds[seq] = cmd;
      this.results[seq] = got;
      this.firstBy[seq] = me;
      return;
    }
    const first = this.firstBy[seq];
    if (!sameBytes(known, cmd))
      this.report(`state: seq ${seq}: rank ${me} applied another command than rank ${first}`);
    else if (got !== this.results[seq])
      this.report(
        `state: seq ${seq}: rank ${me} got ${got}, rank ${first} got ${this.results[seq]}`,
      );
  }

  /** Replay every command applied (in seq order) on a fresh machine up to seq `upTo` (inclusive):
   * its results by seq and its state hash. Results that differ from the first applier's are
   * violations (that rank's state was already wrong). */
  replay(upTo: number): { results: (string | undefined)[]; hash: string } {
    const kv = new KvMachine();
    const results: (string | undefined)[] = [];
    for (let seq = 0; seq <= upTo && seq < this.cmds.length; seq++) {
      const cmd = this.cmds[seq];
      if (cmd === undefined) continue;
      const got = JSON.stringify(kv.apply(seq, cmd));
      results[seq] = got;
      if (got !== this.results[seq])
        this.report(
          `state: seq ${seq}: rank ${this.firstBy[seq]} got ${this.results[seq]}, a fresh replay ${got}`,
        );
    }
    return { results, hash: kv.stateHash() };
  }

  /** The last seq any rank applied a command at (-1: none). */
  get lastSeq(): number {
    return this.cmds.length - 1;
  }

  private report(line: string): void {
    if (this.mismatches++ < MAX_REPORTED) this.problems.push(line);
  }
}

/** A KvMachine whose applies are recorded in the cluster's AppliedLog. */
export class CheckedKv implements StateMachine {
  readonly kv = new KvMachine();

  constructor(
    private readonly me: number,
    private readonly log: AppliedLog,
  ) {}

  apply(seq: number, command: Uint8Array): unknown {
    const result = this.kv.apply(seq, command);
    this.log.record(this.me, seq, command, result);
    return result;
  }

  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }

  restore(snapshot: Uint8Array, seq: number): void {
    this.kv.restore(snapshot, seq);
  }

  stateHash(): string {
    return this.kv.stateHash();
  }
}

/** A submit that resolved: on which rank, at which seq, with what result. */
export interface Answer {
  rank: number;
  seq: number;
  result: unknown;
}

/** Where a rank ended: one past its last commit, the last seq applied, its state hash. */
export interface FinalState {
  commitIndex: number;
  appliedSeq: number;
  hash: string;
}

/** The end-of-run rules (call them only when the run converged: before that, ranks may differ). */
export function checkFinalState(
  log: AppliedLog,
  ranks: readonly FinalState[],
  answers: readonly Answer[],
): string[] {
  const violations: string[] = [];
  const say = (rank: number, r: FinalState) =>
    `rank ${rank} applied to seq ${r.appliedSeq} (commit index ${r.commitIndex}), hash ${r.hash.slice(0, 12)}`;
  ranks.forEach((r, rank) => {
    if (r.appliedSeq !== r.commitIndex - 1)
      violations.push(`state: ${say(rank, r)}: not applied up to its last commit`);
  });
  const first = ranks[0];
  if (first && ranks.some((r) => r.appliedSeq !== first.appliedSeq || r.hash !== first.hash))
    violations.push(`state: ranks differ: ${ranks.map((r, rank) => say(rank, r)).join("; ")}`);
  const upTo = first?.appliedSeq ?? log.lastSeq;
  const { results, hash } = log.replay(upTo);
  violations.push(...log.problems);
  if (first && log.lastSeq > upTo)
    violations.push(`state: a command was applied at seq ${log.lastSeq}, past seq ${upTo}`);
  if (first && violations.length === 0 && hash !== first.hash)
    violations.push(
      `state: every rank holds ${first.hash.slice(0, 12)} at seq ${upTo}, a fresh replay of the commands ${hash.slice(0, 12)}`,
    );
  let wrong = 0;
  for (const a of answers) {
    const want = results[a.seq];
    const got = JSON.stringify(a.result);
    if (got === want) continue;
    if (wrong++ < MAX_REPORTED)
      violations.push(
        `state: a submit on rank ${a.rank} resolved at seq ${a.seq} with ${got}; the command there gives ${want ?? "nothing (no command applied)"}`,
      );
  }
  return violations;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
