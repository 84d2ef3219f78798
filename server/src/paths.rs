//! One spelling per path: every request's path is put in its normal form before it is routed,
//! so what the gateway charges is what the upstream serves.
//!
//! The policy charges a request by its route, matched on the path. Most servers take
//! `/v1/sc%61ns` and `/v1/x/../scans` for `/v1/scans`, so if the gateway matched the path as
//! sent, a caller could reach `POST /v1/scans` without its `scans` bucket. RFC 3986 §6.2.2 says
//! which spellings are the same path: escapes of unreserved characters (letters, digits,
//! `-._~`) mean the characters themselves, escapes are case-insensitive, and `.` and `..`
//! segments are removed. This module applies those rules and forwards the result; an encoded
//! `/` (`%2F`) stays encoded, since it is not the same path. Letter case is the policy's
//! concern: its routes match literal segments in any case.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// The request with its path in normal form; untouched (and unallocated) when it already is.
pub fn normalize(mut request: Request) -> Request {
    let Cow::Owned(path) = normalized(request.uri().path()) else {
        return request;
    };
    let target = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    // Decoding and dropping segments keep the characters the path was accepted with.
    let Ok(path_and_query) = PathAndQuery::try_from(target) else {
        return request;
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

/// `path` with unreserved characters decoded, other escapes in upper case, and dot segments
/// removed. Paths that are not absolute (`*`) are left as they are.
pub fn normalized(path: &str) -> Cow<'_, str> {
    let has_escapes = path.contains('%');
    let has_dots = path.split('/').any(|segment| segment == "." || segment == "..");
    if !path.starts_with('/') || !(has_escapes || has_dots) {
        return Cow::Borrowed(path);
    }
    let decoded = if has_escapes { decode_unreserved(path) } else { path.to_owned() };
    let normal = remove_dot_segments(&decoded);
    if normal == path { Cow::Borrowed(path) } else { Cow::Owned(normal) }
}

fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| hex_pair(bytes.get(i + 1..i + 3)?)).flatten();
        match escaped {
            Some(byte) if is_unreserved(byte) => out.push(char::from(byte)),
            Some(byte) => out.push_str(&format!("%{byte:02X}")),
            // A lone `%` is not an escape: kept as sent.
            None => {
                let next = path[i..].chars().next().unwrap_or('%');
                out.push(next);
                i += next.len_utf8();
                continue;
            }
        }
        i += 3;
    }
    out
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments go, `..` takes the segment before it
/// with it, and a path ending in either ends with `/`.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (index, &segment) in segments.iter().enumerate() {
        if segment == "." || segment == ".." {
            if segment == ".." {
                out.pop();
            }
            if index == last {
                out.push("");
            }
        } else {
            out.push(segment);
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_path_becomes_one() {
        let cases = [
            ("/v1/sc%61ns", "/v1/scans"),
            ("/v1/sc%61ns?x=%61", "/v1/scans?x=%61"),
            ("/%761/SC%41NS", "/v1/SCANS"),
            ("/v1/x/../scans", "/v1/scans"),
            ("/v1/./scans/.", "/v1/scans/"),
            ("/v1/%2e%2E/v1/scans", "/v1/scans"),
            ("/v1/scans/..", "/v1/"),
            ("/../../v1/check", "/v1/check"),
            ("/v1/a//../b", "/v1/a/b"),
            ("/v1/a%2fb", "/v1/a%2Fb"),
            ("/v1/%C3%A9t%c3%a9", "/v1/%C3%A9t%C3%A9"),
            ("/v1/100%", "/v1/100%"),
            ("/v1/%zz%4", "/v1/%zz%4"),
        ];
        for (sent, normal) in cases {
            let request = Request::builder().uri(sent).body(axum::body::Body::empty()).unwrap();
            assert_eq!(normalize(request).uri().path_and_query().unwrap().as_str(), normal, "{sent}");
        }
    }

    #[test]
    fn paths_already_normal_are_not_copied() {
        for path in ["/v1/scans", "/v1/scans/", "/v1//scans", "/", "*", "/v1/a.b/..c/...", "/v1/a%2Fb"] {
            assert!(matches!(normalized(path), Cow::Borrowed(_)), "{path}");
        }
    }
}
