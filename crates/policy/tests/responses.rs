//! What responses are made of: Retry-After, which style writes RateLimit-Policy, and windows
//! and periods in seconds and words.

use policy::{HeaderStyle, Period, RetryAfter, ratelimit_policy_style};

#[test]
fn retry_after_is_the_window_or_the_reset() {
    assert_eq!(RetryAfter::Window.seconds(Some(60), 38), 60);
    assert_eq!(RetryAfter::Reset.seconds(Some(60), 38), 38);
    assert_eq!(RetryAfter::Window.seconds(Some(3_600), 120), 3_600);
    // A month has no fixed length: the reset is the only honest answer.
    assert_eq!(RetryAfter::Window.seconds(None, 86_400), 86_400);
}

#[test]
fn ietf_writes_ratelimit_policy_when_both_styles_are_on() {
    use HeaderStyle::{Draft7, Ietf, XRateLimit};
    assert_eq!(ratelimit_policy_style(&[XRateLimit, Ietf]), Some(Ietf));
    assert_eq!(ratelimit_policy_style(&[Draft7, XRateLimit]), Some(XRateLimit));
    assert_eq!(ratelimit_policy_style(&[Draft7]), None);
}

#[test]
fn periods_read_and_write_in_words() {
    let parse = |text: &str| text.parse::<Period>().map(Period::seconds);
    assert_eq!(parse("second"), Ok(1));
    assert_eq!(parse("minute"), Ok(60));
    assert_eq!(parse("15 minutes"), Ok(900));
    assert_eq!(parse("15m"), Ok(900));
    assert_eq!(parse("2 hours"), Ok(7_200));
    assert_eq!(parse("day"), Ok(86_400));
    assert!(parse("fortnight").is_err() && parse("-5m").is_err() && parse("").is_err());
    assert_eq!(Period::from_seconds(900).to_string(), "15 minutes");
    assert_eq!(Period::from_seconds(3_600).to_string(), "hour");
    assert_eq!(Period::from_seconds(90).to_string(), "90 seconds");
}

#[test]
fn windows_have_lengths_and_labels_for_headers() {
    use chrono::Duration;
    use limiter::Window;
    use policy::{window_label, window_seconds};
    let quarter = Window::Gcra { period: Duration::minutes(15), burst: 5 };
    assert_eq!(window_seconds(&Window::Hour), Some(3_600));
    assert_eq!(window_seconds(&Window::Minute), Some(60));
    assert_eq!(window_seconds(&Window::Day), Some(86_400));
    assert_eq!(window_seconds(&quarter), Some(900));
    assert_eq!(window_seconds(&Window::Month { anchor_day: 1 }), None);
    assert_eq!(window_label(&Window::Hour), "hour");
    assert_eq!(window_label(&Window::Month { anchor_day: 9 }), "month");
    assert_eq!(window_label(&quarter), "15 minutes");
}
