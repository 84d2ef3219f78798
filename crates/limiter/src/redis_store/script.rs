//! How a call of `decide.lua` is written and read: the command line (keys, globals, nine
//! values per bucket), running it (reloading the script after `NOSCRIPT`), and the answer.

use redis::{Cmd, ErrorKind, RedisError, ServerErrorKind};

use super::RedisStore;
use super::lease::{Answered, Ask, Bucket};
use crate::bucket::Charge;
use crate::calendar::{self, Micros};
use crate::rule::{Report, Rule, Span};
use crate::store::StoreError;

/// The script every decision and peek runs.
pub const DECIDE_LUA: &str = include_str!("decide.lua");

/// Whether a script call charges or only reads.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    Decide,
    Peek,
}

/// What the script answered, before it is matched back to the charges.
pub(super) struct Answer {
    pub now: i64,
    pub allowed: bool,
    pub buckets: Vec<Answered>,
}

impl RedisStore {
    /// Load the script into Redis's script cache (also done on demand after `NOSCRIPT`).
    pub async fn load_script(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(DECIDE_LUA);
        let hash = self.bounded(load.query_async::<String>(&mut connection)).await?;
        if hash != self.script.get_hash() {
            return Err(StoreError::Protocol(format!(
                "script hash {hash} differs from the expected {}",
                self.script.get_hash()
            )));
        }
        Ok(())
    }

    /// The `EVALSHA` command line a decision sends when it asks for no lease, for `redis-cli`,
    /// `redis-benchmark` and debugging: `EVALSHA <sha> <n> <keys…> <now> d <slack> <share>
    /// <nine values per bucket…>`.
    pub fn decide_command(&self, charges: &[Charge]) -> Result<Vec<String>, StoreError> {
        let buckets = self.resolve(charges)?;
        let cmd =
            self.command(&buckets, &vec![Ask::default(); buckets.len()], Mode::Decide, self.local_now());
        Ok(cmd
            .args_iter()
            .filter_map(|arg| match arg {
                redis::Arg::Simple(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect())
    }

    pub(super) fn command(&self, buckets: &[Bucket], asks: &[Ask], mode: Mode, local_now: Micros) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash()).arg(buckets.len());
        for bucket in buckets {
            cmd.arg(&bucket.key);
        }
        match &self.clock {
            Some(_) => cmd.arg(local_now),
            None => cmd.arg(""),
        };
        cmd.arg(match mode {
            Mode::Decide => "d",
            Mode::Peek => "p",
        });
        cmd.arg(u64::try_from(self.config.ttl_slack.as_millis()).unwrap_or(u64::MAX));
        cmd.arg(self.leases.share());
        for (bucket, ask) in buckets.iter().zip(asks) {
            push_rule(&mut cmd, &bucket.rule, bucket.cost, local_now);
            cmd.arg(ask.want).arg(ask.back).arg(ask.back_at);
        }
        cmd
    }

    /// Run the script once for these buckets (loading it if the server has forgotten it).
    pub(super) async fn run(
        &self,
        buckets: &[Bucket],
        asks: &[Ask],
        mode: Mode,
        local_now: Micros,
    ) -> Result<Answer, StoreError> {
        let cmd = self.command(buckets, asks, mode, local_now);
        let reply = self.bounded(self.evaluate(&cmd)).await?;
        parse_answer(&reply, buckets.len())
    }

    async fn evaluate(&self, cmd: &Cmd) -> Result<Vec<i64>, RedisError> {
        let mut connection = self.connection.clone();
        match cmd.query_async(&mut connection).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(DECIDE_LUA)
                    .query_async::<String>(&mut connection)
                    .await?;
                cmd.query_async(&mut connection).await
            }
            other => other,
        }
    }
}

/// A bucket's six script arguments. A billing month also carries the month this node's clock is
/// in: the script uses it when it holds the server's "now" (nearly always), which spares it the
/// calendar sums, a seventh of its work.
fn push_rule(cmd: &mut Cmd, rule: &Rule, cost: u64, local_now: Micros) {
    match *rule {
        Rule::Fixed { limit, span: Span::Length(length) } => {
            cmd.arg("f").arg(cost).arg(limit).arg(length).arg(0).arg(0);
        }
        Rule::Fixed { limit, span: Span::Month(anchor) } => {
            let (start, end) = calendar::month(local_now, anchor);
            cmd.arg("M").arg(cost).arg(limit).arg(anchor).arg(start).arg(end);
        }
        Rule::Gcra { interval, tolerance, capacity, period } => {
            cmd.arg("g").arg(cost).arg(interval).arg(tolerance).arg(capacity).arg(period);
        }
    }
}

/// Integers per bucket in the script's answer.
const ANSWER_WIDTH: usize = 5;

fn parse_answer(reply: &[i64], buckets: usize) -> Result<Answer, StoreError> {
    if reply.len() != 2 + ANSWER_WIDTH * buckets {
        return Err(StoreError::Protocol(format!(
            "expected {} integers from the script, got {}",
            2 + ANSWER_WIDTH * buckets,
            reply.len()
        )));
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Answer {
        now: reply[0],
        allowed: reply[1] == 1,
        buckets: reply[2..]
            .chunks_exact(ANSWER_WIDTH)
            .map(|b| Answered {
                report: Report { used: count(b[0]), remaining: count(b[1]), reset: b[2] },
                wait: (b[3] >= 0).then_some(b[3]),
                granted: count(b[4]),
            })
            .collect(),
    })
}
