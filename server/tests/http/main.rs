//! keystile over real HTTP: each test starts the whole application on port 0 with a fresh
//! database (SQLite, or PostgreSQL with KEYSTILE_TEST_DB=postgres) and a manual clock, then acts
//! as a browser would. Tests run on a multi-thread runtime, as the binary does.

mod account;
mod admin;
mod admin_keys;
mod auth;
mod billing;
mod catalogue;
mod cors;
mod demo;
mod forwarding;
mod gateway;
mod helpers;
mod idempotency;
mod key_api;
mod key_lifecycle;
mod key_quota;
mod limits;
mod nodes;
mod openapi;
mod operators;
mod outage;
mod overview;
mod pages;
mod plans;
mod policy_file;
mod requests;
mod restrictions;
mod server_functions;
mod team;
mod tenants;
mod throttling;
mod usage;
mod view_as;
