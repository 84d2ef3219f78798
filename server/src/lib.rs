//! keystile's server: settings, storage, sessions, the dashboard routes and the gateway, built
//! into one axum application by [`startup::Application`].

pub mod demo;
pub mod edge;
pub mod form_success;
pub mod gateway;
pub mod key_api;
pub mod operators;
pub mod page_roles;
pub mod paths;
pub mod policy_file;
pub mod restore;
pub mod serve;
pub mod sessions;
pub mod settings;
pub mod startup;
pub mod upstream;
pub mod usage_export;
pub mod view_as;
pub mod web;
