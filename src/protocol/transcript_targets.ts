// The processors a transcript script drives (see testdata/README.md). A script's first line names
// one and its configuration, e.g. `leader me=0 n=3 timeout=100000 maxPerRound=4 batch=2 window=4`;
// this file builds it and says which inputs it takes, so a script that feeds a processor something
// the real rank never routes to it fails as a script error, not as odd output.
import { ConsensusHandler } from "./consensus_handler.js";
import type { Effect, ProcessorLogic } from "./effects.js";
import { FollowerHandler } from "./follower_handler.js";
import { LeaderHandler } from "./leader_handler.js";
import type { WireMsg } from "./messages.js";
import { MsgHandler } from "./msg_handler.js";
import {
  formatFields,
  formatValue,
  parseFields,
  parseInput,
  parseNumber,
  type AnyInput,
} from "./transcript_syntax.js";

/** A step of a script: it runs at nowUs and pushes its effects into out. */
export type StepAction = (nowUs: number, out: Effect[]) => void;

/** One processor under test, seen through what a script can do to it. */
export interface Target {
  /** The step a command line means for this processor; undefined if the verb is not one of its inputs. */
  compile(verb: string, rest: string): StepAction | undefined;
  onTime(nowUs: number, out: Effect[]): void;
  endStep(nowUs: number, out: Effect[]): void;
  wakeAt(): number;
  /** One line each for the `state` and `stats` queries. */
  state(): string;
  stats(): string;
  /** The time of the first step (the time the processor was created at). */
  readonly startUs: number;
  /** What this processor takes, for error messages. */
  readonly inputs: string;
}

/** What a processor takes: its input verbs, the wire messages it may be delivered, extra verbs. */
interface Spec<I> {
  logic: ProcessorLogic<I>;
  verbs: readonly string[];
  delivers: readonly WireMsg["t"][] | "all";
  extra?: Record<string, StepAction>;
  state(): string;
  stats(): object;
  startUs: number;
}

function target<I>(spec: Spec<I>): Target {
  const { logic } = spec;
  const extraVerbs = Object.keys(spec.extra ?? {});
  const delivers = spec.delivers === "all" ? "any message" : spec.delivers.join("|");
  return {
    compile(verb, rest) {
      const extra = spec.extra?.[verb];
      if (extra) return extra;
      if (!spec.verbs.includes(verb)) return undefined;
      const input: AnyInput | undefined = parseInput(verb, rest);
      if (input === undefined) return undefined;
      if (input.kind === "net" && spec.delivers !== "all" && !spec.delivers.includes(input.msg.t)) {
        throw new Error(`this processor is delivered ${delivers}, not ${input.msg.t}`);
      }
      // The checks above are the routing of the real rank: this input is one of I.
      return (nowUs, out) => logic.onInput(input as I, nowUs, out);
    },
    onTime: (nowUs, out) => logic.onTime(nowUs, out),
    endStep: (nowUs, out) => logic.endStep?.(nowUs, out),
    wakeAt: () => logic.wakeAt(),
    state: () => `state ${spec.state()}`,
    stats: () => `stats ${formatFields(spec.stats())}`,
    startUs: spec.startUs,
    inputs: [
      ...spec.verbs.map((v) => (v === "deliver" ? `deliver ${delivers}` : v)),
      ...extraVerbs,
    ].join(", "),
  };
}

/** The `key=value` configuration of a setup line (an unknown key is an error, a missing one too
 * unless it has a default). */
class Setup {
  private readonly fields: Map<string, string>;

  constructor(rest: string, keys: readonly string[]) {
    this.fields = parseFields(rest, keys);
  }

  num(key: string, fallback?: number): number {
    const text = this.fields.get(key);
    if (text !== undefined) return parseNumber(text, key);
    if (fallback === undefined) throw new Error(`the setup line needs ${key}=`);
    return fallback;
  }

  bool(key: string): boolean {
    const text = this.fields.get(key) ?? "false";
    if (text !== "true" && text !== "false")
      throw new Error(`${key}: expected true or false, got "${text}"`);
    return text === "true";
  }
}

function msgTarget(rest: string): Target {
  const s = new Setup(rest, ["me", "n", "round", "timeout"]);
  const h = new MsgHandler(s.num("me"), s.num("n"), s.num("round", 0), s.num("timeout", 100_000));
  return target({
    logic: h,
    verbs: ["deliver", "bump"],
    delivers: "all",
    extra: { start: (_nowUs, out) => h.start(out) },
    state: () => `round=${h.round}`,
    stats: () => h.stats,
    startUs: 0,
  });
}

function followerTarget(rest: string): Target {
  const s = new Setup(rest, ["me", "n", "timeout", "start"]);
  const startUs = s.num("start", 0);
  const h = new FollowerHandler(s.num("me"), s.num("n"), s.num("timeout"), startUs);
  return target({
    logic: h,
    verbs: ["deliver", "round", "local"],
    delivers: ["read", "impose", "readIndex"],
    state: () => {
      // The accepted entries as runs, in the form a gather reports them.
      const runs = h
        .snapshotRecords()
        .flatMap((r) => (r.r === "accept" ? [[r.seq, r.round, r.ids]] : []));
      return `promised=${h.promisedRound} floor=${h.state().floor} accepted=${formatValue(runs)}`;
    },
    stats: () => h.stats,
    startUs,
  });
}

function leaderTarget(rest: string): Target {
  const s = new Setup(rest, ["me", "n", "timeout", "maxPerRound", "batch", "window", "restored"]);
  const cfg = {
    me: s.num("me"),
    n: s.num("n"),
    timeoutUs: s.num("timeout"),
    maxPerRound: s.num("maxPerRound"),
    batch: s.num("batch"),
    window: s.num("window"),
  };
  const h = new LeaderHandler(cfg, s.num("restored", -1));
  return target({
    logic: h,
    verbs: ["deliver", "round", "local"],
    delivers: ["gather", "ack", "offer", "grant"],
    state: () => (h.leading ? `leading round=${h.leading.round} phase=${h.leading.phase}` : "idle"),
    stats: () => h.stats,
    startUs: 0,
  });
}

function consensusTarget(rest: string): Target {
  const s = new Setup(rest, ["me", "n", "timeout", "fetchMax", "created"]);
  const createdUs = s.num("created", 0);
  const h = new ConsensusHandler({
    me: s.num("me"),
    n: s.num("n"),
    timeoutUs: s.num("timeout"),
    fetchMax: s.num("fetchMax"),
    maxSnapshotBytes: 1 << 20,
    heldBytes: 1 << 20,
    createdUs,
  });
  return target({
    logic: h,
    verbs: ["deliver", "round", "propose", "note", "readBarrier", "submit", "snapshot"],
    delivers: [
      "commit",
      "status",
      "fetch",
      "fetched",
      "want",
      "readIndexOk",
      "snapFetch",
      "snapChunk",
    ],
    state: () =>
      `commitIndex=${h.commitIndex} backlog=${h.backlog} gap=${h.hasGap} committed=${formatValue(h.committedIds())}`,
    stats: () => h.stats,
    startUs: createdUs,
  });
}

const TARGETS: Record<string, (rest: string) => Target> = {
  msg: msgTarget,
  follower: followerTarget,
  leader: leaderTarget,
  consensus: consensusTarget,
};

/** The processor a setup line names, built. */
export function setUp(verb: string, rest: string): Target {
  const make = TARGETS[verb];
  if (!make)
    throw new Error(
      `the first line names the processor: one of ${Object.keys(TARGETS).join(", ")}, then its key=value configuration`,
    );
  return make(rest);
}
