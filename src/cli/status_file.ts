// The rank's status file (--status-file): what the rank is doing now, as one JSON object, rewritten
// every STATUS_EVERY_MS and once more at exit. A scenario runner reads it to find the real leader
// and to confirm that a fault took effect; a benchmark reads the generation schedule from it.
// Written to a temporary file and renamed, so a reader never sees half an object.
import { renameSync, writeFileSync } from "node:fs";

export const STATUS_EVERY_MS = 100;

/** Start writing snapshot() to path; returns a function that writes a last time and stops. */
export function startStatusFile(
  path: string,
  snapshot: () => object,
  warn: (line: string) => void,
): () => void {
  const tmp = `${path}.tmp`;
  let warned = false;
  const write = () => {
    try {
      writeFileSync(tmp, JSON.stringify(snapshot()) + "\n");
      renameSync(tmp, path);
    } catch (e) {
      if (!warned)
        warn(`cannot write status file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      warned = true;
    }
  };
  write();
  const timer = setInterval(write, STATUS_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    write();
  };
}
