// The master's commands to one process and the answers (JSON lines on the child's stdin and
// stdout; direct calls in the simulator). Validated where they enter the process.
import { z } from "zod";
import { MAX_SERVERS, MAX_TEXT } from "./messages.js";

const node = z.number().int().min(0).max(1_000_000);
const text = z.string().min(1).max(MAX_TEXT);

export const controlSchema = z.discriminatedUnion("c", [
  /** Which process is which: node numbers of the live servers (join order) and their addresses. */
  z.object({
    c: z.literal("peers"),
    peers: z.array(z.tuple([node, z.string().max(256)])).max(MAX_SERVERS),
  }),
  /** Server: start as the first server (the root name, the primary). */
  z.object({ c: z.literal("root") }),
  /** Server: join through this creator (its creation write and its state). */
  z.object({ c: z.literal("join"), creator: node }),
  /** Cut or restore the link to a peer. A client restored to a server now talks to it. */
  z.object({ c: z.literal("link"), peer: node, up: z.boolean() }),
  /** Client: talk to this server. */
  z.object({ c: z.literal("attach"), server: node }),
  z.object({ c: z.literal("pause") }),
  z.object({ c: z.literal("start") }),
  /** Server: one anti-entropy session with every linked server (or with each of `peers` that is
   * linked); how many moved something. */
  z.object({ c: z.literal("round"), peers: z.array(node).max(MAX_SERVERS).optional() }),
  /** Server: write the retirement and hand everything to this server. */
  z.object({ c: z.literal("retire"), to: node }),
  z.object({ c: z.literal("printLog") }),
  /** Server: the whole log and roles (for the simulator's and tests' checks). */
  z.object({ c: z.literal("state") }),
  /** Client: a write, or a read (answered with the line the master prints). */
  z.object({ c: z.literal("put"), song: text, url: text }),
  z.object({ c: z.literal("delete"), song: text }),
  z.object({ c: z.literal("get"), song: text }),
]);

export type Control = z.infer<typeof controlSchema>;

/** One write as the state query shows it. */
export interface WriteView {
  server: string;
  stamp: number;
  csn: number | null;
  op: string;
}

export type Reply =
  | {
      ok: true;
      moved?: number;
      busy?: number;
      /** After a round: how many times this server's log has changed so far. */
      changes?: number;
      lines?: string[];
      outcome?: ClientOutcome;
    }
  | { ok: true; state: ServerState }
  | { ok: false; error: string };

export type ClientOutcome = "written" | "dropped" | "unreachable";

export interface ServerState {
  name: string;
  primary: boolean;
  writes: WriteView[];
  db: [string, string][];
  /** The DB equals a replay of the log from its base. */
  consistent: boolean;
}

/** A framed control line: the master's sequence number and the command. */
export const controlLineSchema = z.object({ n: z.number().int().min(0), ctl: controlSchema });
