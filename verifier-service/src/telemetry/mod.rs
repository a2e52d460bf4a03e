//! What the verifier tells its operators: metrics, the audit vocabulary, logging.

pub mod events;
pub mod logging;
pub mod metrics;
