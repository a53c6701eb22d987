#!/usr/bin/env node
import "../dist/checker/lincheck_cli.js";
