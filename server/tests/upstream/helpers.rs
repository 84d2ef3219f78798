//! Servers on port 0 and a reqwest caller, shared by the proxy and sample API tests.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use server::upstream::{ProxyOptions, ReverseProxy, SampleApi};
use tokio::net::TcpListener;

/// Serves `router` on a free port (with the peer address recorded, as keystile does).
pub async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    address
}

pub async fn spawn_sample() -> String {
    format!("http://{}", serve(SampleApi::new().router()).await)
}

/// A proxy to `upstream_url`, served on its own port; returns the proxy's base URL.
pub async fn spawn_proxy_with(upstream_url: &str, options: ProxyOptions) -> String {
    let proxy = ReverseProxy::new(upstream_url.parse().unwrap(), options).unwrap();
    format!("http://{}", serve(proxy.router()).await)
}

pub async fn spawn_proxy(upstream_url: &str) -> String {
    spawn_proxy_with(upstream_url, ProxyOptions::default()).await
}

/// The sample API behind the proxy: what the gateway's callers meet.
pub async fn spawn_sample_behind_proxy() -> String {
    spawn_proxy(&spawn_sample().await).await
}

pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

pub async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

pub async fn get_json(url: String) -> (StatusCode, Value) {
    let response = get(url).await;
    (response.status(), response.json().await.unwrap())
}

pub async fn post_json(url: String, body: Value) -> reqwest::Response {
    client().post(url).json(&body).send().await.unwrap()
}

/// An upstream answering every request with what it received, and some headers of its own,
/// hop-by-hop ones among them.
pub async fn spawn_echo() -> String {
    async fn echo(request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let echoed = json!({
            "method": parts.method.as_str(),
            "uri": parts.uri.to_string(),
            "headers": header_map(&parts.headers),
            "body": String::from_utf8_lossy(&body),
        });
        let headers = [
            ("x-upstream", "yes"),
            ("keep-alive", "timeout=5"),
            ("connection", "x-upstream-private"),
            ("x-upstream-private", "1"),
            ("proxy-authenticate", "Basic"),
        ];
        (headers, axum::Json(echoed)).into_response()
    }
    format!("http://{}", serve(Router::new().fallback(echo)).await)
}

pub fn header_map(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        map.insert(name.as_str().to_owned(), Value::from(values.join(", ")));
    }
    Value::Object(map)
}

/// The problem+json body of a response that must have `status`.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}
