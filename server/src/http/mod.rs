//! The HTTP layer, the outermost: the request entry point with its security
//! guard (Host, Origin, token) and routing to the REST API (`api`), the
//! WebSocket stream (`ws`) and static files (`files`). Errors of every layer
//! become responses here (`error`); `body` holds the leaf helpers.

mod api;
pub(crate) mod body;
pub(crate) mod error;
mod files;
mod heartbeat;
mod ws;

use crate::app::App;
use crate::auth::Grant;
use body::{Resp, error_response, query_param};
use bytes::Bytes;
use error::ApiError;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Entry point for every request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let cors_origin = match guard(&app, &req) {
        Ok(origin) => origin,
        Err(e) => {
            tracing::debug!(%method, %path, code = e.code, "refused");
            return Ok(error_response(&e));
        }
    };
    let mut resp = if method == Method::OPTIONS && cors_origin.is_some() {
        preflight()
    } else if app.is_shutting_down() {
        error_response(&ApiError::unavailable("the server is shutting down"))
    } else {
        match grant(&app, &req).await {
            Ok(grant) => match api::route(&app, req, &grant).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            },
            Err(e) => error_response(&e),
        }
    };
    if let Some(origin) = cors_origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("etag, location, idempotent-replayed"),
        );
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    Ok(resp)
}

fn preflight() -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, if-match, idempotency-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// Refuses requests for another host (DNS rebinding), from a foreign origin
/// (cross-site requests from pages the user visits), or without the token.
/// Returns the origin to echo in CORS headers when a cross-origin request is
/// allowed by `--allow-origin`.
fn guard(app: &App, req: &Request<Incoming>) -> Result<Option<HeaderValue>, ApiError> {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("the request has no valid Host header"))?;
    if !host_allowed(app, host) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "Host `{host}` is not served here; start the server with --allow-host to allow it"
            ),
        ));
    }
    let mut cors = None;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("");
        let same_origin = o
            .strip_prefix("http://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
        if !same_origin {
            if !app
                .config
                .allow_origins
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
            {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "cross-origin request from `{o}` refused; start the server with --allow-origin {o} to allow it"
                    ),
                ));
            }
            cors = Some(origin.clone());
        }
    }
    Ok(cors)
}

/// What the request may do: with `--token`, `/api` and `/ws` need the admin
/// token or a stored role token (401 otherwise); without it (loopback only)
/// everything is allowed, as are the board's files and `/healthz`.
async fn grant(app: &App, req: &Request<Incoming>) -> Result<Grant, ApiError> {
    let path = req.uri().path();
    let protected = path == "/ws" || path == "/api" || path.starts_with("/api/");
    let Some(admin) = app.config.token.as_deref().filter(|_| protected) else {
        return Ok(Grant::admin());
    };
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    };
    let presented = presented_token(req.headers(), req.uri().query(), path == "/ws")
        .ok_or_else(unauthorized)?;
    if bool::from(presented.as_bytes().ct_eq(admin.as_bytes())) {
        return Ok(Grant::admin());
    }
    // (only well-formed role tokens are looked up: a random one costs no read)
    if !presented.starts_with("tsk_") || presented.len() > 100 {
        return Err(unauthorized());
    }
    app.grant_for(&presented).await.ok_or_else(unauthorized)
}

fn host_allowed(app: &App, host: &str) -> bool {
    let name = split_host(host).to_ascii_lowercase();
    let loopback = name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let bound = {
        let ip = app.local_addr.ip();
        !ip.is_unspecified() && name == ip.to_string()
    };
    loopback
        || bound
        || app
            .config
            .allow_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(&name))
}

/// The host name of a `Host` header, without port or IPv6 brackets.
fn split_host(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// The token a request presents: `Authorization: Bearer …`, or for `/ws`
/// (browsers cannot set headers there) `?token=`.
fn presented_token(headers: &HeaderMap, query: Option<&str>, ws: bool) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    match bearer {
        Some(given) => Some(given.trim().to_owned()),
        None if ws => query_param(query, "token"),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::split_host;

    #[test]
    fn host_names_without_ports() {
        assert_eq!(split_host("127.0.0.1:7878"), "127.0.0.1");
        assert_eq!(split_host("localhost"), "localhost");
        assert_eq!(split_host("[::1]:80"), "::1");
        assert_eq!(split_host("evil.com:1"), "evil.com");
    }
}
