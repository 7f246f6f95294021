#!/usr/bin/env bash
# Size spike (not shipped): what the browser's WebAssembly would weigh with no
# JSON code in it at all. It builds the SDK for wasm32 exactly as npm/build.sh
# does, but with serde_json replaced by a stub of its API that reads and
# writes nothing, so serde_json, every serde impl it reaches and every engine
# path that only runs after a parse are dropped by the linker. What is left is
# the engine's own logic (resume, backoff, watchdog, outbox, rollback,
# overlays, auto-transition, the replica): a lower bound for any engine in
# Rust that keeps today's features and takes its input already parsed.
#
#   docs/spikes/no-json-size.sh     (after npm/build.sh has run once: it uses
#                                    its wasm-bindgen, wasm-opt and zopfli)
#
# Prints the module's bytes and its zopfli size at opt-level 3 (as shipped)
# and at opt-level "z" with wasm-opt -Oz (smallest, slower). Measured on
# 2026-12-01 at 1d4361d: 178,150 B / about 71,000 B and 151,852 B / about
# 62,800 B (the zopfli figure moves by some 30 B between runs: the temporary
# worktree's path is in the module's panic locations), against the shipped
# module's 387,912 B / 140,525 B.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")/spike-no-json
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

mkdir -p "$work/stub/src"
cat > "$work/stub/Cargo.toml" <<'EOF'
[package]
name = "serde_json"
version = "1.0.999"
edition = "2021"

[features]
default = ["std"]
std = []
alloc = []
raw_value = []
preserve_order = []
arbitrary_precision = []
float_roundtrip = []
unbounded_depth = []

[dependencies]
serde = "1"
EOF
cat > "$work/stub/src/lib.rs" <<'EOF'
//! serde_json's API as the SDK uses it, with nothing behind it.
use std::fmt;
#[derive(Debug)]
pub struct Error;
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("stub") }
}
impl std::error::Error for Error {}
impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(_: T) -> Self { Error }
}
impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(_: T) -> Self { Error }
}
impl Error {
    pub fn line(&self) -> usize { 0 }
    pub fn column(&self) -> usize { 0 }
    pub fn is_eof(&self) -> bool { false }
}
pub type Result<T> = std::result::Result<T, Error>;
pub fn from_str<'a, T: serde::Deserialize<'a>>(_: &'a str) -> Result<T> { Err(Error) }
pub fn to_string<T: ?Sized + serde::Serialize>(_: &T) -> Result<String> { Ok(String::new()) }
pub fn to_string_pretty<T: ?Sized + serde::Serialize>(_: &T) -> Result<String> { Ok(String::new()) }
#[derive(Debug, Clone, PartialEq)]
pub enum Value { Null }
pub fn to_value<T: serde::Serialize>(_: T) -> Result<Value> { Ok(Value::Null) }
pub mod value {
    #[repr(transparent)]
    #[derive(Debug)]
    pub struct RawValue { json: str }
    impl RawValue {
        pub fn get(&self) -> &str { &self.json }
    }
    impl<'de: 'a, 'a> serde::Deserialize<'de> for &'a RawValue {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Err(serde::de::Error::custom("stub"))
        }
    }
}
pub struct Deserializer<'a>(&'a str);
impl<'a> Deserializer<'a> {
    pub fn from_str(s: &'a str) -> Self { Deserializer(s) }
    pub fn into_iter<T: serde::Deserialize<'a>>(self) -> StreamDeserializer<'a, T> {
        StreamDeserializer(std::marker::PhantomData)
    }
}
pub struct StreamDeserializer<'a, T>(std::marker::PhantomData<(&'a (), T)>);
impl<T> StreamDeserializer<'_, T> {
    pub fn byte_offset(&self) -> usize { 0 }
}
impl<T> Iterator for StreamDeserializer<'_, T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> { None }
}
EOF

git worktree add -q --detach "$work/tree" HEAD
cd "$work/tree"
printf '\n[patch.crates-io]\nserde_json = { path = "%s" }\n' "$work/stub" >> Cargo.toml
cargo update -q -p serde_json --precise 1.0.999
# The stub must be what the SDK builds with, or the figures mean nothing.
cargo tree -p tasksync-sdk --target wasm32-unknown-unknown -i serde_json | grep -q 'serde_json v1.0.999' \
  || { echo "the stub is not used" >&2; exit 1; }

wasm_opt="$root/npm/node_modules/.bin/wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"
measure() { # label, opt-level, wasm-opt level
  CARGO_TARGET_DIR="$target_dir/$2" CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=$2 \
    cargo build -q -p tasksync-sdk --target wasm32-unknown-unknown --profile wasm-release
  wasm-bindgen "$target_dir/$2/wasm32-unknown-unknown/wasm-release/tasksync_sdk.wasm" \
    --out-dir "$work/pkg-$2" --out-name tasksync --target web --omit-default-module-path
  $wasm_opt "$3" "$work/pkg-$2/tasksync_bg.wasm" -o "$work/$2.wasm"
  echo "$1: $(wc -c < "$work/$2.wasm") B of wasm, $(zopfli --gzip -c "$work/$2.wasm" | wc -c) B with zopfli"
}
measure "no JSON, opt-level 3, wasm-opt -O3 (as shipped)" 3 -O3
measure "no JSON, opt-level z, wasm-opt -Oz" z -Oz
