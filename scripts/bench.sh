#!/usr/bin/env bash
# Runs the benchmarks on this machine and writes docs/benchmarks.md.
# Each reports its baseline from the same run; none of them asserts anything.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cargo build --release --workspace --locked
./npm/build.sh
ulimit -n 65536 2>/dev/null || true
report=$(mktemp)
"$target_dir/release/tasksync-bench" all --out "$report" "$@"
echo >> "$report"
(cd npm && TASKSYNC_BIN="$target_dir/release/tasksync" RUST_LOG=warn node --expose-gc bench/sdk.js) | tee -a "$report"
{
  echo "# Benchmarks"
  echo
  echo "Measured by \`./scripts/bench.sh\` on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d)."
  echo "The load generator runs on the same machine as the server; its CPU share is reported."
  echo
  cat "$report"
} > docs/benchmarks.md
rm -f "$report"
cat docs/benchmarks.md
