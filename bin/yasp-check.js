#!/usr/bin/env node
import "../dist/checker/cli.js";
