//! Routes: which requests charge which buckets, and which take anonymous callers.
//!
//! A route is a method and a path pattern. A pattern's segments are literals, `:name` (exactly
//! one non-empty segment) or a final `*` (the rest of the path, including nothing, so
//! `/v1/keys/*` also matches `POST /v1/keys`). Empty segments are ignored, so a trailing slash
//! makes no difference, and a query string is cut off before matching.
//!
//! When several routes match, the most specific wins: compared segment by segment, a literal
//! beats `:name`, which beats `*`; then an exact method beats a `GET` route answering a `HEAD`
//! request, which beats method `*`. Two routes of the same method and shape are refused.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::headers::HeaderStyle;
use crate::validation::{FieldPath, Violations};

/// The request methods a route can name; `*` is any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "*")]
    Any,
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "OPTIONS")]
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Any => "*",
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// How well this route method serves a request method: 2 exactly, 1 a GET route for a
    /// HEAD request, 0 for `*`; `None` when it does not.
    fn rank(self, request: &str) -> Option<u8> {
        match self {
            Method::Any => Some(0),
            _ if self.as_str().eq_ignore_ascii_case(request) => Some(2),
            Method::Get if request.eq_ignore_ascii_case("HEAD") => Some(1),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    Param(String),
    Rest,
}

impl Segment {
    /// Literal beats parameter beats the rest-of-path wildcard.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::Rest => 0,
        }
    }
}

/// A path pattern such as `/v1/scans/:id/stream` or `/v1/snapshots/*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

/// Why a path pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("a path pattern starts with `/`: `{0}`")]
    NotAbsolute(String),
    #[error("`*` may only be the last segment of `{0}`")]
    WildcardNotLast(String),
    #[error("a `:` parameter needs a name in `{0}`")]
    UnnamedParam(String),
}

impl FromStr for PathPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !text.starts_with('/') {
            return Err(PatternError::NotAbsolute(text.to_owned()));
        }
        let parts: Vec<&str> = text.split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (n, part) in parts.iter().enumerate() {
            segments.push(match *part {
                "*" if n + 1 == parts.len() => Segment::Rest,
                "*" => return Err(PatternError::WildcardNotLast(text.to_owned())),
                ":" => return Err(PatternError::UnnamedParam(text.to_owned())),
                _ => match part.strip_prefix(':') {
                    Some(name) => Segment::Param(name.to_owned()),
                    None => Segment::Literal((*part).to_owned()),
                },
            });
        }
        Ok(PathPattern { text: text.to_owned(), segments })
    }
}

impl TryFrom<String> for PathPattern {
    type Error = PatternError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<PathPattern> for String {
    fn from(pattern: PathPattern) -> Self {
        pattern.text
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PathPattern {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parameters if `path` matches, in pattern order.
    fn captures<'a>(&'a self, path: &'a str) -> Option<Vec<(&'a str, &'a str)>> {
        let mut actual = path.split('/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Rest => return Some(params),
                Segment::Literal(literal) => actual.next()?.eq_ignore_ascii_case(literal).then_some(())?,
                Segment::Param(name) => params.push((name.as_str(), actual.next()?)),
            }
        }
        actual.next().is_none().then_some(params)
    }

    /// The pattern with parameter names erased: two patterns with the same key match the same
    /// paths.
    fn key(&self) -> Vec<&str> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => literal.as_str(),
                Segment::Param(_) => ":",
                Segment::Rest => "*",
            })
            .collect()
    }

    /// The ranks of the segments: of two patterns matching one path, the greater shape is the
    /// more specific. A pattern without `*` ends with a marker above every rank, so `/v1/keys`
    /// beats `/v1/keys/*`.
    fn shape(&self) -> Vec<u8> {
        let mut shape: Vec<u8> = self.segments.iter().map(Segment::rank).collect();
        if self.segments.last() != Some(&Segment::Rest) {
            shape.push(u8::MAX);
        }
        shape
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Needs an API key.
    #[default]
    Authenticated,
    /// Anonymous callers are allowed and charged the per-IP `[public]` bucket; a caller with a
    /// key skips it and is charged like on any other route.
    Public,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub method: Method,
    pub path: PathPattern,
    #[serde(default)]
    pub access: Access,
    /// Category buckets (names in `[buckets]`) charged by an authenticated call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Charges no bucket at all (not even the plan's): a long-lived stream, a status endpoint.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exempt: bool,
    /// Units one request consumes from each of its buckets.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub cost: u64,
    /// Whether the plan's buckets (monthly quota, burst, daily cap, plan buckets) apply.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub metered: bool,
    /// The most rows an anonymous caller may ask for with the `limit` query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_row_cap: Option<u32>,
    /// Header styles for this route's responses instead of `[headers] styles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HeaderStyle>>,
}

