use std::sync::Arc;

use chrono::{TimeZone, Utc};
pub use limiter::{Clock, ManualClock, MemoryStore};
use secrecy::SecretString;
use services::CurrentPolicy;
use services::keys::KeyFormat;
pub use services::{Backend, Services, ServicesConfig, testing};

/// Runs each test body once per backend, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($services:ident: Services, $clock:ident: ManualClock) $body:block)*) => {$(
        mod $name {
            use super::*;
            #[allow(unused_variables)]
            async fn run($services: services::Services, $clock: limiter::ManualClock) $body
            #[tokio::test]
            async fn sqlite() {
                let (services, clock) = $crate::common::services_on(services::Backend::Sqlite).await;
                run(services, clock).await
            }
            #[tokio::test]
            async fn postgres() {
                let (services, clock) = $crate::common::services_on(services::Backend::Postgres).await;
                run(services, clock).await
            }
        }
    )*};
}
pub(crate) use on_both_backends;

pub async fn services_on(backend: Backend) -> (Services, ManualClock) {
    let db = testing::fresh_database(backend).await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap());
    let services = Services::new(ServicesConfig {
        db,
        clock: Arc::new(clock.clone()),
        limiter: Arc::new(MemoryStore::with_clock(Arc::new(clock.clone()))),
        policy: CurrentPolicy::new(policy::Policy::default_policy().unwrap()),
        key_format: KeyFormat::new("ks").unwrap(),
        changes: Arc::new(services::changes::NoFeed),
    });
    (services, clock)
}

pub fn secret(text: &str) -> SecretString {
    SecretString::from(text)
}
