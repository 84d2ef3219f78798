//! Usage recording against SQLite and PostgreSQL alike: every test runs once per backend, as
//! `<name>::sqlite` and `<name>::postgres`, each on a fresh database. No test sleeps: flushes
//! are driven by `flush_now`, the clock is a `ManualClock`.

mod common;
mod failures;
mod queries;
mod recording;
mod refusals;
mod retention;
