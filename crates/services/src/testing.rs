//! Test support: a fresh, migrated database per test, on SQLite or PostgreSQL.
//!
//! PostgreSQL comes from `KEYSTILE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`);
//! each call creates its own database `keystile_test_<epoch>_<random>` and drops those left over
//! from runs more than an hour old, so nothing depends on what the server held before.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, PgConnection, Row};

use crate::db::{Backend, Database};
use crate::ids::random_base62;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// The backend named by `KEYSTILE_TEST_DB` (`sqlite`, the default, or `postgres`).
pub fn backend_from_env() -> Backend {
    match std::env::var("KEYSTILE_TEST_DB").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The URL of a new, empty database (migrations not yet applied).
pub async fn fresh_database_url(backend: Backend) -> String {
    let name = format!("keystile_test_{}_{}", epoch_secs(), random_base62(8).to_lowercase());
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            format!("sqlite://{}", path.display())
        }
        Backend::Postgres => {
            let server =
                std::env::var("KEYSTILE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
            let mut admin = PgConnection::connect(&format!("{server}/postgres"))
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {server} is needed for these tests: {e}"));
            drop_stale_databases(&mut admin).await;
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create the test database");
            format!("{server}/{name}")
        }
    }
}

/// A new, migrated database.
pub async fn fresh_database(backend: Backend) -> Database {
    let url = fresh_database_url(backend).await;
    Database::connect(&url).await.expect("connect to the test database")
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'keystile_test_%'")
        .fetch_all(&mut *admin)
        .await
    else {
        return;
    };
    let hour_ago = epoch_secs().saturating_sub(3600);
    for row in rows {
        let name: String = row.get(0);
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(u64::MAX);
        if created < hour_ago {
            // Another run may still hold it open; a failed drop is retried next time.
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}

fn epoch_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
