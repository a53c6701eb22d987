// Who may talk to yasp-kv (TLS on the client port, an auth token), and the Paxos KV seed's
// failing acceptors (--fail-rate): real yasp-kv processes.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvCluster } from "../src/cli/kv_launch.js";
import { connect, NotFound, Unauthenticated } from "../src/client/index.js";
import { tempDir } from "./helpers.js";

const dir = tempDir("kv-access");
const TOKEN = "s3cret-token-for-tests";
let tlsCluster: KvCluster | undefined;
let failing: KvCluster | undefined;
let cert = "";

/** A self-signed certificate for 127.0.0.1 (openssl; its tests are skipped without it). */
function selfSigned(): boolean {
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1"])
        .concat(["-subj", "/CN=yasp-test", "-addext", "subjectAltName=IP:127.0.0.1"]),
      { stdio: "ignore" },
    );
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    return true;
  } catch {
    return false;
  }
}

const haveOpenssl = selfSigned();

beforeAll(async () => {
  writeFileSync(join(dir, "token"), TOKEN + "\n");
  const tlsArgs = haveOpenssl
    ? ["--client-cert", join(dir, "cert.pem"), "--client-key", join(dir, "key.pem")]
    : [];
  [tlsCluster, failing] = await Promise.all([
    KvCluster.start({
      n: 1,
      dir: join(dir, "tls"),
      rankArgs: [...tlsArgs, "--auth-token-file", join(dir, "token")],
    }),
    KvCluster.start({ n: 3, dir: join(dir, "failing"), rankArgs: ["--fail-rate", "0.3"] }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([tlsCluster?.stop(), failing?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("yasp-kv: who may talk to it", () => {
  it.skipIf(!haveOpenssl)("serves TLS clients that give the token", async () => {
    const kv = connect({ endpoints: tlsCluster?.endpoints ?? [], tls: { ca: cert }, token: TOKEN });
    try {
      await kv.put("secret/a", "1");
      expect(Buffer.from((await kv.get("secret/a")).value).toString()).toBe("1");
    } finally {
      await kv.close();
    }
  });

  it.skipIf(!haveOpenssl)("refuses a wrong or missing token, and nothing is written", async () => {
    const tls = { ca: cert };
    for (const token of ["wrong-token-xyz", undefined]) {
      const kv = connect({
        endpoints: tlsCluster?.endpoints ?? [],
        tls,
        timeoutMs: 3000,
        ...(token ? { token } : {}),
      });
      try {
        await expect(kv.put("secret/b", "2")).rejects.toBeInstanceOf(Unauthenticated);
      } finally {
        await kv.close();
      }
    }
    const ok = connect({ endpoints: tlsCluster?.endpoints ?? [], tls, token: TOKEN });
    try {
      await expect(ok.get("secret/b")).rejects.toBeInstanceOf(NotFound);
    } finally {
      await ok.close();
    }
  });
});

describe("yasp-kv --fail-rate (failing acceptors)", () => {
  it("completes every write while a majority accepts", async () => {
    const kv = connect({ endpoints: failing?.endpoints ?? [], timeoutMs: 20_000 });
    try {
      const versions = await Promise.all(
        Array.from({ length: 40 }, (_, k) => kv.put(`f/${k}`, String(k))),
      );
      expect(versions).toHaveLength(40);
      const page = await kv.range({ prefix: "f/" }, { limit: 100 });
      expect(page.entries).toHaveLength(40);
    } finally {
      await kv.close();
    }
  }, 40_000);
});
