// `npx tsx src/harness/bayou_inproc.ts [--print] <dir-or-.test-files>...`: runs Bayou master
// scripts (bayou-spec.md) in process, over pure ServerCores and ClientSessions (no processes, no
// timers; deterministic), and compares each <name>.test's output with <name>.sol exactly.
// `--print` prints each script's output instead of comparing.
//
// The master's semantics as this runner reads the spec:
// - Ids (servers and clients) share one namespace; a command naming an unknown or retired id, or
//   reusing a taken one, is ignored (a note on stderr when BAYOU_DEBUG is set).
// - The first server is the root and the primary. A later one is created by the primary if it is
//   live, else by the first live server in join order (the new server is linked to every server,
//   so any live one can create it), and starts from its creator's anti-entropy batch.
// - Links (server–server and client–server) are up unless cut. restoreConnection of a client and
//   a server restores that link and moves the client there.
// - Anti-entropy runs only when the master runs it (the real master's --no-gossip), so outputs
//   are deterministic. `stabilize`: rounds over ordered linked pairs (a→b, join order) running
//   every session that would move something, until a round runs none. A restored server link:
//   sessions a→b, b→a until a pass moves nothing. A client moved to a server: a session into it
//   from each server linked to it (join order). `start` after `pause`: one round. While paused
//   none of these runs.
// - retireServer hands off to the first live server (join order) linked to it, which then runs a
//   session with each server linked to it; with none linked it cannot complete (the real master
//   would block forever) and is ignored with a note.
// - put/get/delete of a client cut from its server (or whose server retired) cannot reach any
//   server (a client talks to one server at a time), so the command is skipped with a note: no
//   write, no output line (the real master would block).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { firstDiff, testFiles, textLines } from "../bayou/cli/check.js";
import { parseScript, type Command, type Id } from "../bayou/script.js";
import { ServerCore } from "../bayou/server_core.js";
import { ClientSession } from "../bayou/session.js";

interface Client {
  session: ClientSession;
  server: Id;
}

export class BayouInproc {
  readonly out: string[] = [];
  private readonly servers = new Map<Id, ServerCore>();
  private readonly clients = new Map<Id, Client>();
  private readonly retired = new Set<Id>();
  private readonly cut = new Set<string>();
  private paused = false;
  sessions = 0;

  constructor(private readonly note: (msg: string) => void = () => {}) {}

  /** Runs commands in order; returns the stdout lines. */
  run(commands: readonly Command[]): string[] {
    for (const c of commands) this.apply(c);
    return this.out;
  }

  apply(c: Command): void {
    switch (c.kind) {
      case "joinServer":
        return this.joinServer(c.id);
      case "retireServer":
        return this.retireServer(c.id);
      case "joinClient":
        return this.joinClient(c.client, c.server);
      case "breakConnection":
        return this.link(c.a, c.b, false);
      case "restoreConnection":
        return this.link(c.a, c.b, true);
      case "pause":
      case "start": {
        const resumed = c.kind === "start" && this.paused;
        this.paused = c.kind === "pause";
        if (resumed) this.round();
        return;
      }
      case "stabilize":
        return this.stabilize();
      case "printLog": {
        const s = this.servers.get(c.id);
        if (s === undefined) return this.note(`printLog: no live server ${c.id}`);
        this.out.push(...s.printLog());
        return;
      }
      case "put":
        return this.write(c.client, { kind: "put", song: c.song, url: c.url });
      case "delete":
        return this.write(c.client, { kind: "delete", song: c.song });
      case "get":
        return this.get(c.client, c.song);
    }
  }

  private taken(id: Id): boolean {
    return this.servers.has(id) || this.clients.has(id) || this.retired.has(id);
  }

  private static pair(a: Id, b: Id): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  private linked(a: Id, b: Id): boolean {
    return !this.cut.has(BayouInproc.pair(a, b));
  }

  private joinServer(id: Id): void {
    if (this.taken(id)) return this.note(`joinServer: id ${id} is taken`);
    if (this.servers.size === 0) {
      this.servers.set(id, ServerCore.root());
      return;
    }
    const live = [...this.servers.values()];
    const creator = live.find((s) => s.isPrimary) ?? live[0]!;
    const name = creator.createServer();
    this.servers.set(id, ServerCore.join(name, creator.antiEntropyFor(ServerCore.joinRequest())));
  }

  private retireServer(id: Id): void {
    const s = this.servers.get(id);
    if (s === undefined) return this.note(`retireServer: no live server ${id}`);
    const target = [...this.servers.keys()].find((t) => t !== id && this.linked(t, id));
    if (target === undefined)
      return this.note(`retireServer ${id}: no linked server to hand off to`);
    const r = this.servers.get(target)!;
    r.receive(s.retireTo(r.antiEntropyRequest()));
    this.servers.delete(id);
    this.retired.add(id);
    if (this.paused) return;
    for (const b of this.servers.keys())
      if (b !== target && this.linked(target, b)) this.session(target, b);
  }

