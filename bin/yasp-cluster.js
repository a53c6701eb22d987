#!/usr/bin/env node
import "../dist/src/cli/cluster_cli.js";
