//! Rules of forwarding: which headers never cross a proxy (hop-by-hop ones, the caller's API
//! key), which the gateway adds to tell the upstream who is calling (`X-Keystile-*`), which the
//! proxy adds (`X-Forwarded-For`, `-Proto`, `-Host`), and the row cap an anonymous caller's
//! `limit` parameter is held to.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};

/// Headers meaningful only on one connection (RFC 9110 §7.6.1), removed in both directions.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
];

/// Removes the hop-by-hop headers: the fixed list, every `Proxy-*` header, and those the
/// `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    let proxy: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with("proxy-")).cloned().collect();
    for name in HOP_BY_HOP.iter().chain(&named).chain(&proxy) {
        headers.remove(name);
    }
}

/// Removes the caller's API key (`Authorization`, `X-API-Key`): the upstream never sees it.
pub fn remove_api_key(headers: &mut HeaderMap) {
    headers.remove(header::AUTHORIZATION);
    headers.remove("x-api-key");
}

/// The verified caller's account, as the upstream is told it.
pub const ACCOUNT_ID: HeaderName = HeaderName::from_static("x-keystile-account-id");
/// The id (never the secret) of the key the caller presented.
pub const KEY_ID: HeaderName = HeaderName::from_static("x-keystile-key-id");
/// The caller's plan, for an upstream that offers more to some plans.
pub const PLAN: HeaderName = HeaderName::from_static("x-keystile-plan");

/// A caller whose key the gateway verified.
pub struct CallerIdentity<'a> {
    pub account_id: &'a str,
    pub key_id: &'a str,
    pub plan_id: &'a str,
}

/// Tells the upstream who is calling: the caller's account, key id and plan, or nothing for an
/// anonymous call. Every `X-Keystile-*` header the caller sent is removed first, so an upstream
/// can trust these as the gateway's word.
pub fn set_caller(headers: &mut HeaderMap, caller: Option<CallerIdentity<'_>>) {
    let sent: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with("x-keystile-")).cloned().collect();
    for name in sent {
        headers.remove(name);
    }
    let Some(caller) = caller else {
        return;
    };
    for (name, value) in [(ACCOUNT_ID, caller.account_id), (KEY_ID, caller.key_id), (PLAN, caller.plan_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
}

/// Who the caller is, as the proxy saw it.
pub struct Origin {
    /// The socket peer, when the server recorded it.
    pub peer: Option<IpAddr>,
    /// The `Host` the caller asked for.
    pub host: Option<HeaderValue>,
    pub proto: &'static str,
}

/// Appends the peer to `X-Forwarded-For` (the upstream reads the right-most entry it does not
/// trust, as keystile itself does) and sets `X-Forwarded-Proto` and `X-Forwarded-Host`. A
/// caller's RFC 7239 `Forwarded` is dropped: keystile does not write one, so whatever it says
/// (`for=` any address) would reach an upstream that reads it unchecked.
pub fn add_forwarded(headers: &mut HeaderMap, origin: &Origin) {
    headers.remove(header::FORWARDED);
    const FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    if let Some(peer) = origin.peer {
        let mut chain: Vec<String> =
            headers.get_all(&FOR).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        chain.push(peer.to_string());
        if let Ok(value) = HeaderValue::try_from(chain.join(", ")) {
            headers.insert(FOR, value);
        }
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static(origin.proto));
    match &origin.host {
        Some(host) => headers.insert("x-forwarded-host", host.clone()),
        None => headers.remove("x-forwarded-host"),
    };
}

/// Replaces every `limit` parameter with one no larger than `cap`, however its name is
/// encoded (`%6Cimit` is `limit` to the upstream too).
pub fn cap_limit_parameter(request: &mut Request, cap: u32) {
    let uri = request.uri();
    let query = uri.query().unwrap_or("");
    let is_limit = |pair: &str| {
        let name = pair.split('=').next().unwrap_or("");
        form_urlencoded::parse(name.as_bytes()).next().is_some_and(|(name, _)| name == "limit")
    };
    let asked = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "limit")
        .and_then(|(_, value)| value.parse::<u32>().ok());
    let allowed = format!("limit={}", asked.map_or(cap, |value| value.min(cap)));
    let mut pairs: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty() && !is_limit(pair)).collect();
    pairs.push(&allowed);
    let rewritten = format!("{}?{}", uri.path(), pairs.join("&"));
    if let Ok(uri) = rewritten.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capped(uri: &str, cap: u32) -> String {
        let mut request = Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
        cap_limit_parameter(&mut request, cap);
        request.uri().to_string()
    }

    #[test]
    fn anonymous_row_counts_are_capped() {
        assert_eq!(capped("/v1/operators/search?q=acme&limit=50", 3), "/v1/operators/search?q=acme&limit=3");
        assert_eq!(capped("/v1/operators/search?limit=2", 3), "/v1/operators/search?limit=2");
        assert_eq!(capped("/v1/operators/search?q=acme", 3), "/v1/operators/search?q=acme&limit=3");
        assert_eq!(capped("/v1/operators/search?limit=lots", 3), "/v1/operators/search?limit=3");
        assert_eq!(capped("/v1/operators/search?%6Cimit=50", 3), "/v1/operators/search?limit=3");
        assert_eq!(
            capped("/v1/operators/search?q=a&lim%69t=50&limit=2", 3),
            "/v1/operators/search?q=a&limit=3"
        );
        assert_eq!(capped("/v1/operators/search?limit&q=a", 3), "/v1/operators/search?q=a&limit=3");
    }
}
