#!/usr/bin/env node
// The Bayou master program: commands on stdin, the spec's lines on stdout; --check runs .test/.sol pairs.
import "../dist/src/bayou/cli/bayou.js";
