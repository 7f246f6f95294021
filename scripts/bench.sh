#!/usr/bin/env bash
# Runs the benchmarks on this machine and puts their tables into docs/benchmarks.md.
# Each reports its baseline from the same run; none of them asserts anything.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cargo build --release --workspace --locked
./npm/build.sh
ulimit -n 65536 2>/dev/null || true
# The tables go between the <!-- bench.sh: … --> markers of docs/benchmarks.md;
# the analysis around them is written by hand and stays.
server=$(mktemp)
sdk=$(mktemp)
"$target_dir/release/tasksync-bench" all --out "$server" "$@"
# Many nodes: a throwaway PostgreSQL with fsync on (as a real one), beside SQLite.
nodes=$(mktemp)
pg_parent=$(mktemp -d)
chmod 755 "$pg_parent"
pg_url=$(PG_FSYNC=on ./scripts/pg.sh start "$pg_parent/pg")
"$target_dir/release/tasksync-bench" nodes --pg "$pg_url" --out "$nodes" "$@" || { ./scripts/pg.sh stop "$pg_parent/pg"; exit 1; }
./scripts/pg.sh stop "$pg_parent/pg"
rm -rf "$pg_parent"
(cd npm && TASKSYNC_BIN="$target_dir/release/tasksync" RUST_LOG=warn node --expose-gc bench/sdk.js) | tee "$sdk"
replace() { # marker name, file with the new lines
  awk -v name="$1" -v with="$2" '
    $0 == "<!-- bench.sh: " name " -->" { print; while ((getline line < with) > 0) print line; skip = 1; next }
    $0 == "<!-- /bench.sh: " name " -->" { skip = 0 }
    !skip { print }' docs/benchmarks.md > docs/benchmarks.md.new
  mv docs/benchmarks.md.new docs/benchmarks.md
}
replace server "$server"
replace nodes "$nodes"
grep '^|' "$sdk" > "$sdk.table"
replace sdk "$sdk.table"
sed -i "s/^Measured by .*/Measured by \`.\/scripts\/bench.sh\` on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d)./" docs/benchmarks.md
rm -f "$server" "$nodes" "$sdk" "$sdk.table"
cat docs/benchmarks.md
