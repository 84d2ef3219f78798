//! Watching the policy file, so that an operator's edit is in force at the next request with no
//! restart (DESIGN: buckets, routes and prices are data). The file is read every
//! [`CHECK_EVERY`]; a changed text is parsed and validated as at start, the plan catalogue an
//! admin saved is laid over it, and it replaces the policy in force. A file that does not
//! validate changes nothing: the error is logged, with its field and line, and the policy in
//! force stays. (Which buckets fail closed when Redis is down is still decided at start.)

use std::path::PathBuf;
use std::time::Duration;

use policy::Policy;
use services::catalogue::Catalogue;
use services::{CurrentPolicy, Database};

pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Watches `path`, whose text at start was `loaded`.
pub fn watch(path: PathBuf, loaded: Option<String>, db: Database, policy: CurrentPolicy) {
    tokio::spawn(async move {
        let mut last = loaded;
        let mut unreadable = false;
        let mut every = tokio::time::interval(CHECK_EVERY);
        loop {
            every.tick().await;
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                Err(error) => {
                    // Once, not every second: an editor may replace the file by renaming.
                    if !unreadable {
                        tracing::warn!(%error, path = %path.display(), "cannot read the policy file; keeping the policy in force");
                    }
                    unreadable = true;
                    continue;
                }
            };
            unreadable = false;
            if last.as_deref() == Some(text.as_str()) {
                continue;
            }
            reload(&path, &text, &db, &policy).await;
            last = Some(text);
        }
    });
}

async fn reload(path: &std::path::Path, text: &str, db: &Database, policy: &CurrentPolicy) {
    let mut fresh = match Policy::from_toml_str(text, &path.display().to_string()) {
        Ok(fresh) => fresh,
        Err(error) => {
            tracing::error!(
                "the policy file changed but is not valid; keeping the policy in force:\n{error}"
            );
            return;
        }
    };
    if let Err(error) = Catalogue::apply_saved(db, &mut fresh).await {
        tracing::error!(%error, "cannot read the plan catalogue; keeping the policy in force");
        return;
    }
    match policy.replace(fresh) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "the policy file changed: its new policy is in force")
        }
        Err(error) => {
            tracing::error!("the policy file changed but is not valid; keeping the policy in force:\n{error}")
        }
    }
}
