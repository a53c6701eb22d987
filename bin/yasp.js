#!/usr/bin/env node
import "../dist/src/cli/rank.js";
