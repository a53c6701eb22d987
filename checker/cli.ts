// Entry point of yasp-check (bin/yasp-check.js imports the compiled file).
import { hideBin } from "yargs/helpers";
import { runCli } from "./main.js";

process.exitCode = runCli(hideBin(process.argv), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
