import type { LogSink } from "../ports.js";

/** A rank's generate/commit log kept in memory. Lines written but not flushed are lost in a crash,
 * like a file's user-space buffer; flushed ones survive, like data handed to the OS. */
export class MemoryLogSink implements LogSink {
  readonly lines: string[] = [];
  private buffer: string[] = [];

  write(line: string): void {
    this.buffer.push(line);
  }

  flush(): void {
    for (const l of this.buffer) this.lines.push(l);
    this.buffer = [];
  }

  load(): string {
    return this.lines.join("");
  }

  close(): Promise<void> {
    this.flush();
    return Promise.resolve();
  }

  crash(): void {
    this.buffer = [];
  }

  text(): string {
    return this.lines.join("");
  }
}
