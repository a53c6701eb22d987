// A client's session state (Terry et al., PDIS '94): the writes it made and the writes its reads
// saw, as version vectors. A server serves a read only when it has seen both (Read Your Writes,
// Monotonic Reads) and accepts a write only when it has seen both (Writes Follow Reads,
// Monotonic Writes): both checks use deps().
import type { ReadResult, WriteResult } from "./server_core.js";
import { VersionVector } from "./vectors.js";

export class ClientSession {
  private readonly readV = new VersionVector();
  private readonly writeV = new VersionVector();

  /** What the next read or write depends on: reads ∪ writes. */
  deps(): VersionVector {
    return this.readV.clone().merge(this.writeV);
  }

  afterWrite(r: WriteResult): void {
    if (r.accepted) this.writeV.advance(r.write.server, r.write.stamp);
  }

  afterRead(r: ReadResult): void {
    if (r.kind !== "err_dep") this.readV.merge(r.relevant);
  }
}
