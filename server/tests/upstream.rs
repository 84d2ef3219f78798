//! The upstream over real HTTP: the sample API served on port 0 as a separate upstream, the
//! reverse proxy served on another port 0 in front of it (or of a test upstream that echoes,
//! stalls or talks nonsense), and reqwest as the caller.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use server::upstream::{
    ForwardedProto, ProxyOptions, ReverseProxy, SampleApi, Upstream, UpstreamConfig, UpstreamError,
    UpstreamUrl,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

// ---- helpers ----

/// Serves `router` on a free port (with the peer address recorded, as keystile does).
async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    address
}

async fn spawn_sample() -> String {
    format!("http://{}", serve(SampleApi::new().router()).await)
}

/// A proxy to `upstream_url`, served on its own port; returns the proxy's base URL.
async fn spawn_proxy_with(upstream_url: &str, options: ProxyOptions) -> String {
    let proxy = ReverseProxy::new(upstream_url.parse().unwrap(), options).unwrap();
    format!("http://{}", serve(proxy.router()).await)
}

async fn spawn_proxy(upstream_url: &str) -> String {
    spawn_proxy_with(upstream_url, ProxyOptions::default()).await
}

/// The sample API behind the proxy: what the gateway's callers meet.
async fn spawn_sample_behind_proxy() -> String {
    spawn_proxy(&spawn_sample().await).await
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

async fn get_json(url: String) -> (StatusCode, Value) {
    let response = get(url).await;
    (response.status(), response.json().await.unwrap())
}

async fn post_json(url: String, body: Value) -> reqwest::Response {
    client().post(url).json(&body).send().await.unwrap()
}

/// An upstream answering every request with what it received, and some headers of its own,
/// hop-by-hop ones among them.
async fn spawn_echo() -> String {
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

fn header_map(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        map.insert(name.as_str().to_owned(), Value::from(values.join(", ")));
    }
    Value::Object(map)
}

/// The problem+json body of a response that must have `status`.
async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

// ---- streaming ----

#[tokio::test]
async fn scan_events_flow_through_the_proxy_one_by_one() {
    let api = spawn_sample_behind_proxy().await;
    let scan = json!({"jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12});
    let created: Value = post_json(format!("{api}/v1/scans"), scan).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    let response = get(format!("{api}/v1/scans/{id}/stream")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut chunks = response.bytes_stream();
    let first = chunks.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.contains("event: progress"), "{first}");
    assert!(!first.contains("event: complete"), "the first chunk held the whole stream: {first}");

    let mut rest = String::new();
    while let Some(chunk) = chunks.next().await {
        rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let completed_at = Instant::now();
    let all = first + &rest;
    assert_eq!(all.matches("event: progress").count(), 5, "{all}");
    assert_eq!(all.matches("event: complete").count(), 1, "{all}");
    assert!(all.contains(&format!("\"scan_id\":\"{id}\"")), "{all}");
    // Five more events, 100 ms apart, came after the first one: it was not held back.
    assert!(completed_at - first_at >= Duration::from_millis(300), "{:?}", completed_at - first_at);
}

#[tokio::test]
async fn a_stream_outlasting_the_timeout_is_not_cut() {
    // The timeout bounds the response head; the body then streams as long as it takes.
    let options = ProxyOptions { timeout: Duration::from_millis(150), ..ProxyOptions::default() };
    let api = spawn_proxy_with(&spawn_sample().await, options).await;
    let scan = json!({"jurisdictions": ["SE"], "areas": ["MARKETING"]});
    let created: Value = post_json(format!("{api}/v1/scans"), scan).await.json().await.unwrap();
    let response = get(format!("{api}/v1/scans/{}/stream", created["id"].as_str().unwrap())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    let text = response.text().await.unwrap();
    assert!(started.elapsed() > Duration::from_millis(150), "the stream ended before the timeout");
    assert!(text.contains("event: complete"), "{text}");
}

#[tokio::test]
async fn a_post_body_reaches_the_upstream_while_the_caller_still_sends_it() {
    let first_chunk = Arc::new(Notify::new());
    let seen = first_chunk.clone();
    let upload = move |request: Request| async move {
        let mut frames = request.into_body().into_data_stream();
        let mut total = 0;
        while let Some(frame) = frames.next().await {
            total += frame.unwrap().len();
            seen.notify_one();
        }
        axum::Json(json!({ "bytes": total }))
    };
    let upstream = format!("http://{}", serve(Router::new().fallback(upload)).await);
    let proxy = spawn_proxy(&upstream).await;

    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let chunks = futures_util::stream::unfold(receiver, |mut r| async { r.recv().await.map(|c| (c, r)) });
    let call = tokio::spawn(
        client().post(format!("{proxy}/v1/exports")).body(reqwest::Body::wrap_stream(chunks)).send(),
    );
    sender.send(Ok(Bytes::from(vec![b'a'; 1000]))).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), first_chunk.notified())
        .await
        .expect("the first chunk reached the upstream before the body ended");
    for _ in 0..64 {
        sender.send(Ok(Bytes::from(vec![b'b'; 16 * 1024]))).await.unwrap();
    }
    drop(sender);
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 1000 + 64 * 16 * 1024);
}

// ---- what is forwarded ----

#[tokio::test]
async fn the_path_and_query_are_kept_under_the_base_path() {
    let upstream = spawn_echo().await;
    for (base, expected) in [
        (format!("{upstream}/api"), "/api/v1/check?x=1&name=a%20b"),
        (format!("{upstream}/api/"), "/api/v1/check?x=1&name=a%20b"),
        (upstream.clone(), "/v1/check?x=1&name=a%20b"),
    ] {
        let proxy = spawn_proxy(&base).await;
        let (_, echoed) = get_json(format!("{proxy}/v1/check?x=1&name=a%20b")).await;
        assert_eq!(echoed["uri"], expected, "base {base}");
        assert_eq!(echoed["method"], "GET");
    }
}

#[tokio::test]
async fn hop_by_hop_headers_and_api_keys_stay_behind_other_headers_pass() {
    let proxy = spawn_proxy(&spawn_echo().await).await;
    let response = client()
        .put(format!("{proxy}/v1/things/7"))
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .header("keep-alive", "300")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("authorization", "Bearer ks_secret")
        .header("x-api-key", "ks_secret")
        .header("x-kept", "yes")
        .header("content-type", "text/plain")
        .body("hello upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let echoed: Value = response.json().await.unwrap();
    let sent = &echoed["headers"];
    for dropped in ["x-drop-me", "keep-alive", "te", "proxy-authorization", "authorization", "x-api-key"] {
        assert!(sent.get(dropped).is_none(), "{dropped} reached the upstream: {sent}");
    }
    assert_eq!(sent["x-kept"], "yes");
    assert_eq!(sent["content-type"], "text/plain");
    assert_eq!(echoed["method"], "PUT");
    assert_eq!(echoed["body"], "hello upstream");

    assert_eq!(headers["x-upstream"], "yes");
    for dropped in ["keep-alive", "x-upstream-private", "proxy-authenticate"] {
        assert!(!headers.contains_key(dropped), "{dropped} reached the caller: {headers:?}");
    }
}

#[tokio::test]
async fn forwarded_headers_name_the_caller_and_the_host_it_asked_for() {
    let upstream = spawn_echo().await;
    let options = ProxyOptions { forwarded_proto: ForwardedProto::Https, ..ProxyOptions::default() };
    let proxy = spawn_proxy_with(&upstream, options).await;
    let echoed: Value = client()
        .get(format!("{proxy}/v1/jurisdictions"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = &echoed["headers"];
    assert_eq!(sent["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(sent["x-forwarded-proto"], "https");
    assert_eq!(sent["x-forwarded-host"], proxy.trim_start_matches("http://"));
    assert_eq!(sent["host"], upstream.trim_start_matches("http://"));
}

// ---- upstream faults ----

#[tokio::test]
async fn a_closed_upstream_port_is_a_502_problem() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = spawn_proxy(&format!("http://127.0.0.1:{port}")).await;
    let response = get(format!("{proxy}/v1/check?name=x")).await;
    let body = problem(response, StatusCode::BAD_GATEWAY).await;
    assert_eq!(body["title"], "Bad gateway");
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_a_504_problem_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = ProxyOptions { timeout: Duration::from_millis(300), ..ProxyOptions::default() };
    let proxy = spawn_proxy_with(&upstream, options).await;
    let started = Instant::now();
    let response = get(format!("{proxy}/v1/snapshots")).await;
    problem(response, StatusCode::GATEWAY_TIMEOUT).await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_upstream_talking_nonsense_is_a_502_problem() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"this is not HTTP\r\n\r\n").await;
        }
    });
    let proxy = spawn_proxy(&upstream).await;
    let response = get(format!("{proxy}/v1/snapshots")).await;
    problem(response, StatusCode::BAD_GATEWAY).await;
}

// ---- configuration ----

#[test]
fn upstream_urls_are_checked_at_start() {
    let refused = |url: &str| url.parse::<UpstreamUrl>().unwrap_err();
    assert_eq!(refused("https://api.example.test"), UpstreamError::UnsupportedScheme);
    assert_eq!(refused("http://user:hunter2@api.example.test"), UpstreamError::Credentials);
    assert_eq!(refused("http://api.example.test/api?x=1"), UpstreamError::QueryOrFragment);
    assert_eq!(refused("not a url"), UpstreamError::Unparsable);
    assert!(!UpstreamError::Credentials.to_string().contains("hunter2"));

    let base: UpstreamUrl = "http://127.0.0.1:9000/api/".parse().unwrap();
    assert_eq!(base.to_string(), "http://127.0.0.1:9000/api");
    assert_eq!(base.join("/v1/check?x=1").unwrap(), "http://127.0.0.1:9000/api/v1/check?x=1");
}

#[tokio::test]
async fn without_an_upstream_url_the_sample_api_answers() {
    let config = UpstreamConfig { url: Some("  ".into()), ..UpstreamConfig::default() };
    let upstream = Upstream::from_config(&config).unwrap();
    assert!(matches!(upstream, Upstream::Sample(_)), "{}", upstream.describe());
    let api = format!("http://{}", serve(upstream.router()).await);
    let response = get(format!("{api}/v1/jurisdictions")).await;
    assert_eq!(response.status(), StatusCode::OK);

    let config = UpstreamConfig { url: Some("http://127.0.0.1:9/api".into()), ..UpstreamConfig::default() };
    assert!(matches!(Upstream::from_config(&config).unwrap(), Upstream::Proxy(_)));
    let zero = ProxyOptions { timeout: Duration::ZERO, ..ProxyOptions::default() };
    let config = UpstreamConfig { url: Some("http://127.0.0.1:9".into()), proxy: zero };
    assert!(matches!(Upstream::from_config(&config), Err(UpstreamError::ZeroTimeout)));
}

// ---- the sample API, called through the proxy ----

#[tokio::test]
async fn a_licence_check_lists_matching_operators() {
    let api = spawn_sample_behind_proxy().await;
    let (status, body) = get_json(format!("{api}/v1/check?name=northwind")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["licensed"], true);
    assert_eq!(body["matches"].as_array().unwrap().len(), 2);

    let (_, body) = get_json(format!("{api}/v1/check?name=Tulip")).await;
    assert_eq!(body["licensed"], false);
    let response = get(format!("{api}/v1/check")).await;
    problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn operator_search_returns_as_many_rows_as_the_limit_allows() {
    let api = spawn_sample_behind_proxy().await;
    let rows = |body: &Value| body["data"].as_array().unwrap().len();
    let (_, body) = get_json(format!("{api}/v1/operators/search?q=&limit=3")).await;
    assert_eq!((rows(&body), body["count"].clone(), body["total"].clone()), (3, json!(3), json!(9)));
    let (_, body) = get_json(format!("{api}/v1/operators/search?limit=50")).await;
    assert_eq!(rows(&body), 9);
    let (_, body) = get_json(format!("{api}/v1/operators/search?q=NORTHWIND&limit=1")).await;
    assert_eq!(rows(&body), 1);
    let (_, body) = get_json(format!("{api}/v1/operators/search?jurisdiction=uk")).await;
    assert_eq!(rows(&body), 2);
    for bad in ["0", "lots", "101"] {
        let response = get(format!("{api}/v1/operators/search?limit={bad}")).await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn jurisdictions_and_snapshots_are_listed_and_opened() {
    let api = spawn_sample_behind_proxy().await;
    let (status, body) = get_json(format!("{api}/v1/jurisdictions")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"].as_array().unwrap().iter().any(|j| j["code"] == "UK"));
    let (_, body) = get_json(format!("{api}/v1/jurisdictions/mt/operators")).await;
    assert_eq!(body["count"], 2);

    let (_, body) = get_json(format!("{api}/v1/snapshots")).await;
    let id = body["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = get_json(format!("{api}/v1/snapshots/{id}")).await;
    assert_eq!((status, body["snapshot"]["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    let (_, body) = get_json(format!("{api}/v1/snapshots/{id}/sections")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let (status, body) = get_json(format!("{api}/v1/snapshots/{id}/sections/obligations")).await;
    assert_eq!((status, body["key"].as_str()), (StatusCode::OK, Some("obligations")));
    let (status, _) = get_json(format!("{api}/v1/snapshots/{id}/changes")).await;
    assert_eq!(status, StatusCode::OK);
    for missing in ["/v1/snapshots/snap_nope", &format!("/v1/snapshots/{id}/sections/nope")] {
        let response = get(format!("{api}{missing}")).await;
        problem(response, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn a_scan_is_queued_then_read_back() {
    let api = spawn_sample_behind_proxy().await;
    let scan = json!({"jurisdictions": ["UK", "mt"], "areas": ["AML"], "horizon": 12});
    let response = post_json(format!("{api}/v1/scans"), scan).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/scans/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["jurisdictions"], json!(["UK", "MT"]));

    let (status, scan) = get_json(format!("{api}{location}")).await;
    assert_eq!((status, &scan["id"]), (StatusCode::OK, &created["id"]));
    let (status, _) = get_json(format!("{api}/v1/scans/scan_999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = get(format!("{api}/v1/scans/scan_999999/stream")).await;
    problem(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn bad_scan_bodies_get_4xx_problems() {
    let api = spawn_sample_behind_proxy().await;
    let post = |body: &'static str| {
        client().post(format!("{api}/v1/scans")).header("content-type", "application/json").body(body).send()
    };
    problem(post("{\"jurisdictions\": [\"UK\"").await.unwrap(), StatusCode::BAD_REQUEST).await;
    problem(post("").await.unwrap(), StatusCode::BAD_REQUEST).await;
    for wrong in [
        "[1, 2]",
        "{\"jurisdictions\": \"UK\", \"areas\": [\"AML\"]}",
        "{\"jurisdictions\": [\"UK\"], \"areas\": [\"AML\"], \"horizon\": \"soon\"}",
        "{\"jurisdictions\": [], \"areas\": [\"AML\"]}",
        "{\"jurisdictions\": [\"Atlantis\"], \"areas\": [\"AML\"]}",
        "{\"jurisdictions\": [\"UK\"], \"areas\": [\"AML\"], \"horizon\": 0}",
    ] {
        problem(post(wrong).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

#[tokio::test]
async fn an_export_is_created_and_read_back() {
    let api = spawn_sample_behind_proxy().await;
    let export = json!({"snapshot_id": "snap_uk_aml_2025q1", "format": "tearsheet"});
    let response = post_json(format!("{api}/v1/exports"), export).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    let (status, export) = get_json(format!("{api}/v1/exports/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(
        (status, &export["status"], &export["format"]),
        (StatusCode::OK, &json!("ready"), &json!("tearsheet"))
    );

    let response = post_json(format!("{api}/v1/exports"), json!({"snapshot_id": "snap_nope"})).await;
    problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_problems() {
    let api = spawn_sample_behind_proxy().await;
    let response = get(format!("{api}/v1/nothing/here")).await;
    problem(response, StatusCode::NOT_FOUND).await;
    let response = client().delete(format!("{api}/v1/jurisdictions")).send().await.unwrap();
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}
