#!/usr/bin/env bash
# Builds the npm package `tasksync` into npm/pkg (git-ignored):
# cargo (wasm32) -> wasm-bindgen (CLI pinned to the crate's exact version) -> wasm-opt -O3 (measured: as small as -Oz here, and the engine 5% faster; WASM_OPT=… overrides).
# Installs what it needs first, skipping what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$WASM_BINDGEN_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # --force: reinstall even if cargo remembers an install whose binary is gone or differs.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
[ -x npm/node_modules/.bin/wasm-opt ] || (cd npm && npm ci --no-audit --no-fund)
# zopfli: gzip that any gunzip (DecompressionStream, Node's zlib) reads, 4.4%
# smaller than gzip -9 for the module (6 KB less shipped; measured 2026-12-01).
if ! command -v zopfli >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq zopfli >/dev/null; } \
    || echo "zopfli could not be installed: the module is compressed with gzip -9 (about 6 KB larger)" >&2
fi

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cargo build --locked -p tasksync-sdk --target wasm32-unknown-unknown --profile wasm-release
rm -rf npm/pkg
wasm-bindgen "$target_dir"/wasm32-unknown-unknown/wasm-release/tasksync_sdk.wasm \
  --out-dir npm/pkg --out-name tasksync --target web --omit-default-module-path
npm/node_modules/.bin/wasm-opt ${WASM_OPT:--O3} \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  npm/pkg/tasksync_bg.wasm -o npm/pkg/tasksync_bg.wasm
# The module ships inside JavaScript (gzip, base64; see npm/engine.js), so no
# bundler has to be taught to carry a .wasm file. Both compressors write no
# name or time: the same bytes every build.
if command -v zopfli >/dev/null 2>&1; then
  zopfli --gzip -c npm/pkg/tasksync_bg.wasm > npm/pkg/tasksync_bg.wasm.gz
else
  gzip -9 -n -c npm/pkg/tasksync_bg.wasm > npm/pkg/tasksync_bg.wasm.gz
fi
printf 'export default "%s";\n' "$(base64 -w0 npm/pkg/tasksync_bg.wasm.gz)" > npm/pkg/wasm.js
rm npm/pkg/tasksync_bg.wasm.gz
# The model's declarations (checked natively against serde by sdk/src/types.rs).
cp sdk/src/types.d.ts npm/pkg/types.d.ts
echo "built npm/pkg: $(wc -c < npm/pkg/tasksync_bg.wasm) bytes of wasm," \
  "$(cat npm/pkg/wasm.js npm/pkg/tasksync.js npm/engine.js npm/store.js npm/index.js | gzip -9 | wc -c) bytes gzipped as shipped (wasm inside pkg/wasm.js) with its JS"
