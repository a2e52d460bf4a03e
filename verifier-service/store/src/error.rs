//! What a store call can fail with.

#[derive(Debug)]
pub enum StoreError {
    /// Redis could not be reached or answered with an error.
    Redis(redis::RedisError),
    /// Redis did not answer in time.
    Timeout,
    /// The write reached the primary but fewer replicas than asked acknowledged it in time.
    ReplicationTimeout { acked: i64, wanted: u32 },
    /// Redis answered something the scripts never return.
    UnexpectedReply(String),
    /// `--wait-aof`: the write was not fsynced to the primary's AOF (and to enough replicas') in
    /// time.
    NotFsynced {
        local: i64,
        replicas: i64,
        wanted: u32,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Redis(e) => write!(f, "redis error: {e}"),
            StoreError::Timeout => f.write_str("redis did not answer in time"),
            StoreError::ReplicationTimeout { acked, wanted } => {
                write!(
                    f,
                    "{acked} of {wanted} replicas acknowledged the write in time"
                )
            }
            StoreError::UnexpectedReply(what) => write!(f, "unexpected redis reply: {what}"),
            StoreError::NotFsynced {
                local,
                replicas,
                wanted,
            } => write!(
                f,
                "WAITAOF: fsynced on the primary: {}, on {replicas} of {wanted} replicas in time",
                if *local > 0 { "yes" } else { "no" }
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Redis(e)
    }
}

impl From<redis::ParsingError> for StoreError {
    fn from(e: redis::ParsingError) -> Self {
        StoreError::UnexpectedReply(e.to_string())
    }
}
