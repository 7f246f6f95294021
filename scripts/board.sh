#!/usr/bin/env bash
# Assembles the live board (examples/board plus the built npm package) into DIR.
# Usage: scripts/board.sh DIR   (builds the package first if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/board.sh DIR}
[ -f npm/pkg/wasm.js ] || ./npm/build.sh
rm -rf "$out"
mkdir -p "$out/vendor/tasksync/pkg"
cp examples/board/index.html examples/board/board.js examples/board/attention.js examples/board/board.css "$out/"
cp npm/package.json npm/index.js npm/store.js npm/engine.js "$out/vendor/tasksync/"
cp npm/pkg/tasksync.js npm/pkg/wasm.js "$out/vendor/tasksync/pkg/"
