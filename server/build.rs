//! The live board in `board/` is embedded into the binary
//! (`include_dir!` in `src/http/files.rs`): rebuild when it changes.
fn main() {
    println!("cargo:rerun-if-changed=board");
}
