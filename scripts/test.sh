#!/usr/bin/env bash
# Runs every test of the project. On a fresh machine it first installs what
# the tests need, skipping whatever is already there, so it can be run again
# and again. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the shared model also builds for wasm32"
cargo build -p tasksync-sdk --target wasm32-unknown-unknown --locked

step "Rust tests (model natively; server against real sockets and SQLite on disk)"
cargo test --workspace --locked

echo
echo "all tests passed"
