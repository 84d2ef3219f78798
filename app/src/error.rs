//! The one error type every server function returns; it survives the trip to the browser (and,
//! without JavaScript, the redirect back to the form) with a message fit to show.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Your session has ended. Log in again to continue.")]
    Unauthenticated,
    #[error("You don't have access to this.")]
    Forbidden,
    /// A change attempted while an operator views a customer's account.
    #[error("This is a read-only view of the customer's account. Exit the view to make changes.")]
    ReadOnlyView,
    /// Input the user can fix; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("Too many attempts. Try again in {}.", wait(*retry_after_secs))]
    Throttled { retry_after_secs: u64 },
    /// A dependency is down for a moment (e.g. the limiter store); nothing was done.
    #[error("{0}")]
    Unavailable(String),
    /// The cause is logged on the server, never shown.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The call itself failed: unreadable arguments on the server, or no answer in the browser.
    #[error("The request failed: {0}")]
    Request(String),
}

impl AppError {
    /// The HTTP status a response carrying this error should have.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden | AppError::ReadOnlyView => 403,
            AppError::Invalid(_) => 422,
            AppError::Throttled { .. } => 429,
            AppError::Internal => 500,
            AppError::Unavailable(_) => 503,
            AppError::Request(_) => 400,
        }
    }
}

/// "42 seconds", "1 minute", "15 minutes": seconds under a minute, else whole minutes up.
fn wait(secs: u64) -> String {
    let (n, unit) = if secs < 60 { (secs.max(1), "second") } else { (secs.div_ceil(60), "minute") };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        AppError::Request(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_says_how_long_to_wait() {
        let message = |secs| AppError::Throttled { retry_after_secs: secs }.to_string();
        assert_eq!(message(1), "Too many attempts. Try again in 1 second.");
        assert_eq!(message(42), "Too many attempts. Try again in 42 seconds.");
        assert_eq!(message(61), "Too many attempts. Try again in 2 minutes.");
    }
}
