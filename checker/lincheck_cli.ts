// Entry point of yasp-lincheck (bin/yasp-lincheck.js imports the compiled file).
import { hideBin } from "yargs/helpers";
import { runLincheck } from "./lincheck_main.js";

process.exitCode = runLincheck(hideBin(process.argv), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
