// The benchmark's ceiling: one of N processes writing the same generate/commit lines a rank writes
// (its share of generate lines, a commit line for every instance), through the same log writer, as
// fast as it can, with no messaging at all. Prints instances per second.
//   node dist/src/harness/ceiling.js <rank> <ranks> <seconds> <log file>
import { FileLogSink } from "../io/file_log.js";
import { SystemClock } from "../io/system_clock.js";
import { commitLine, generateLine } from "../protocol/log_lines.js";

const [rank = 0, ranks = 1, seconds = 3] = process.argv.slice(2, 5).map(Number);
const path = process.argv[5] ?? `/tmp/ceiling-${rank}.log`;
const sink = new FileLogSink(path);
const clock = new SystemClock();
const endUs = clock.nowUs() + seconds * 1e6;
let seq = 0;
let generated = 0;
for (let now = clock.nowUs(); now < endUs; now = clock.nowUs()) {
  // A few hundred lines per clock read, as a rank writes a batch of commits per step.
  for (let i = 0; i < 256; i++, seq++) {
    if (seq % ranks === rank) sink.write(generateLine(`${rank}-${generated}`, generated++, now));
    sink.write(commitLine(`${seq % ranks}-${Math.floor(seq / ranks)}`, seq, now));
  }
  sink.flush();
}
await sink.close();
process.stdout.write(`${(seq / seconds).toFixed(0)}\n`);
