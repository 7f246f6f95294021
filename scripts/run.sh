#!/usr/bin/env bash
# Runs tasksync with the live board: builds the npm package (installing the
# tools it needs, once), assembles the board, and starts the server on its
# SQLite default (./tasksync.db). Extra arguments go to `tasksync serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./npm/build.sh
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
./scripts/board.sh "$target_dir/board"
cargo build --release --locked -p tasksync
echo "the live board is at the URL printed below (Ctrl-C stops the server)"
exec "$target_dir/release/tasksync" serve --static "$target_dir/board" "$@"
