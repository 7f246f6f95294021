//! HTTP leaf helpers: JSON responses, query parameters, and strict JSON
//! body parsing. Used by every handler; uses nothing of theirs.

use super::error::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;

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
