//! The repositories and services against SQLite and PostgreSQL alike: every test runs once per
//! backend, as `<name>::sqlite` and `<name>::postgres`, each on a fresh database.

mod accounts;
mod common;
mod keys;
