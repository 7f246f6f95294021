//! HTTP plumbing: the request entry point with its security guard (Host,
//! Origin, token), JSON responses, and strict JSON body parsing.

use crate::App;
use crate::error::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Every response body is a complete buffer.
pub type Resp = Response<Full<Bytes>>;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// A response with a JSON body.
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A JSON body from a serializable value.
pub fn json_value(status: StatusCode, value: &impl serde::Serialize) -> Resp {
    json(
        status,
        serde_json::to_vec(value).expect("response serializes"),
    )
}

/// The error's JSON body with its status (and `Allow`/`WWW-Authenticate` where due).
pub fn error_response(e: &ApiError) -> Resp {
    let mut r = json(e.status, e.body());
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(allow) = e
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    r
}

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
        match crate::api::route(&app, req).await {
            Ok(r) => r,
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
    let path = req.uri().path();
    let protected = path == "/ws" || path == "/api" || path.starts_with("/api/");
    let preflight = req.method() == Method::OPTIONS && cors.is_some();
    if let Some(token) = &app.config.token
        && protected
        && !preflight
        && !token_ok(token, headers, req.uri().query(), path == "/ws")
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        ));
    }
    Ok(cors)
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

fn token_ok(token: &str, headers: &HeaderMap, query: Option<&str>, ws: bool) -> bool {
    let eq = |given: &[u8]| bool::from(given.ct_eq(token.as_bytes()));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    if let Some(given) = bearer {
        return eq(given.trim().as_bytes());
    }
    ws && query_param(query, "token").is_some_and(|t| eq(t.as_bytes()))
}

/// The first value of a query parameter, decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A query parameter that must be a non-negative integer when present.
pub fn query_u64(query: Option<&str>, name: &str) -> Result<Option<u64>, ApiError> {
    query_param(query, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::validation(name, format!("`{name}` must be a non-negative integer"))
            })
        })
        .transpose()
}

/// Reads and parses a JSON object body into `T`, strictly: the content type
/// must be JSON, the size at most 1 MiB, and unknown or read-only fields are
/// refused by name. An empty body parses as `{}` unless `required`.
pub async fn read_json<T: DeserializeOwned>(
    req: Request<Incoming>,
    required: bool,
    read_only: &[&str],
) -> Result<T, ApiError> {
    let (parts, body) = req.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"));
    let is_json = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    });
    if content_type.is_some() && !is_json {
        return Err(unsupported(content_type));
    }
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(too_large());
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "could not read the request body: {e}"
            )));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(ApiError::bad_request(
                "the request body is empty; send a JSON object",
            ));
        }
        return parse_object(serde_json::Map::new(), read_only);
    }
    if !is_json {
        return Err(unsupported(content_type));
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => parse_object(map, read_only),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
    }
}

fn unsupported(content_type: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "send the body as `Content-Type: application/json` (got `{}`)",
            content_type.unwrap_or("none")
        ),
    )
}

fn parse_object<T: DeserializeOwned>(
    map: serde_json::Map<String, serde_json::Value>,
    read_only: &[&str],
) -> Result<T, ApiError> {
    if let Some(field) = read_only.iter().find(|f| map.contains_key(**f)) {
        return Err(ApiError::validation(
            field,
            format!("`{field}` is read-only and cannot be set"),
        ));
    }
    serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
        let inner = e.inner().to_string();
        let path = e.path().to_string();
        // serde names unknown and missing fields in backticks in its message.
        let field = if path == "." || path.is_empty() {
            inner.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        if inner.starts_with("unknown field") {
            ApiError::validation(&field, format!("unknown field `{field}`"))
        } else {
            ApiError::validation(&field, format!("`{field}`: {inner}"))
        }
    })
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
