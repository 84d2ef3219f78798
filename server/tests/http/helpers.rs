//! Starting an application per test and talking to it like a browser.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DurationRound, Utc};
use limiter::ManualClock;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode, redirect};
use server::settings::Settings;
use server::startup::Application;
use services::testing;

pub struct TestApp {
    pub address: String,
    /// The application's own services, to arrange what a test needs (keys, plans) directly.
    pub services: services::Services,
    pub database_url: String,
    pub clock: ManualClock,
    /// A browser: keeps cookies, does not follow redirects (tests assert them).
    pub browser: Client,
    /// The address this test's browser claims behind a trusted proxy.
    client_address: String,
    stop: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>)>,
}

/// Server logs for debugging, when RUST_LOG is set; each line names its test's thread.
fn init_logs() {
    static LOGS: std::sync::Once = std::sync::Once::new();
    LOGS.call_once(|| {
        if std::env::var("RUST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt()
                .with_thread_names(true)
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let database_url = testing::fresh_database_url(testing::backend_from_env()).await;
    spawn_app_on(database_url, adjust).await
}

/// Starts the application on an existing database (several nodes may share one).
pub async fn spawn_app_on(database_url: String, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.clone(),
        demo: false,
        ..Settings::default()
    };
    let mut settings = settings;
    adjust(&mut settings);
    // At the top of a minute, so a test stepping through seconds stays in one clock-aligned
    // minute window.
    let start = Utc::now().duration_trunc(chrono::Duration::minutes(1)).unwrap_or_else(|_| Utc::now());
    let clock = ManualClock::new(start);
    let app = Application::build(&settings, Arc::new(clock.clone())).await.expect("build the application");
    let address = format!("http://{}", app.local_addr());
    let services = app.services().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Only an explicit `shut_down` stops it; a dropped TestApp leaves it serving until the
    // test's runtime ends, as before.
    let running = tokio::spawn(app.run_until(async move {
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
    }));
    let client_address = {
        let n = rand_octets();
        format!("10.{}.{}.{}", n[0], n[1], n[2])
    };
    TestApp {
        address,
        services,
        database_url,
        clock,
        browser: browser(),
        client_address,
        stop: Some((stop, running)),
    }
}

fn rand_octets() -> [u8; 3] {
    let id = services::ids::random_base62(3);
    let bytes = id.as_bytes();
    [bytes[0], bytes[1], bytes[2]]
}

pub fn browser() -> Client {
    client().cookie_store(true).build().unwrap()
}

/// What every test client is: one that does not follow redirects and gives up after 30 s.
fn client() -> reqwest::ClientBuilder {
    Client::builder().redirect(redirect::Policy::none()).timeout(Duration::from_secs(30))
}

/// A browser's request sent with `cookie` (a `name=value` pair) before the browser's cookies
/// changed: the client sends it with every request and keeps none it is given.
pub fn sending_cookie(cookie: &str) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    client().default_headers(headers).build().unwrap()
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Shuts the application down gracefully, as SIGTERM would, and waits until it has.
    pub async fn shut_down(&mut self) {
        let (stop, running) = self.stop.take().expect("the application is running");
        let _ = stop.send(());
        running.await.unwrap().expect("a clean shutdown");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Submits a form to a server function the way a browser without JavaScript does: same
    /// origin, `Accept: text/html`, with the page it came from as Referer.
    pub async fn submit_form(&self, function: &str, from_page: &str, fields: &[(&str, &str)]) -> Response {
        self.browser
            .post(self.url(&format!("/api/{function}")))
            .headers(self.form_headers(from_page))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub fn form_headers(&self, from_page: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // Believed only by nodes that trust loopback as a proxy (the multi-node tests): their
        // login throttle lives in the Redis every test run shares, so each test logs in from an
        // address of its own there.
        headers.insert("x-forwarded-for", HeaderValue::from_str(&self.client_address).unwrap());
        headers.insert("accept", HeaderValue::from_static("text/html,application/xhtml+xml"));
        headers.insert("origin", HeaderValue::from_str(&self.address).unwrap());
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        headers.insert("referer", HeaderValue::from_str(&self.url(from_page)).unwrap());
        headers
    }

    pub async fn sign_up(&self, email: &str) -> Response {
        self.submit_form(
            "sign_up",
            "/signup",
            &[("email", email), ("password", PASSWORD), ("account_name", "")],
        )
        .await
    }

    /// Signs up `email` in the test's browser and returns the new user.
    pub async fn signed_up(&self, email: &str) -> services::accounts::User {
        self.sign_up(email).await;
        self.services.accounts.user_by_email(email).await.unwrap().unwrap()
    }

    pub async fn log_in(&self, email: &str, password: &str, next: &str) -> Response {
        self.submit_form("log_in", "/login", &[("email", email), ("password", password), ("next", next)])
            .await
    }

    pub async fn log_out(&self) -> Response {
        self.submit_form("log_out", "/", &[]).await
    }

    /// Another browser, signed in as `email`, landing on `next`.
    pub async fn another_browser(&self, email: &str, password: &str) -> Client {
        let other = browser();
        let fields = [("email", email), ("password", password), ("next", "/keys")];
        let response = other
            .post(self.url("/api/log_in"))
            .headers(self.form_headers("/login"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_redirect(&response, "/keys");
        other
    }

    /// Calls a server function from `client` the way the hydrated page does: the answer is
    /// JSON, not a redirect.
    pub async fn call(&self, client: &Client, function: &str, fields: &[(&str, &str)]) -> Response {
        let mut headers = self.form_headers("/");
        headers.insert("accept", HeaderValue::from_static("application/json"));
        client.post(self.url(&format!("/api/{function}"))).headers(headers).form(fields).send().await.unwrap()
    }

    /// A new unrestricted key of `user`'s account: its secret.
    pub async fn new_key(&self, user: &services::accounts::User, name: &str) -> String {
        use secrecy::ExposeSecret;
        let created = self.services.keys.create(user, name, None, Default::default()).await.unwrap();
        created.secret.expose_secret().to_owned()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }
}

/// The message a page shows in its alert after a plain form's post was refused and sent back
/// to it, as `client` (a browser without JavaScript) sees it.
pub async fn error_shown(client: &Client, response: &Response) -> String {
    assert!(location(response).contains("__err="), "refused with a message: {}", location(response));
    let page = client.get(location(response)).send().await.unwrap().text().await.unwrap();
    let alert = page.find(r#"role="alert""#).expect("the page shows an alert");
    let text_start = alert + page[alert..].find('>').unwrap() + 1;
    page[text_start..].split('<').next().unwrap().to_owned()
}

/// The message a page shows in its status line after a plain form's post succeeded and sent the
/// browser back to it, as `client` (a browser without JavaScript) sees it.
pub async fn success_shown(client: &Client, response: &Response) -> String {
    assert!(location(response).contains("__ok="), "marked as a success: {}", location(response));
    let page = client.get(location(response)).send().await.unwrap().text().await.unwrap();
    let status = page.find(r#"class="alert alert-success""#).expect("the page says it worked");
    let text_start = status + page[status..].find('>').unwrap() + 1;
    page[text_start..].split('<').next().unwrap().to_owned()
}

pub fn location(response: &Response) -> &str {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("keystile_session="))
        .map(str::to_owned)
}

pub fn assert_redirect(response: &Response, to: &str) {
    assert!(response.status().is_redirection(), "expected a redirect to {to}, got {}", response.status());
    assert_eq!(location(response), to);
}

pub fn assert_status(response: &Response, status: StatusCode) {
    assert_eq!(response.status(), status, "{:?}", response.headers());
}

/// What other nodes and background flushers do "within" some time: `attempt` is retried every
/// 20 ms until it gives `Ok`; after `within`, the test fails with its last `Err`.
pub async fn eventually<T, Attempt>(within: Duration, mut attempt: impl FnMut() -> Attempt) -> T
where
    Attempt: Future<Output = Result<T, String>>,
{
    let started = std::time::Instant::now();
    loop {
        match attempt().await {
            Ok(done) => return done,
            Err(seen) if started.elapsed() >= within => panic!("not within {within:?}: {seen}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
