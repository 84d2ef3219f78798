//! The built-in sample API: every seed route answers, and bad input gets 4xx problems.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::upstream::{ProxyOptions, Upstream, UpstreamConfig, UpstreamError};

use crate::helpers::*;

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
    let response = get(format!("{api}/v1/check?name={}", "n".repeat(201))).await;
    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("`name` must be at most 200"), "{body}");
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
    let longest = "n".repeat(200);
    let (status, _) = get_json(format!("{api}/v1/operators/search?q={longest}")).await;
    assert_eq!(status, StatusCode::OK);
    let response = get(format!("{api}/v1/operators/search?q={longest}n")).await;
    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert!(body["detail"].as_str().unwrap().contains("`q` must be at most 200 characters"), "{body}");
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
    // A segment that does not decode to text is bad input, answered like any other.
    for undecodable in ["/v1/snapshots/%FF", "/v1/scans/%C3%28/stream", "/v1/exports/%80"] {
        let response = get(format!("{api}{undecodable}")).await;
        problem(response, StatusCode::BAD_REQUEST).await;
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
    // A body labelled as something else is not taken for JSON; one labelled as a JSON type is.
    let labelled = |kind: &'static str| {
        let scan = r#"{"jurisdictions": ["UK"], "areas": ["AML"]}"#;
        client().post(format!("{api}/v1/scans")).header("content-type", kind).body(scan).send()
    };
    problem(labelled("text/plain").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    problem(labelled("application/x-www-form-urlencoded").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .await;
    assert_eq!(labelled("application/json; charset=utf-8").await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(labelled("application/vnd.regsn+json").await.unwrap().status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_reconnecting_stream_goes_on_after_the_last_event_seen_and_ends_after_complete() {
    let api = spawn_sample_behind_proxy().await;
    let scan = json!({"jurisdictions": ["UK"], "areas": ["AML"]});
    let created: Value = post_json(format!("{api}/v1/scans"), scan).await.json().await.unwrap();
    let stream = format!("{api}/v1/scans/{}/stream", created["id"].as_str().unwrap());
    let resumed = client().get(&stream).header("last-event-id", "4").send().await.unwrap();
    assert_eq!(resumed.status(), StatusCode::OK);
    let events = resumed.text().await.unwrap();
    let ids: Vec<&str> = events.lines().filter_map(|line| line.strip_prefix("id: ")).collect();
    assert_eq!(ids, ["5", "6"], "{events}");
    assert!(events.contains("event: complete"), "{events}");
    // `complete` seen: nothing more, so an EventSource stops reconnecting.
    let finished = client().get(&stream).header("last-event-id", "6").send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::NO_CONTENT);
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
