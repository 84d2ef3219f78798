//! Fans changes out to every node's key cache (and, for a catalogue edit, its policy): locally
//! at once, and to other nodes through a Redis channel when Redis is configured. A node that loses its subscription clears its whole
//! cache when it reconnects, since it may have missed messages; the cache's TTL bounds
//! staleness even then.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use services::catalogue::Catalogue;
use services::changes::{Change, ChangeFeed};
use services::{CurrentPolicy, Database};

use super::key_cache::KeyCache;

const CHANNEL: &str = "keystile:changes";

pub struct ChangeBroadcast {
    cache: Arc<KeyCache>,
    redis: Option<redis::Client>,
}

/// Where a node reads the plan catalogue another node saved.
#[derive(Clone)]
pub struct CatalogueSource {
    pub db: Database,
    pub policy: CurrentPolicy,
}

impl ChangeBroadcast {
    /// Local invalidation only (one node).
    pub fn local(cache: Arc<KeyCache>) -> Self {
        Self { cache, redis: None }
    }

    /// Local invalidation, and every other node through Redis; starts this node's subscriber.
    pub fn through_redis(
        cache: Arc<KeyCache>,
        catalogue: CatalogueSource,
        url: &str,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        tokio::spawn(subscribe(client.clone(), cache.clone(), catalogue));
        Ok(Self { cache, redis: Some(client) })
    }
}

impl ChangeFeed for ChangeBroadcast {
    fn publish(&self, change: Change) {
        self.cache.invalidate(&change);
        let Some(client) = self.redis.clone() else {
            return;
        };
        let Ok(message) = serde_json::to_string(&change) else {
            return;
        };
        tokio::spawn(async move {
            let published = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                connection.publish::<_, _, i64>(CHANNEL, message).await
            };
            match tokio::time::timeout(Duration::from_secs(2), published).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "could not announce a change to other nodes"),
                Err(_) => tracing::warn!("announcing a change to other nodes timed out"),
            }
        });
    }
}

/// Listens for other nodes' changes for as long as the process runs, reconnecting on failure.
async fn subscribe(client: redis::Client, cache: Arc<KeyCache>, catalogue: CatalogueSource) {
    loop {
        if let Err(error) = listen(&client, &cache, &catalogue).await {
            tracing::warn!(%error, "lost the change subscription; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(
    client: &redis::Client,
    cache: &KeyCache,
    catalogue: &CatalogueSource,
) -> Result<(), redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    // Whatever was announced while we were not listening is unknown: start from nothing.
    cache.clear();
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        match serde_json::from_str::<Change>(&payload) {
            Ok(Change::Catalogue) => {
                let CatalogueSource { db, policy } = catalogue.clone();
                tokio::spawn(async move {
                    if let Err(error) = Catalogue::reload(&db, &policy).await {
                        tracing::error!(%error, "could not read the plan catalogue another node saved");
                    }
                });
            }
            Ok(change) => cache.invalidate(&change),
            Err(error) => tracing::warn!(%error, "ignoring an unreadable change message"),
        }
    }
    Ok(())
}
