//! What can go wrong writing or reading usage.

/// A failed flush keeps its counts for the next one; a failed query changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("usage store failed: {0}")]
    Store(#[from] sqlx::Error),
    /// The caller asked for a range that ends before it starts.
    #[error("the usage range ends before it starts")]
    InvalidRange,
    /// A chart of more points than [`MAX_SERIES_POINTS`](crate::MAX_SERIES_POINTS).
    #[error("the usage range holds {points} points, more than the {max} allowed")]
    TooManyPoints { points: i64, max: i64 },
    /// The flusher's task panicked or its runtime shut down; whatever it held went back into
    /// the recorder, unless the runtime itself was gone.
    #[error("the usage flusher stopped unexpectedly")]
    FlusherStopped,
}
