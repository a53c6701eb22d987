// The generate/commit log of one rank: lines are buffered and written in large chunks (one write
// system call per chunk, not per line), appended to the file (never rewritten).
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import type { LogSink } from "../ports.js";

const CHUNK_BYTES = 256 * 1024;
const FLUSH_EVERY_MS = 50;

export class FileLogSink implements LogSink {
  private fd: number | null;
  private parts: string[] = [];
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly before: string;

  /** Opens (creating or appending to) path; throws a plain Error if it cannot. */
  constructor(readonly path: string) {
    this.before = existsSync(path) ? readFileSync(path, "utf8") : "";
    this.fd = openSync(path, "a");
    // A crash may have cut the last line short: end it, so the next line starts clean.
    if (this.before.length > 0 && !this.before.endsWith("\n")) writeSync(this.fd, "\n");
    this.timer = setInterval(() => this.flushNow(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  write(line: string): void {
    this.parts.push(line);
    this.bytes += line.length;
    if (this.bytes >= CHUNK_BYTES) this.flushNow();
  }

  flush(): void {
    this.flushNow();
  }

  load(): string {
    return this.before;
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flushNow();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    return Promise.resolve();
  }

  private flushNow(): void {
    if (this.parts.length === 0 || this.fd === null) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.bytes = 0;
    const buf = Buffer.from(chunk, "utf8");
    for (let off = 0; off < buf.length;) off += writeSync(this.fd, buf, off, buf.length - off);
  }
}