fn one() -> u64 {
    1
}

fn is_one(cost: &u64) -> bool {
    *cost == 1
}

fn yes() -> bool {
    true
}

fn is_true(flag: &bool) -> bool {
    *flag
}

fn is_false(flag: &bool) -> bool {
    !flag
}

impl Route {
    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }

    /// The row limit an anonymous caller asking for `requested` rows gets.
    pub fn cap_rows(&self, requested: u32) -> u32 {
        self.anonymous_row_cap.map_or(requested, |cap| requested.min(cap))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// The route a request matched, and the values of its `:name` segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub route: &'a Route,
    pub params: Vec<(&'a str, &'a str)>,
}

impl RouteMatch<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl Policy {
    /// The most specific route for `method` and `path` (a query string is ignored); `None`
    /// when no route matches (see [`Policy::charges`] for what that means). Literal segments
    /// match in any letter case, since some upstreams serve `/v1/Scans` as `/v1/scans`: a
    /// request must not escape its route's buckets by its spelling. (The gateway has already
    /// decoded escaped letters and removed dot segments.)
    pub fn route<'a>(&'a self, method: &str, path: &'a str) -> Option<RouteMatch<'a>> {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        let mut best: Option<(Vec<u8>, u8, RouteMatch<'a>)> = None;
        for route in &self.routes {
            let Some(method_rank) = route.method.rank(method) else {
                continue;
            };
            let Some(params) = route.path.captures(path) else {
                continue;
            };
            // Only matching routes are ranked: most requests match one or two of them.
            let shape = route.path.shape();
            let better = best.as_ref().is_none_or(|(best_shape, best_rank, _)| {
                match shape.iter().cmp(best_shape.iter()) {
                    Ordering::Equal => method_rank > *best_rank,
                    order => order == Ordering::Greater,
                }
            });
            if better {
                best = Some((shape, method_rank, RouteMatch { route, params }));
            }
        }
        best.map(|(_, _, found)| found)
    }

    pub(crate) fn check_routes(&self, out: &mut Violations) {
        let routes = FieldPath::root().key("routes");
        let mut seen = Vec::new();
        for (index, route) in self.routes.iter().enumerate() {
            let path = routes.index(index);
            let key = (route.method, route.path.key());
            if seen.contains(&key) {
                out.push(
                    path.key("path"),
                    format!("`{route}` repeats an earlier route of the same method and shape"),
                );
            }
            seen.push(key);
            for (n, name) in route.buckets.iter().enumerate() {
                self.check_bucket_ref(name, path.key("buckets").index(n), out);
            }
            if route.exempt && !route.buckets.is_empty() {
                out.push(
                    path.key("buckets"),
                    "an exempt route charges no bucket; drop `exempt` or the buckets",
                );
            }
            if route.cost == 0 {
                out.push(path.key("cost"), "must be at least 1 (use exempt = true)");
            }
            if route.is_public() && self.public.is_none() {
                out.push(path.key("access"), "a public route needs a [public] section for its per-IP limit");
            }
            if route.anonymous_row_cap.is_some() && !route.is_public() {
                out.push(path.key("anonymous_row_cap"), "only a public route has anonymous callers");
            }
            if route.anonymous_row_cap == Some(0) {
                out.push(path.key("anonymous_row_cap"), "must be at least 1");
            }
        }
    }
}