  private joinClient(cid: Id, sid: Id): void {
    if (this.taken(cid)) return this.note(`joinClient: id ${cid} is taken`);
    if (!this.servers.has(sid)) return this.note(`joinClient ${cid}: no live server ${sid}`);
    this.clients.set(cid, { session: new ClientSession(), server: sid });
  }

  /** Cuts or restores a server–server or client–server link; restoring moves the client. */
  private link(a: Id, b: Id, up: boolean): void {
    const what = up ? "restoreConnection" : "breakConnection";
    const ok = (x: Id, y: Id) =>
      this.servers.has(x) && (this.servers.has(y) || this.clients.has(y));
    if (a === b || !(ok(a, b) || ok(b, a))) return this.note(`${what} ${a} ${b}: ignored`);
    const key = BayouInproc.pair(a, b);
    if (!up) {
      this.cut.add(key);
      return;
    }
    this.cut.delete(key);
    const client = this.clients.get(a) ?? this.clients.get(b);
    if (client !== undefined) client.server = this.clients.has(a) ? b : a;
    if (this.paused) return;
    if (client !== undefined) {
      for (const p of this.servers.keys())
        if (p !== client.server && this.linked(p, client.server)) this.session(p, client.server);
      return;
    }
    for (let moved = true; moved;) moved = this.session(a, b) || this.session(b, a);
  }

  /** One anti-entropy session a→b, when it would move something; whether it did. */
  private session(a: Id, b: Id): boolean {
    const sa = this.servers.get(a)!;
    const sb = this.servers.get(b)!;
    const req = sb.antiEntropyRequest();
    if (!sa.wouldMove(req)) return false;
    sb.receive(sa.antiEntropyFor(req));
    this.sessions += 1;
    return true;
  }

  /** Each server in join order runs a session with every server linked to it; whether any moved. */
  private round(): boolean {
    let moved = false;
    const ids = [...this.servers.keys()];
    for (const a of ids)
      for (const b of ids) if (a !== b && this.linked(a, b)) moved = this.session(a, b) || moved;
    return moved;
  }

  /** The client and its server, or null (with a note) when it cannot reach one. */
  private reach(cid: Id, what: string): { c: Client; s: ServerCore } | null {
    const c = this.clients.get(cid);
    const s = c === undefined ? undefined : this.servers.get(c.server);
    if (c === undefined) this.note(`${what}: no client ${cid}`);
    else if (s === undefined || !this.linked(cid, c.server)) {
      this.note(`${what}: client ${cid} cannot reach server ${c.server}; skipped`);
    } else return { c, s };
    return null;
  }

  private write(
    cid: Id,
    op: { kind: "put"; song: string; url: string } | { kind: "delete"; song: string },
  ): void {
    const at = this.reach(cid, op.kind);
    if (at === null) return;
    const r = at.s.clientWrite(op, at.c.session.deps());
    at.c.session.afterWrite(r);
    if (!r.accepted) this.note(`${op.kind} ${cid} ${op.song}: dropped by ${at.c.server}`);
  }

  private get(cid: Id, song: string): void {
    const at = this.reach(cid, "get");
    if (at === null) return;
    const r = at.s.read(song, at.c.session.deps());
    at.c.session.afterRead(r);
    if (r.kind === "err_dep") this.out.push(`${song}:ERR_DEP`);
    else this.out.push(r.kind === "err_key" ? `${song}:ERR_KEY` : `${song}:${r.url}`);
  }

  /** Rounds of sessions over ordered linked pairs until no session would move anything. */
  private stabilize(): void {
    if (this.paused) return this.note("stabilize: paused, nothing moves");
    while (this.round());
  }
}

/** Runs one script text; problems in it go to `note`. */
export function runScript(text: string, note: (msg: string) => void = () => {}): string[] {
  const { commands, problems } = parseScript(text);
  problems.forEach(note);
  return new BayouInproc(note).run(commands);
}

function main(argv: string[]): number {
  const print = argv.includes("--print");
  const paths = argv.filter((a) => a !== "--print");
  if (paths.length === 0) {
    process.stderr.write("usage: bayou_inproc [--print] <dir-or-.test-files>...\n");
    return 2;
  }
  const debug = process.env.BAYOU_DEBUG !== undefined && process.env.BAYOU_DEBUG !== "";
  let failed = 0;
  const files = testFiles(paths);
  for (const file of files) {
    const name = basename(file, ".test");
    const note = (msg: string) => debug && process.stderr.write(`[${name}] ${msg}\n`);
    const actual = runScript(readFileSync(file, "utf8"), note);
    if (print) {
      process.stdout.write(actual.map((l) => `${l}\n`).join(""));
      continue;
    }
    const diff = firstDiff(
      textLines(readFileSync(file.replace(/\.test$/, ".sol"), "utf8")),
      actual,
    );
    if (diff === null) process.stdout.write(`pass ${name}\n`);
    else {
      failed += 1;
      process.stdout.write(`FAIL ${name}: ${diff}\n`);
    }
  }
  if (!print) process.stdout.write(`${files.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && basename(process.argv[1]).startsWith("bayou_inproc")) {
  process.exitCode = main(process.argv.slice(2));
}
