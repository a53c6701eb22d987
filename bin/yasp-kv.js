#!/usr/bin/env -S node --max-semi-space-size=4
// One rank of the key-value service (the same small young generation as a plain rank).
import "../dist/src/cli/kv.js";
