//! Command-line account chores: operator users.

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
    let db = Database::connect(&settings.database_url).await?;
    let policy = CurrentPolicy::new(crate::startup::load_policy(settings)?);
    let accounts = Accounts::new(db, Arc::new(SystemClock), policy, Arc::new(services::changes::NoFeed));
    let user = accounts.create_operator(email, password, role).await?;
    println!("Created {} user {}.", role.as_str(), user.email);
    Ok(())
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
