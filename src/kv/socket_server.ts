// What the client port and the text port share: a listening server whose connections are tracked,
// so close() ends them all (a rank that stops leaves no client waiting on a dead socket).
import type net from "node:net";
import type { PeerAddress } from "../io/tcp_transport.js";

export abstract class SocketServer {
  protected readonly sockets = new Set<net.Socket>();
  protected readonly server: net.Server;

  /** make: the server (plain or TLS) handing each connection to serve. */
  constructor(
    make: (onSocket: (socket: net.Socket) => void) => net.Server,
    maxConnections: number,
  ) {
    this.server = make((socket) => this.serve(socket));
    this.server.maxConnections = maxConnections;
  }

  protected abstract serve(socket: net.Socket): void;

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
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** A new connection: tracked until it closes, no Nagle delay on replies. */
  protected track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => this.sockets.delete(socket));
  }
}
