#!/usr/bin/env bash
# Builds the live board into server/board, which the `tasksync` binary embeds
# and serves at / when no --static DIR is given, and records in
# server/board.sha256 the sources it was built from. A test
# (server/tests/files.rs) fails when those sources change without running
# this again. Run it after changing the SDK, npm/*.js or examples/board.
set -euo pipefail
cd "$(dirname "$0")/.."
./npm/build.sh
./scripts/board.sh server/board
./scripts/board-sources.sh | xargs sha256sum > server/board.sha256
echo "server/board rebuilt; sources recorded in server/board.sha256"
