// The admission flags of yasp-kv (kv_options.ts) as each port's limits (io/admission.ts), with
// the port's defaults where a flag is not given, and its connection cap cut to what the open-file
// limit leaves after the rank's reserve (io/descriptors.ts).
import { z } from "zod";
import type { GateLimits } from "../io/admission.js";
import { openFileLimit, shareDescriptors } from "../io/descriptors.js";
import { PEER_LIMITS } from "../io/tcp_transport.js";
import { CLIENT_LIMITS } from "../kv/client_server.js";
import { TEXT_LIMITS } from "../kv/text_server.js";
import { UsageError } from "./config.js";

const whole = (flag: string) =>
  z
    .number({ error: `${flag} must be a number` })
    .int({ error: `${flag} must be a whole number` })
    .positive({ error: `${flag} must be > 0` })
    .optional();

const admissionFlags = z.object({
  "handshake-ms": whole("--handshake-ms"),
  "stall-ms": whole("--stall-ms"),
  "max-unauthenticated": whole("--max-unauthenticated"),
  "max-unauthenticated-per-address": whole("--max-unauthenticated-per-address"),
  "max-pending-bytes": whole("--max-pending-bytes"),
  "max-connections": whole("--max-connections"),
});

export interface PortLimits {
  peer: GateLimits;
  client: GateLimits;
  text: GateLimits;
}

/** Each port's limits from the flags; `say` hears once if the open-file limit cut a cap. */
export function portLimits(
  args: Record<string, unknown>,
  ranks: number,
  say: (line: string) => void,
  fileLimit = openFileLimit(),
): PortLimits {
  const parsed = admissionFlags.safeParse(args);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? "invalid flags");
  const f = parsed.data;
  const common = {
    ...(f["handshake-ms"] !== undefined && { handshakeMs: f["handshake-ms"] }),
    ...(f["stall-ms"] !== undefined && { stallMs: f["stall-ms"] }),
    ...(f["max-unauthenticated"] !== undefined && { maxUnauthenticated: f["max-unauthenticated"] }),
    ...(f["max-unauthenticated-per-address"] !== undefined && {
      maxUnauthenticatedPerAddress: f["max-unauthenticated-per-address"],
    }),
  };
  const served = {
    ...common,
    ...(f["max-pending-bytes"] !== undefined && { maxPendingBytes: f["max-pending-bytes"] }),
    ...(f["max-connections"] !== undefined && { maxConnections: f["max-connections"] }),
  };
  const peer = { ...PEER_LIMITS, ...common };
  const client = { ...CLIENT_LIMITS, ...served };
  const text = { ...TEXT_LIMITS, ...served };
  const want = {
    peer: peer.maxConnections,
    client: client.maxConnections,
    text: text.maxConnections,
  };
  const share = shareDescriptors(fileLimit, ranks, want);
  if (share === null)
    throw new UsageError(
      `the open-file limit (${fileLimit}) leaves no room for connections: raise it (ulimit -n)`,
    );
  if (share.client < want.client || share.text < want.text)
    say(
      `the open-file limit (${fileLimit}) caps connections at ${share.client} on the client port and ${share.text} on the text port (ulimit -n raises it)`,
    );
  return {
    peer,
    client: { ...client, maxConnections: share.client },
    text: { ...text, maxConnections: share.text },
  };
}
