import type { LogSink } from "../ports.js";

/** A rank's generate/commit log kept in memory (the simulator reads it back to check). */
export class MemoryLogSink implements LogSink {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  flush(): void {}

  load(): string {
    return this.text();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  text(): string {
    return this.lines.join("");
  }
}
