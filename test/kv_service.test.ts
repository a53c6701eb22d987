// yasp-kv end to end: three real yasp-kv processes, the client library and the text port.
import net from "node:net";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { connect, NotFound, VersionMismatch } from "../src/client/index.js";
import {
  decodeResponse,
  encodeRequest,
  FrameReader,
  type ClientRequest,
  type ClientResponse,
} from "../src/kv/client_wire.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-service");
let cluster: KvCluster;

beforeAll(async () => {
  cluster = await KvCluster.start({ n: 3, dir, text: true, audit: true });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Send raw bytes to a text port; resolve with what came back once `until` matches (or 5 s). */
function talk(address: string, bytes: string | Buffer, until: (got: string) => boolean) {
  const [host, port] = address.split(":");
  return new Promise<{ got: string; closed: boolean }>((resolve) => {
    const s = net.connect(Number(port), host);
    let got = "";
    let closed = false;
    const done = () => {
      s.destroy();
      resolve({ got, closed });
    };
    const timer = setTimeout(done, 5000);
    s.on("data", (d) => {
      got += d.toString("latin1");
      if (until(got)) {
        clearTimeout(timer);
        done();
      }
    });
    s.on("close", () => {
      closed = true;
      clearTimeout(timer);
      done();
    });
    s.on("error", () => {});
    s.write(bytes);
  });
}

/** One connection speaking the wire protocol by hand: hello, then the requests; their answers. */
function rawSession(address: string, clientId: string, requests: ClientRequest[]) {
  const [host, port] = address.split(":");
  return new Promise<ClientResponse[]>((resolve, reject) => {
    const s = net.connect(Number(port), host);
    const frames = new FrameReader(1 << 22);
    const answers: ClientResponse[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${address}`));
    }, 10_000);
    s.on("connect", () => {
      s.write(encodeRequest({ type: "hello", id: 0, version: 1, clientId, token: "" }));
      for (const r of requests) s.write(encodeRequest(r));
    });
    s.on("data", (chunk) => {
      for (const f of frames.push(chunk).frames) {
        const d = decodeResponse(f);
        if (d.ok && d.message.id !== 0) answers.push(d.message);
      }
      if (answers.length === requests.length) {
        clearTimeout(timer);
        s.destroy();
        resolve(answers);
      }
    });
    s.on("error", reject);
  });
}

describe("yasp-kv on three ranks", () => {
  it("put, get, cas and delete through the client library on any rank", async () => {
    const a = connect({ endpoints: [cluster.endpoints[0] as string] });
    const b = connect({ endpoints: [cluster.endpoints[2] as string] });
    try {
      const { version } = await a.put("greeting", "hello");
      const got = await b.get("greeting"); // another rank: linearizable read
      expect(Buffer.from(got.value).toString()).toBe("hello");
      expect(got.version).toBe(version);
      await expect(b.cas("greeting", version + 1000, "x")).rejects.toBeInstanceOf(VersionMismatch);
      const v2 = await b.cas("greeting", version, "bye");
      expect(v2.version).toBeGreaterThan(version);
      await a.delete("greeting");
      await expect(b.get("greeting")).rejects.toBeInstanceOf(NotFound);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("speaks the Raft KV seed's text protocol, binary safe, pipelined and in order", async () => {
    const text = cluster.ranks[1]?.text as string;
    const value = "a\r\nb";
    const { got } = await talk(
      text,
      `set k 0 ${value.length}\r\n${value}\r\nget k\r\ngetm k\r\ncas k 0 1 1\r\nz\r\ndelete k\r\nget k\r\n`,
      (g) => g.endsWith("ERR_NOT_FOUND\r\n"),
    );
    const lines = got.split("\r\n");
    expect(lines[0]).toMatch(/^OK \d+$/);
    const version = Number(lines[0]?.slice(3));
    expect(lines.slice(1, 3)).toEqual([`VALUE ${value.length}`, "a"]);
    expect(got).toContain(`VALUE ${version} 0 ${value.length}\r\n${value}\r\n`);
    expect(got).toContain("ERR_VERSION\r\nDELETED\r\nERR_NOT_FOUND\r\n");
  });

  it("answers junk with ERR_CMD_ERR and keeps serving; refuses a 2 GB value before reading it", async () => {
    const text = cluster.ranks[0]?.text as string;
    const junk = await talk(text, "hello there\r\nset a b c\r\nset x 0 3\r\nab\r\nget x\r\n", (g) =>
      g.endsWith("ERR_NOT_FOUND\r\n"),
    );
    expect(junk.got.startsWith("ERR_CMD_ERR\r\nERR_CMD_ERR\r\nERR_CMD_ERR\r\n")).toBe(true);
    const huge = await talk(text, "set big 0 2000000000\r\n", (g) => g.includes("ERR"));
    expect(huge.got).toContain("ERR_CMD_ERR");
    // The rank still serves.
    const after = await talk(
      text,
      "set y 0 1\r\n1\r\nget y\r\n",
      (g) => g.endsWith("1\r\n\r\n") || g.includes("VALUE 1\r\n1\r\n"),
    );
    expect(after.got).toContain("VALUE 1\r\n1\r\n");
  });

  it("expires a key through the log: getm shows the seconds left, then it is gone", async () => {
    const text = cluster.ranks[2]?.text as string;
    const set = await talk(text, "set short 1 2\r\nhi\r\ngetm short\r\n", (g) =>
      g.endsWith("hi\r\n"),
    );
    expect(set.got).toMatch(/^OK (\d+)\r\nVALUE \1 1 2\r\nhi\r\n$/);
    await new Promise((r) => setTimeout(r, 2200));
    const later = await talk(cluster.ranks[0]?.text as string, "get short\r\n", (g) =>
      g.endsWith("\r\n"),
    );
    expect(later.got).toBe("ERR_NOT_FOUND\r\n");
  });

  it("applies a write resent under the same client id and request number once, on any rank", async () => {
    const first = await rawSession(cluster.endpoints[0] as string, "retrying-client", [
      { type: "put", id: 7, key: "once", value: Buffer.from("first"), ttlMs: 0, req: 1, low: 1 },
    ]);
    // The "retry" after a lost connection, on another rank, even with other bytes: the first answer.
    const again = await rawSession(cluster.endpoints[1] as string, "retrying-client", [
      { type: "put", id: 8, key: "once", value: Buffer.from("second"), ttlMs: 0, req: 1, low: 1 },
    ]);
    expect(first[0]).toMatchObject({ type: "written" });
    expect(again[0]).toEqual({ ...first[0], id: 8 });
    const c = connect({ endpoints: cluster.endpoints });
    try {
      const got = await c.get("once");
      expect(Buffer.from(got.value).toString()).toBe("first");
    } finally {
      await c.close();
    }
  });

  it("answers a client that sends its commands and then shuts its side (nc at end of input)", async () => {
    const [host, port] = (cluster.ranks[1]?.text as string).split(":");
    const got = await new Promise<string>((resolve) => {
      const s = net.connect({ port: Number(port), host, allowHalfOpen: true });
      let out = "";
      s.on("data", (d) => (out += d.toString("latin1")));
      s.on("close", () => resolve(out));
      s.on("error", () => {});
      s.end("set half 0 2\r\nhi\r\nget half\r\n"); // FIN right after the commands
      setTimeout(() => s.destroy(), 10_000);
    });
    expect(got).toMatch(/^OK \d+\r\nVALUE 2\r\nhi\r\n$/);
  });

  it("answers every request of a client-port connection the client has shut its side of", async () => {
    const [host, port] = (cluster.endpoints[2] as string).split(":");
    const answers = await new Promise<ClientResponse[]>((resolve) => {
      const s = net.connect({ port: Number(port), host, allowHalfOpen: true });
      const frames = new FrameReader(1 << 22);
      const got: ClientResponse[] = [];
      s.on("data", (chunk) => {
        for (const f of frames.push(chunk).frames) {
          const d = decodeResponse(f);
          if (d.ok) got.push(d.message);
        }
      });
      s.on("close", () => resolve(got));
      s.on("error", () => {});
      s.write(encodeRequest({ type: "hello", id: 1, version: 1, clientId: "half", token: "" }));
      s.end(encodeRequest({ type: "get", id: 2, key: "nothing-here", stale: false }));
      setTimeout(() => s.destroy(), 10_000);
    });
    expect(answers.map((a) => a.type)).toEqual(["ok", "error"]);
    expect(answers[1]).toMatchObject({ id: 2, code: "not_found" });
  });

  it("closes a client connection that sends junk frames; other clients are unaffected", async () => {
    const [host, port] = (cluster.endpoints[0] as string).split(":");
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(Number(port), host, () => s.write(Buffer.alloc(64, 0xff)));
      s.on("close", () => resolve(true));
      s.on("error", () => {});
      setTimeout(() => resolve(false), 5000);
    });
    expect(closed).toBe(true);
    const c = connect({ endpoints: cluster.endpoints });
    try {
      await c.put("still", "up");
      expect(Buffer.from((await c.get("still")).value).toString()).toBe("up");
    } finally {
      await c.close();
    }
  });

  it("keeps every acknowledged write through kill -9 of every rank", async () => {
    const c = connect({ endpoints: cluster.endpoints, timeoutMs: 20_000 });
    const acked: string[] = [];
    try {
      await Promise.all(
        Array.from({ length: 50 }, async (_, k) => {
          await c.put(`durable/${k}`, String(k));
          acked.push(`durable/${k}`);
        }),
      );
    } finally {
      await c.close();
    }
    for (let r = 0; r < 3; r++) await cluster.kill(r);
    for (let r = 0; r < 3; r++) await cluster.startRank(r);
    const d = connect({ endpoints: cluster.endpoints, timeoutMs: 20_000 });
    try {
      const page = await d.range({ prefix: "durable/" }, { limit: 100 });
      expect(page.entries.map((e) => e.key).sort()).toEqual([...acked].sort());
    } finally {
      await d.close();
    }
  }, 60_000);
});

describe("yasp-kv without a majority", () => {
  const dir2 = tempDir("kv-minority");
  let c: KvCluster;
  beforeAll(async () => {
    c = await KvCluster.start({ n: 3, dir: dir2, text: true });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
    rmSync(dir2, { recursive: true, force: true });
  });

  it("waits silently (no reply, connection open), then answers once a majority is back", async () => {
    await c.kill(1);
    await c.kill(2);
    const text = c.ranks[0]?.text as string;
    const [host, port] = text.split(":");
    const s = net.connect(Number(port), host);
    let got = "";
    let closed = false;
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("close", () => (closed = true));
    s.on("error", () => {});
    s.write("set lonely 0 1\r\nx\r\nget lonely\r\n");
    await new Promise((r) => setTimeout(r, 1500));
    expect(got).toBe("");
    expect(closed).toBe(false);
    await c.startRank(1); // a majority again
    for (let t = 0; t < 100 && !got.includes("VALUE"); t++)
      await new Promise((r) => setTimeout(r, 100));
    s.destroy();
    expect(got).toMatch(/^OK \d+\r\nVALUE 1\r\nx\r\n$/);
  }, 30_000);
});
