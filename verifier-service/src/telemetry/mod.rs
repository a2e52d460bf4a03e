//! What the verifier tells its operators: metrics, the audit vocabulary, logging, traces.

pub mod events;
pub mod logging;
pub mod metrics;
pub mod traces;
