//! Command-line account chores: operator users, and a new password for anyone locked out.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::Context;
use limiter::SystemClock;
use secrecy::SecretString;
use services::accounts::Accounts;
use services::accounts::Role;
use services::{CurrentPolicy, Database};

use crate::settings::Settings;

/// Creates an admin or support user with a password from a prompt (or standard input when
/// piped), so it never appears in the shell's history or the process list.
pub async fn create_operator(settings: &Settings, email: &str, role: Role) -> anyhow::Result<()> {
    let password = read_password()?;
    let user = accounts(settings).await?.create_operator(email, password, role).await?;
    println!("Created {} user {}.", role.as_str(), user.email);
    Ok(())
}

/// Sets the password of the user with `email` (customer or operator), for someone who has
/// forgotten theirs: the operator runs it and hands the password over. Every session of the
/// user ends, and the audit log records it.
pub async fn set_password(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let accounts = accounts(settings).await?;
    let user = accounts.user_by_email(email).await?.with_context(|| format!("there is no user {email}"))?;
    let password = read_password()?;
    accounts.replace_password(&user, password, Some("set with `keystile set-password`")).await?;
    println!("Set a new password for {}; every session of theirs has ended.", user.email);
    Ok(())
}

async fn accounts(settings: &Settings) -> anyhow::Result<Accounts> {
    let db = Database::connect(&settings.database_url).await?;
    let policy = CurrentPolicy::new(crate::startup::load_policy(settings)?);
    Ok(Accounts::new(db, Arc::new(SystemClock), policy, Arc::new(services::changes::NoFeed)))
}

fn read_password() -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let password = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Password again: ").context("reading the password")?;
        anyhow::ensure!(password == again, "the passwords differ");
        Ok(SecretString::from(password))
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
        Ok(SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}
