#!/usr/bin/env node
import "../dist/checker/lease_check_cli.js";
