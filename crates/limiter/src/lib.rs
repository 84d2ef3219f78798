//! keystile's limiter: decides a request against all of its rate-limit buckets at once.
//!
//! It knows nothing of HTTP. The gateway builds a list of [`Charge`]s for a request and asks a
//! store to decide them; the dashboard peeks at the same store for its gauges.
//!
//! - [`clock`]: where "now" comes from; tests move a [`ManualClock`] instead of sleeping.
//! - [`bucket`]: what a bucket is (limit, window kind, scope, cost).

pub mod bucket;
mod calendar;
pub mod clock;
pub mod decision;
pub mod failover;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis_store;
mod rule;
pub mod store;

pub use bucket::{BucketSpec, Charge, Scope, Window};
pub use clock::{Clock, ManualClock, SystemClock};
pub use decision::{BucketState, Decision};
pub use failover::FailoverStore;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis_store::{RedisConfig, RedisStore};
pub use store::{LimiterStore, StoreError};
