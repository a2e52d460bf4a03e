//! Warden verifier: answers the filter's `POST /v1/check` from Redis (revoked jtis, user versions,
//! sessions, a global not-before) and serves the admin API that writes them.
//!
//! `main.rs` only parses the command line; everything here can be driven from tests:
//! bind `127.0.0.1:0`, build an [`AppState`], call [`run`].
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod admin;
pub mod admin_token;
pub mod app;
pub mod body;
pub mod check;
pub mod cli;
pub mod cookie;
pub mod error;
pub mod events;
pub mod ext_authz;
pub mod form;
pub mod introspect;
pub mod issuer;
pub mod jose;
pub mod metrics;
pub mod not_before;
pub mod ops;
pub mod outbox;
pub mod playground;
pub mod ratelimit;
pub mod revocations;
pub mod serve;
pub mod sid;
pub mod state;
pub mod store;
#[cfg(feature = "tls")]
pub mod tls;
pub mod token;

pub use admin_token::AdminToken;
pub use app::{admin_router, check_router, run, Listeners, MAX_BODY_BYTES};
pub use error::ApiError;
pub use state::{AppState, Settings};
pub use store::{Store, StoreOptions};
