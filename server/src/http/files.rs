//! The live board at `/`: built into the binary (`server/board`, made by
//! `scripts/embed-board.sh`), or the files of `--static DIR` instead. GET/HEAD
//! only, content types by extension (`application/wasm` for `.wasm`), and
//! nothing outside the folder — the decoded path is resolved and must stay
//! under the root.

use super::body::Resp;
use super::error::ApiError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::path::{Component, Path, PathBuf};

/// The board, as built when this binary was.
static BOARD: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/board");

/// Serves `url_path` from the board built into the binary.
pub fn embedded(url_path: &str, head: bool) -> Result<Resp, ApiError> {
    let rel = relative(url_path)?;
    if BOARD.get_dir(&rel).is_some() {
        return redirect(url_path);
    }
    let file = BOARD.get_file(&rel).ok_or_else(|| not_found(url_path))?;
    let len = file.contents().len() as u64;
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from_static(file.contents())
    };
    Ok(file_response(body, &rel, head.then_some(len)))
}

/// The file a URL path names, relative to the root (`index.html` for a
/// folder's path): never `..`, a root, a NUL or a backslash.
fn relative(url_path: &str) -> Result<PathBuf, ApiError> {
    let decoded = percent_encoding::percent_decode_str(url_path)
        .decode_utf8()
        .map_err(|_| not_found(url_path))?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(not_found(url_path));
    }
    let mut rel = PathBuf::new();
    for part in Path::new(decoded.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => rel.push(p),
            // `..`, roots and prefixes never reach the file system.
            _ => return Err(not_found(url_path)),
        }
    }
    if decoded.ends_with('/') || rel.as_os_str().is_empty() {
        rel.push("index.html");
    }
    Ok(rel)
}

fn redirect(url_path: &str) -> Result<Resp, ApiError> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let to = format!("{}/", url_path.trim_end_matches('/'));
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&to).map_err(|_| not_found(url_path))?,
    );
    Ok(r)
}

fn file_response(body: Bytes, path: &Path, head_len: Option<u64>) -> Resp {
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(len) = head_len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// Largest file served.
const MAX_FILE: u64 = 32 << 20;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("no file at `{path}`"))
}

/// Serves `url_path` from `root` (already canonical).
pub async fn serve(root: &Path, url_path: &str, head: bool) -> Result<Resp, ApiError> {
    let full = root.join(relative(url_path)?);
    // Resolve symlinks too: the real file must be inside the root.
    let real = tokio::fs::canonicalize(&full)
        .await
        .map_err(|_| not_found(url_path))?;
    if !real.starts_with(root) {
        return Err(not_found(url_path));
    }
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|_| not_found(url_path))?;
    if meta.is_dir() {
        return redirect(url_path);
    }
    if meta.len() > MAX_FILE {
        return Err(not_found(url_path));
    }
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(
            tokio::fs::read(&real)
                .await
                .map_err(|_| not_found(url_path))?,
        )
    };
    Ok(file_response(body, &real, head.then_some(meta.len())))
}
