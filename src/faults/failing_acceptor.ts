// The Paxos KV seed's failing acceptors (--fail-rate p): this rank's acceptor refuses each
// promise request (read) and accept request (impose) with probability p, as if it had failed for
// that one request; nothing is answered, the leader retransmits or another majority answers.
// A decorator on the transport (incoming frames), so the protocol core stays as it is.
import type { WireMsg } from "../protocol/messages.js";
import type { Random, Transport } from "../ports.js";

export class FailingAcceptor implements Transport {
  refused = 0;

  constructor(
    private readonly inner: Transport,
    private readonly failRate: number,
    private readonly random: Random,
  ) {}

  send(to: number, msg: WireMsg): void {
    this.inner.send(to, msg);
  }

  onMessage(handler: (msg: WireMsg) => void): void {
    this.inner.onMessage((msg) => {
      if ((msg.t === "read" || msg.t === "impose") && this.random.next() < this.failRate) {
        this.refused++;
        return;
      }
      handler(msg);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
