//! Header rules of forwarding: which headers never cross a proxy (hop-by-hop ones, the caller's
//! API key), which the gateway adds to tell the upstream who is calling (`X-Keystile-*`), and
//! which the proxy adds (`X-Forwarded-For`, `-Proto`, `-Host`).

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

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
/// trust, as keystile itself does) and sets `X-Forwarded-Proto` and `X-Forwarded-Host`.
pub fn add_forwarded(headers: &mut HeaderMap, origin: &Origin) {
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
