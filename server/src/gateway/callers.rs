//! Who is calling: the API key presented (if any), verified through the node's cache, with the
//! account facts the policy needs (plan, billing anchor, overrides).

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use services::Services;
use services::keys::{Rejection, Restrictions};

use super::key_cache::KeyCache;

/// A verified key and its account, as the gateway enforces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    pub key_id: String,
    pub account_id: String,
    pub plan_id: String,
    pub anchor_day: u8,
    pub overrides: policy::Overrides,
    /// The account's monthly spend cap in cents, if it has one.
    pub spend_cap_cents: Option<u64>,
    /// The secret stops working at this instant; the cache never serves it beyond.
    pub valid_until: Option<DateTime<Utc>>,
    pub via_previous: bool,
    pub restrictions: Restrictions,
}

/// What the request carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    Nothing,
    Key(&'a str),
    /// A key header that cannot hold a key (not text, wrong scheme, empty).
    Malformed,
    /// More than one key header: which key a request means is not for the gateway to guess.
    Several,
}

/// `Authorization: Bearer <key>` or `X-API-Key: <key>`, once.
pub fn presented_key(headers: &HeaderMap) -> Presented<'_> {
    let (authorization, api_key) = (headers.get_all(header::AUTHORIZATION), headers.get_all("x-api-key"));
    if authorization.iter().chain(api_key.iter()).nth(1).is_some() {
        return Presented::Several;
    }
    let value = headers.get(header::AUTHORIZATION).or_else(|| headers.get("x-api-key"));
    let Some(value) = value else {
        return Presented::Nothing;
    };
    let Ok(text) = value.to_str() else {
        return Presented::Malformed;
    };
    let is_authorization = headers.contains_key(header::AUTHORIZATION);
    let secret = if is_authorization {
        match text.split_once(' ') {
            Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => secret.trim(),
            _ => return Presented::Malformed,
        }
    } else {
        text.trim()
    };
    if secret.is_empty() { Presented::Malformed } else { Presented::Key(secret) }
}

#[derive(Debug, thiserror::Error)]
#[error("could not verify the key: {0}")]
pub struct ResolveError(String);

/// Verifies `secret`, from the cache when fresh, else from the database (and caches it).
pub async fn resolve(
    services: &Services,
    cache: &KeyCache,
    secret: &str,
) -> Result<Result<Arc<ResolvedKey>, Rejection>, ResolveError> {
    let Some(digest) = services.keys.format().parse(secret) else {
        return Ok(Err(Rejection::Malformed));
    };
    let now = services.clock.now();
    if let Some(key) = cache.get(&digest, now) {
        return Ok(Ok(key));
    }
    let verified = match services.keys.verify_digest(&digest).await {
        Ok(Ok(verified)) => verified,
        Ok(Err(rejection)) => return Ok(Err(rejection)),
        Err(error) => return Err(ResolveError(error.to_string())),
    };
    let account =
        services.accounts.account(&verified.account_id).await.map_err(|e| ResolveError(e.to_string()))?;
    let Some(account) = account.filter(|account| account.disabled_at.is_none()) else {
        return Ok(Err(Rejection::Revoked));
    };
    let overrides =
        services.accounts.overrides(&account.id).await.map_err(|e| ResolveError(e.to_string()))?;
    let key = Arc::new(ResolvedKey {
        key_id: verified.key_id,
        account_id: account.id,
        plan_id: account.plan_id,
        anchor_day: account.billing_anchor_day,
        overrides,
        spend_cap_cents: account.spend_cap_cents,
        valid_until: verified.valid_until,
        via_previous: verified.via_previous,
        restrictions: verified.restrictions,
    });
    cache.insert(digest, key.clone(), now);
    Ok(Ok(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        assert_eq!(presented_key(&HeaderMap::new()), Presented::Nothing);
        assert_eq!(presented_key(&headers("authorization", "Bearer ks_a_b")), Presented::Key("ks_a_b"));
        assert_eq!(presented_key(&headers("authorization", "bearer  ks_a_b ")), Presented::Key("ks_a_b"));
        assert_eq!(presented_key(&headers("x-api-key", "ks_a_b")), Presented::Key("ks_a_b"));
        assert_eq!(presented_key(&headers("authorization", "Basic dXNlcg==")), Presented::Malformed);
        assert_eq!(presented_key(&headers("authorization", "Bearer ")), Presented::Malformed);
        assert_eq!(presented_key(&headers("authorization", "ks_a_b")), Presented::Malformed);
        let mut two = headers("authorization", "Bearer ks_a_b");
        two.append("authorization", "Bearer ks_c_d".parse().unwrap());
        assert_eq!(presented_key(&two), Presented::Several);
        let mut both = headers("authorization", "Bearer ks_a_b");
        both.insert("x-api-key", "ks_a_b".parse().unwrap());
        assert_eq!(presented_key(&both), Presented::Several);
    }
}
