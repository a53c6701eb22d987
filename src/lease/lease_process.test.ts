// The master lease on real yasp-kv processes (3 ranks, TCP, HMAC): one master, the first by
// priority; kill -9 it and another is master within 2 s (measured from the lease logs on the
// host's monotonic clock); restarted, the killed rank rejoins as a non-master; and
// yasp-lease-check passes on the three logs, before and after a graceful stop.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLeaseCheck } from "../../checker/lease_check.js";
import { KvCluster } from "../cli/kv_launch.js";
import { monotonicUs } from "./node.js";

interface Line {
  kind: string;
  rank: number;
  words: number[];
}

let dir = "";
let cluster: KvCluster | null = null;

const logPath = (rank: number) => join(cluster!.dataDir(rank), "lease.log");

function lines(rank: number): Line[] {
  let text: string;
  try {
    text = readFileSync(logPath(rank), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [kind, ...rest] = l.split(" ");
      const words = rest.map(Number);
      return { kind: kind ?? "", rank: words[0] ?? -1, words };
    });
}

/** The ranks whose last held line says they hold the lease now (monotonic clock). */
function holders(): number[] {
  const now = monotonicUs();
  return [0, 1, 2].filter((r) => {
    const held = lines(r).filter((l) => l.kind === "held");
    return (held.at(-1)?.words[3] ?? 0) > now;
  });
}

async function until<T>(what: string, limitMs: number, probe: () => T | null): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const got = probe();
    if (got !== null) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function check(): { code: number; out: string } {
  let out = "";
  const code = runLeaseCheck(
    [0, 1, 2].map(logPath),
    (t) => (out += t),
    (t) => (out += t),
  );
  return { code, out };
}

describe("master lease on yasp-kv processes", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "yasp-lease-"));
    cluster = await KvCluster.start({ n: 3, dir, rankArgs: ["--no-fsync"] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("fails over within 2 s of a kill -9, the restarted rank rejoins as non-master", async () => {
    const c = cluster!;
    const first = await until("a master", 10_000, () => (holders().length > 0 ? holders() : null));
    expect(first).toEqual([0]); // rank order is the default priority
    await new Promise((r) => setTimeout(r, 600)); // a few renewals
    const killedAt = monotonicUs();
    await c.kill(0);
    const next = await until("a new master", 4_000, () => {
      const took = [1, 2].flatMap((r) =>
        lines(r).filter((l) => l.kind === "held" && (l.words[2] ?? 0) > killedAt),
      );
      return took[0] ?? null;
    });
    const failoverMs = ((next.words[2] ?? 0) - killedAt) / 1000;
    process.stderr.write(`lease failover after kill -9: ${failoverMs.toFixed(0)} ms\n`);
    expect(next.rank).toBe(1); // next by priority
    expect(failoverMs).toBeLessThan(2000);

    const restartedAt = monotonicUs();
    await c.startRank(0);
    await new Promise((r) => setTimeout(r, 2500)); // past its restart wait, answering
    const since = lines(0).filter((l) => (l.words.at(-1) ?? 0) > restartedAt);
    expect(since.map((l) => l.kind)).toEqual(["start"]); // never held since
    expect(holders()).toEqual([1]);

    const live = check();
    expect(live.out).toMatch(/^pass: 3 logs, 2 masters, 2 terms, 1 hand-overs/);
    expect(live.code).toBe(0);
    await c.stop(); // rank 1 ends its lease early (ended line), the others never held
    expect(lines(1).at(-1)?.kind).toBe("ended");
    expect(check().code).toBe(0);
  }, 60_000);
});
