// The audit log of a long-running service: the generate/commit lines of FileLogSink, rotated by
// size (rank-<i>.log, then .1, .2, ... up to `keep` old files), so a server committing 10k
// commands/s does not fill a disk with log lines. The checker reads the files in order.
import { renameSync, rmSync, statSync } from "node:fs";
import type { LogSink } from "../ports.js";
import { FileLogSink } from "./file_log.js";

export class RotatingLogSink implements LogSink {
  private current: FileLogSink;
  private bytes: number;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    this.current = new FileLogSink(path);
    this.bytes = sizeOf(path);
  }

  write(line: string): void {
    this.current.write(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.rotate();
  }

  flush(): void {
    this.current.flush();
  }

  /** Never read back: the log is an audit, recovery uses the write-ahead log. */
  load(): string {
    return "";
  }

  close(): Promise<void> {
    return this.current.close();
  }

  private rotate(): void {
    void this.current.close();
    rmSync(`${this.path}.${this.keep}`, { force: true });
    for (let k = this.keep - 1; k >= 1; k--) {
      try {
        renameSync(`${this.path}.${k}`, `${this.path}.${k + 1}`);
      } catch {
        // not there yet
      }
    }
    renameSync(this.path, `${this.path}.1`);
    this.current = new FileLogSink(this.path);
    this.bytes = 0;
  }
}

/** No audit log: lines are dropped. */
export class NullLogSink implements LogSink {
  write(): void {}
  flush(): void {}
  load(): string {
    return "";
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
