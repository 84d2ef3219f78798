//! Requests that must be refused: cross-site, malformed, oversized.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_even_with_valid_credentials() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let fields = [("email", "ada@example.com"), ("password", PASSWORD), ("next", "/")];

    let by_fetch_metadata = browser()
        .post(app.url("/api/log_in"))
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_status(&by_fetch_metadata, StatusCode::FORBIDDEN);

    let by_origin = browser()
        .post(app.url("/api/log_out"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_status(&by_origin, StatusCode::FORBIDDEN);

    let same_origin = app.log_in("ada@example.com", PASSWORD, "/").await;
    assert_redirect(&same_origin, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_function_called_with_missing_fields_gets_400() {
    let app = spawn_app().await;
    let response = browser()
        .post(app.url("/api/log_in"))
        .header("accept", "application/json")
        .form(&[("email", "ada@example.com")])
        .send()
        .await
        .unwrap();
    assert_status(&response, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_called_from_script_gets_422_not_500() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let response = browser()
        .post(app.url("/api/log_in"))
        .form(&[("email", "ada@example.com"), ("password", "nope"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_status(&response, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("Email or password is incorrect."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_413_and_writes_nothing_whether_its_length_is_declared_or_not() {
    let app = spawn_app().await;
    // Over the 64 KiB limit, yet small enough for the socket buffers to take all of it, so the
    // client has sent everything before the server answers.
    let huge = "x".repeat(80 * 1024);
    let form = format!("email=big%40example.com&password={huge}&account_name=");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        form.as_bytes().chunks(8 * 1024).map(|chunk| Ok(chunk.to_vec())).collect();
    let declared = reqwest::Body::from(form.clone());
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    for (how, body) in [("declared", declared), ("streamed", streamed)] {
        let response = browser()
            .post(app.url("/api/sign_up"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_status(&response, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{how}");
        let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["request_id"], request_id, "{how}: the id a caller can quote");
    }
    let login = app.log_in("big@example.com", &huge[..100], "/").await;
    assert!(location(&login).contains("__err="), "no account was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_get_404_for_signed_in_users() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let response = app.get("/no/such/page").await;
    assert_status(&response, StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_policy_file_stops_start_up_naming_the_field_and_line() {
    let shipped = policy::Policy::shipped_text("default").unwrap();
    let broken = shipped.replacen("limit = 60", "limit = -60", 1);
    assert_ne!(shipped, broken, "the default policy has a reads limit of 60 to break");
    let line = broken.lines().position(|line| line.contains("limit = -60")).unwrap() + 1;
    let path = std::env::temp_dir().join(format!("keystile-bad-policy-{}.toml", std::process::id()));
    std::fs::write(&path, broken).unwrap();

    let settings = server::settings::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: services::testing::fresh_database_url(services::Backend::Sqlite).await,
        policy: Some(path.clone()),
        demo: false,
        ..Default::default()
    };
    let clock = std::sync::Arc::new(limiter::SystemClock);
    let error = match server::startup::Application::build(&settings, clock).await {
        Ok(_) => panic!("a policy with a negative limit started"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains(&format!("{}:{line}:", path.display())), "{error}");
    assert!(error.contains("limit"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let (_, _, key) = crate::gateway::customer_with_key(&app).await;
    let answers = [
        ("login page", app.get("/login").await),
        ("sign-in redirect", app.get("/keys").await),
        ("admitted API call", crate::gateway::call(&app, "/v1/snapshots", Some(&key)).await),
        ("API call without a key", crate::gateway::call(&app, "/v1/snapshots/s1", None).await),
        ("gateway endpoint", crate::gateway::call(&app, "/v1/limits", Some(&key)).await),
        ("health check", app.get("/healthz").await),
    ];
    for (what, response) in &answers {
        let headers = response.headers();
        assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{what}");
        assert_eq!(
            headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{what}"
        );
        assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"same-origin"[..]), "{what}");
    }
    let statuses: Vec<u16> = answers.iter().map(|(_, response)| response.status().as_u16()).collect();
    assert_eq!(statuses, [200, 303, 200, 401, 200, 200]);
    assert!(
        answers.iter().all(|(_, response)| response.headers().get("strict-transport-security").is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_over_https_every_answer_asks_browsers_to_keep_to_https() {
    let app = spawn_app_with(|settings| settings.public_url = "https://keys.example.com".into()).await;
    for path in ["/login", "/healthz", "/v1/snapshots"] {
        let response = app.get(path).await;
        let hsts =
            response.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "{path}");
    }
}
