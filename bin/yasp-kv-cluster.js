#!/usr/bin/env node
import "../dist/src/cli/kv_cluster_cli.js";
