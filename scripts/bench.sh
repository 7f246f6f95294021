#!/usr/bin/env bash
# Runs the benchmarks against a release build and writes docs/benchmarks.md.
# Numbers come from this machine; each benchmark reports its baseline from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --locked
ulimit -n 65536 2>/dev/null || true
target/release/tasksync-bench all --out docs/benchmarks.md "$@"
