#!/usr/bin/env bash
# Lists the files the embedded board is built from, one per line, in C order
# (the same list server/tests/files.rs hashes).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  find sdk/src examples/board -type f
  printf '%s\n' sdk/Cargo.toml npm/build.sh npm/package.json npm/index.js npm/store.js npm/engine.js scripts/board.sh
} | LC_ALL=C sort
