//! Sign up, log in, log out, redirects, session lifetime.

use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_signs_in_and_lands_on_the_overview() {
    let app = spawn_app().await;
    let response = app.sign_up("ada@example.com").await;
    assert_redirect(&response, "/");
    assert!(session_cookie(&response).is_some());
    let overview = app.get("/").await;
    assert_status(&overview, StatusCode::OK);
    let page = overview.text().await.unwrap();
    assert!(page.contains("<h1>Overview"), "{page}");
    assert!(page.contains("ada@example.com"), "the shell shows who is signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_visitor_is_sent_to_login_and_back_to_the_page_they_asked_for() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;

    let wanted = app.get("/keys").await;
    assert_redirect(&wanted, "/login?next=/keys");
    let login_page = app.get("/login?next=/keys").await.text().await.unwrap();
    assert!(login_page.contains(r#"name="next" value="/keys""#), "the form carries the wanted page");

    let logged_in = app.log_in("ada@example.com", PASSWORD, "/keys").await;
    assert_redirect(&logged_in, "/keys");
    assert_status(&app.get("/keys").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_never_redirects_to_another_site() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    // Browsers drop the tab, which would make `//evil.example`; a newline cannot be sent in
    // a Location header at all (it once crashed the handler after the login had succeeded).
    for next in ["https://evil.example/", "/\t/evil.example", "/\n", "/\r\nSet-Cookie: x=y"] {
        let response = app.log_in("ada@example.com", PASSWORD, next).await;
        assert_redirect(&response, "/");
        app.log_out().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_ends_the_session_for_good() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_redirect(&app.log_out().await, "/login");
    assert_redirect(&app.get("/").await, "/login");

    // Replaying the old cookie from another client gets nowhere: the record is gone.
    let replay = browser().get(app.url("/")).header("cookie", cookie).send().await.unwrap();
    assert_redirect(&replay, "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_id_changes_at_login() {
    let app = spawn_app().await;
    let first = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    let second = session_cookie(&app.log_in("ada@example.com", PASSWORD, "/").await).unwrap();
    assert_ne!(first.split(';').next(), second.split(';').next());

    let old = first.split(';').next().unwrap().to_owned();
    let replay = browser().get(app.url("/")).header("cookie", old).send().await.unwrap();
    assert_redirect(&replay, "/login");
}

/// A page refreshes its figures every second. One refresh sent with the id that signing in again
/// has just replaced can answer after the new cookie has arrived; were it to clear the cookie,
/// the browser would be signed out of the session it had just been given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_carrying_a_replaced_session_id_leaves_the_new_cookie_alone() {
    let app = spawn_app().await;
    let first = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    let old = first.split(';').next().unwrap().to_owned();
    assert!(session_cookie(&app.log_in("ada@example.com", PASSWORD, "/").await).is_some());

    let late = sending_cookie(&old);
    let refresh = app.call(&late, "load_overview", &[("key_id", "")]).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED, "the old id signs nobody in");
    assert_eq!(session_cookie(&refresh), None, "the new cookie is left alone");
    let page = late.get(app.url("/keys")).header("accept", "text/html").send().await.unwrap();
    assert_redirect(&page, "/login?next=/keys");
    assert_eq!(session_cookie(&page), None);
    assert_status(&app.get("/").await, StatusCode::OK);

    // A session this request ends still clears its cookie; so does a malformed one.
    let ended = session_cookie(&app.log_out().await).unwrap();
    assert!(ended.starts_with("keystile_session=;") && ended.contains("Max-Age=0"), "{ended}");
    let malformed = sending_cookie("keystile_session=not-an-id").get(app.url("/")).send().await.unwrap();
    assert!(session_cookie(&malformed).is_some_and(|removal| removal.contains("Max-Age=0")));
}

/// Activity is recorded on the server without sending the cookie again: the cookie lives as long
/// as a session can (12 hours), and only a new id or the session's end changes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_keeps_a_session_alive_without_sending_its_cookie_again() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(20));
        let page = app.get("/").await;
        assert_status(&page, StatusCode::OK);
        assert_eq!(session_cookie(&page), None, "the same id is not sent again");
    }
    let keys = app.call(&app.browser, "list_keys", &[]).await;
    assert_status(&keys, StatusCode::OK);
    assert_eq!(session_cookie(&keys), None);
}

/// A request that loaded its session just before the user logged out, and saves it just after
/// (recording activity, once a minute), must not bring the session back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_while_a_request_was_using_it_stays_ended() {
    use server::sessions::SqlSessionStore;
    use tower_sessions::SessionStore;
    use tower_sessions::session::Id;

    let app = spawn_app().await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let id: Id = pair.trim_start_matches("keystile_session=").parse().unwrap();
    let store = SqlSessionStore::new(app.services.db.clone());

    let loaded = store.load(&id).await.unwrap().expect("the request finds the session");
    assert_redirect(&app.log_out().await, "/login");
    store.save(&loaded).await.unwrap();

    assert_eq!(store.load(&id).await.unwrap(), None, "the session stays ended");
    let replay = sending_cookie(&pair).get(app.url("/")).send().await.unwrap();
    assert_redirect(&replay, "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;

    let wrong_password = app.log_in("ada@example.com", "not the password", "/").await;
    let unknown_email = app.log_in("nobody@example.com", "not the password", "/").await;
    assert_eq!(wrong_password.status(), unknown_email.status());
    assert_eq!(location(&wrong_password), location(&unknown_email));
    assert!(location(&wrong_password).contains("__err="), "the error travels back to the form");

    // Shown on the login page after the redirect, as a browser without JavaScript sees it.
    let page = app.browser.get(location(&wrong_password)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Email or password is incorrect."), "{page}");
    assert!(page.contains("Forgot your password?"), "the way back in is on the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_emails_take_as_long_as_wrong_passwords() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..10 {
        // A quarter of an hour apart, so the (account, IP) login throttle never answers early.
        app.clock.advance(Duration::minutes(15));
        let started = std::time::Instant::now();
        app.log_in("ada@example.com", &format!("wrong {round}"), "/").await;
        wrong.push(started.elapsed());
        let started = std::time::Instant::now();
        app.log_in(&format!("nobody{round}@example.com"), "wrong", "/").await;
        unknown.push(started.elapsed());
    }
    // Both paths run argon2; without the dummy hash the unknown email would answer in a
    // tenth of the time. The fastest of ten runs is the least disturbed by the other tests
    // running beside this one.
    let fastest = |times: &[std::time::Duration]| times.iter().min().unwrap().as_secs_f64();
    let (wrong, unknown) = (fastest(&wrong), fastest(&unknown));
    assert!(unknown > wrong * 0.4, "unknown email {unknown:.3}s vs wrong password {wrong:.3}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_for_more_than_30_minutes_ends() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.clock.advance(Duration::minutes(29));
    assert_status(&app.get("/").await, StatusCode::OK);
    app.clock.advance(Duration::minutes(31));
    assert_redirect(&app.get("/").await, "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_session_still_ends_12_hours_after_login() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    for _ in 0..(11 * 3) {
        app.clock.advance(Duration::minutes(20));
        assert_status(&app.get("/").await, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(61));
    assert_redirect(&app.get("/").await, "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_twice_with_one_email_is_refused_plainly() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    let again = app.sign_up("ADA@example.com").await;
    assert!(location(&again).starts_with(&app.url("/signup?")), "{}", location(&again));
    let page = app.browser.get(location(&again)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("An account with this email already exists."), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probing_emails_at_sign_up_is_throttled_with_the_logins_per_address_budget() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    // The policy's login `ip` bucket: 30 attempts an hour from one address, sign-up included.
    let probe = || {
        app.call(
            &app.browser,
            "sign_up",
            &[("email", "ada@example.com"), ("password", PASSWORD), ("account_name", "")],
        )
    };
    for _ in 1..30 {
        assert_status(&probe().await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let refused = probe().await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    // A browser new to the account shares the address's budget (the one Ada signed up on is
    // spared it, as a recognised device).
    let login = app
        .call(&browser(), "log_in", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/")])
        .await;
    assert_status(&login, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = login.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");

    app.clock.advance(Duration::hours(1));
    let fresh = app
        .call(
            &app.browser,
            "sign_up",
            &[("email", "bob@example.com"), ("password", PASSWORD), ("account_name", "")],
        )
        .await;
    assert!(fresh.status().is_success() || fresh.status().is_redirection(), "{}", fresh.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_visiting_login_goes_to_the_overview() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    assert_redirect(&app.get("/login").await, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_keystile_is_served_over_https() {
    let app = spawn_app_with(|settings| settings.public_url = "https://keys.example.com".into()).await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_refuses_control_characters_and_over_long_names_rather_than_storing_or_cutting_them() {
    let app = spawn_app().await;
    let cases = [
        ("a\u{7}x@example.com", "", "Enter a valid email address"),
        ("ada@example.com", "Acme\nCorp", "Give the account a name of at most 100 characters"),
        ("ada@example.com", &"a".repeat(101), "Give the account a name of at most 100 characters"),
    ];
    for (email, account_name, message) in cases {
        let fields = [("email", email), ("password", PASSWORD), ("account_name", account_name)];
        let refused = app.submit_form("sign_up", "/signup", &fields).await;
        assert!(error_shown(&app.browser, &refused).await.starts_with(message), "{email:?} {account_name:?}");
    }
    let (users,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(app.services.db.pool()).await.unwrap();
    assert_eq!(users, 0, "nothing was written");
}
