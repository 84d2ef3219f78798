//! Security throttles (logins, password changes, key management): charged before the work they
//! guard, and failing closed when the limiter store is down.

use std::time::Duration;

use limiter::{Charge, LimiterStore};

/// Why a throttle stopped an attempt.
pub(crate) enum Refused {
    Throttled {
        retry_after: Duration,
    },
    /// The limiter store is down: security limits fail closed.
    Unavailable,
}

/// Charges `charges` for one attempt at `what` ("the login", "the key change"), or says why not.
pub(crate) async fn charge(
    limiter: &dyn LimiterStore,
    charges: &[Charge],
    what: &str,
) -> Result<(), Refused> {
    let decision = limiter.decide(charges).await.map_err(|error| {
        tracing::error!(%error, "security throttle unavailable; refusing {what}");
        Refused::Unavailable
    })?;
    match decision.retry_after {
        Some(retry_after) => Err(Refused::Throttled { retry_after }),
        None => Ok(()),
    }
}
