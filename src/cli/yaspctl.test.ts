import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeKvServer } from "../client/fake_server.test_helper.js";
import { main } from "./yaspctl.js";
import { parseShellLine } from "./yaspctl_shell.js";

let server: FakeKvServer;
let secured: FakeKvServer;
let dir: string;

beforeAll(async () => {
  server = await FakeKvServer.start("fake");
  secured = await FakeKvServer.start("secured", undefined, { token: "token-123456" });
  dir = mkdtempSync(join(tmpdir(), "yaspctl-"));
});

afterAll(async () => {
  await server.close();
  await secured.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs yaspctl in-process; what it printed and its exit code. */
async function ctl(
  args: string[],
  opts: { stdin?: string; endpoint?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const stdout = { write: (c: string | Uint8Array) => (out += Buffer.from(c).toString()) };
  const stderr = { write: (c: string | Uint8Array) => (err += Buffer.from(c).toString()) };
  const endpoint = opts.env ? [] : ["--endpoints", opts.endpoint ?? server.endpoint];
  const code = await main([...endpoint, ...args], {
    stdout,
    stderr,
    env: opts.env ?? {},
    ...(opts.stdin !== undefined ? { stdin: Readable.from([opts.stdin]) } : {}),
  });
  return { code, out, err };
}

describe("yaspctl commands", () => {
  it("put, get, getm, cas, del", async () => {
    const put = await ctl(["put", "color", "green blue", "--ttl", "60"]);
    expect(put).toEqual({ code: 0, out: expect.stringMatching(/^OK \d+\n$/) as string, err: "" });
    const version = Number(put.out.split(" ")[1]);
    expect(await ctl(["get", "color"])).toEqual({ code: 0, out: "green blue\n", err: "" });
    const getm = await ctl(["getm", "color"]);
    expect(getm.out).toBe(`version ${version}, expires in 60 s, 10 bytes\ngreen blue\n`);
    const json = JSON.parse((await ctl(["--json", "get", "color"])).out) as Record<string, unknown>;
    expect(json).toMatchObject({ key: "color", value: "green blue", version });
    const bad = await ctl(["cas", "color", String(version + 100), "red"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe(
      `yaspctl: cas "color": version mismatch (the current version is ${version})\n`,
    );
    expect((await ctl(["cas", "color", String(version), "red"])).out).toMatch(/^OK \d+\n$/);
    expect((await ctl(["del", "color"])).out).toMatch(/^DELETED \d+\n$/);
    expect(await ctl(["get", "color"])).toEqual({
      code: 1,
      out: "",
      err: 'yaspctl: get "color": not found\n',
    });
  });

  it("put <key> without a value takes it from stdin, bytes as they are (as etcdctl)", async () => {
    expect((await ctl(["put", "doc"], { stdin: "line one\r\nline two\n" })).code).toBe(0);
    expect((await ctl(["get", "doc"])).out).toBe("line one\r\nline two\n\n");
    const none = await ctl(["put", "doc"]);
    expect([none.code, none.err]).toEqual([
      2,
      "yaspctl: put without a value reads it from stdin, and there is none\n",
    ]);
  });

  it("lists by prefix and by range, saying when the limit cut the list", async () => {
    for (const k of ["p/a", "p/b", "p/c", "q"]) await ctl(["put", k, k.toUpperCase()]);
    expect((await ctl(["get", "p/", "--prefix"])).out).toBe("p/a\nP/A\np/b\nP/B\np/c\nP/C\n");
    const cut = await ctl(["range", "p/b", "", "--limit", "2"]);
    expect(cut).toMatchObject({ code: 0, out: "p/b\nP/B\np/c\nP/C\n" });
    expect(cut.err).toMatch(/2 keys listed, more remain \(--limit 2\)/);
  });

  it("prints the status as JSON", async () => {
    const s = await ctl(["status"]);
    expect(JSON.parse(s.out)).toMatchObject({ server: "fake" });
  });

  it("reads the endpoints from YASPCTL_ENDPOINTS and the token from --token-file", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "token-123456\n");
    const env = { YASPCTL_ENDPOINTS: secured.endpoint };
    expect((await ctl(["--token-file", tokenFile, "put", "k", "v"], { env })).code).toBe(0);
    expect(secured.hellos.at(-1)?.token).toBe("token-123456");
    const refused = await ctl(["put", "k", "v"], { env });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^yaspctl: hello to 127\.0\.0\.1:\d+: not authenticated/);
  });
});

describe("yaspctl failures", () => {
  it.each([
    [["nope"], /Unknown argument: nope/],
    [[], /say what to do/],
    [["--timeout", "0", "status"], /--timeout must be > 0/],
    [["cas", "k", "v1", "x"], /<version> must be a whole number/],
    [["--token-file", "/nonexistent/t", "status"], /cannot read token file/],
  ])("%j is a usage error (exit 2, one line)", async (args, message) => {
    const r = await ctl(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.split("\n")).toHaveLength(2);
  });

  it("rejects bad endpoints as usage", async () => {
    const r = await ctl(["status"], { endpoint: "localhost" });
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/--endpoints: endpoint localhost/)]);
  });

  it("exits 3 when no endpoint is reachable", async () => {
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const r = await ctl(["--timeout", "300", "get", "k"], { endpoint: `127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^yaspctl: get "k": no endpoint reachable within 300 ms/);
  });

  it.each([
    [["watch", "k", "--", "ls"], /watch takes no -- <command>/],
    [["master", "extra"], /Unknown argument|unknown/i],
    [["session", "--ttl", "0"], /--ttl must be 3..3600 seconds/],
    [["lock"], /Not enough non-option arguments|name/],
  ])("coordination usage errors: %j (exit 2, one line)", async (args, msg) => {
    const r = await ctl(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("prints help on --help", async () => {
    const r = await ctl(["--help"]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("yaspctl shell")]);
  });
});

describe("yaspctl shell", () => {
  it("runs piped lines in order, the Paxos KV seed's keywords in any case", async () => {
    const input =
      "PUT fruit green\nget fruit\n\nput note two words\nGet note\nDelete fruit\nGET fruit\nbogus\ncas note x y\nstatus extra\nlist zz\nquit\nget note\n";
    const r = await ctl(["shell"], { stdin: input });
    expect(r.code).toBe(0);
    const out = r.out.split("\n");
    expect(out[0]).toMatch(/^OK \d+$/);
    expect(out.slice(1, 2)).toEqual(["green"]);
    expect(out[2]).toMatch(/^OK \d+$/);
    expect(out[3]).toBe("two words");
    expect(out[4]).toMatch(/^DELETED \d+$/);
    expect(out).toHaveLength(6); // list "zz" printed nothing; nothing after quit
    const err = r.err.trimEnd().split("\n");
    expect(err).toEqual([
      'yaspctl: get "fruit": not found',
      expect.stringMatching(/^yaspctl: unknown command bogus; commands: put/),
      "yaspctl: the version must be a whole number >= 0, not x",
      "yaspctl: usage: status",
    ]);
  });

  it("parses lines without a server", () => {
    expect(parseShellLine("  ")).toBeUndefined();
    expect(parseShellLine("EXIT")).toBeNull();
    expect(parseShellLine("range a b 10")).toEqual({
      op: "range",
      query: { start: "a", end: "b" },
      stale: false,
      limit: 10,
    });
    expect(() => parseShellLine("put onlykey")).toThrow(/usage: put/);
  });
});
