// Entry point of yasp-lease-check (bin/yasp-lease-check.js imports the compiled file).
import { runLeaseCheck } from "./lease_check.js";

process.exitCode = runLeaseCheck(
  process.argv.slice(2),
  (text) => process.stdout.write(text),
  (text) => process.stderr.write(text),
);
