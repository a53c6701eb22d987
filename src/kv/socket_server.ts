// What the client port and the text port share: a listening server whose connections are tracked,
// so close() ends them all (a rank that stops leaves no client waiting on a dead socket), and a
// gate (io/admission.ts) that every connection passes at TCP accept, before a TLS handshake or a
// byte of the protocol: connection caps, the handshake deadline, stalled frames, the byte budget.
import type net from "node:net";
import { Gate, type GateLimits, type Guard } from "../io/admission.js";
import { SystemClock } from "../io/system_clock.js";
import type { PeerAddress } from "../io/tcp_transport.js";

export abstract class SocketServer {
  protected readonly sockets = new Set<net.Socket>();
  protected readonly server: net.Server;
  readonly gate: Gate;
  /** Guards of admitted connections still in their TLS handshake, by remote address and port. */
  private readonly handshaking = new Map<string, Guard>();

  /**
   * make: the server (plain or TLS; without a connection listener). With TLS, a connection is
   * served once its handshake is done ("secureConnection"), else at once.
   */
  constructor(
    make: () => net.Server,
    secure: boolean,
    name: string,
    limits: GateLimits,
    warn: (line: string) => void,
  ) {
    this.gate = new Gate(name, limits, new SystemClock(), warn);
    this.server = make();
    this.server.on("connection", (raw: net.Socket) => this.admit(raw, secure));
    if (secure) {
      this.server.on("secureConnection", (socket: net.Socket) => {
        const guard = this.handshaking.get(endpoint(socket));
        if (guard === undefined || guard.isClosed) return void socket.destroy();
        this.handshaking.delete(endpoint(socket));
        this.serve(socket, guard);
      });
    }
  }

  /** Serve an admitted connection; call guard.authenticated() once its handshake is done,
   * guard.holding(bytes) after every chunk read. */
  protected abstract serve(socket: net.Socket, guard: Guard): void;

  /** Listen on `at`; resolves with the port (the OS's choice when at.port is 0). */
  listen(at: PeerAddress): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(at.port, at.host, () => {
        this.server.off("error", reject);
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr ? addr.port : at.port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.gate.stop();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private admit(raw: net.Socket, secure: boolean): void {
    raw.on("error", () => raw.destroy());
    const guard = this.gate.admit(raw);
    if (guard === null) return;
    this.sockets.add(raw);
    raw.setNoDelay(true);
    raw.on("close", () => {
      guard.closed();
      this.sockets.delete(raw);
      this.handshaking.delete(endpoint(raw));
    });
    if (!secure) return this.serve(raw, guard);
    this.handshaking.set(endpoint(raw), guard);
  }
}

function endpoint(s: net.Socket): string {
  return `${s.remoteAddress ?? "?"}:${s.remotePort ?? "?"}`;
}
