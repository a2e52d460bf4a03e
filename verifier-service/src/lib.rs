//! Warden verifier: answers the filter's `POST /v1/check` from Redis (revoked jtis, user versions,
//! sessions, a global not-before) and serves the admin API that writes them.
//!
//! `main.rs` only parses the command line; everything here can be driven from tests:
//! bind `127.0.0.1:0`, build an [`AppState`], call [`run`].
//!
//! # Layers and the import rule
//!
//! ```text
//! cmd → config → server → http → service → issuer → store → {telemetry, net, outbound, clock, random}
//! ```
//!
//! - `cmd`: the commands (`serve`, `keygen`, `mint`, `admin`, `routes`); the only code that reads the
//!   environment and files.
//! - `config`: the command line (`cli`), every `DEFAULT_*` once, flags checked into settings.
//! - `server`: listeners (plain, TLS), graceful drain, signals.
//! - `http`: one router per feature, extractors, errors, response bodies.
//! - `service`: decisions and orchestration: check, revocations, sessions, refresh, feed, audit.
//! - `issuer`: access and refresh tokens, JOSE.
//! - `store`: Redis (scripts, keys, session ids); its own crate (`warden-store`), re-exported here
//!   with the leaves it needs (`clock`, `random`), so the compiler keeps it from importing upward.
//! - `telemetry` (metrics, audit vocabulary, logging), `net` (client address, CIDRs),
//!   `outbound` (the one outbound HTTP client: identity providers' keys, the `admin` command), `clock` (the one wall
//!   clock), `random` (the one source of randomness): leaves.
//!
//! A module may import its own layer and any layer to its right, never one to its left; the
//! leaves import no other layer. So `http` never imports `server`, `config` or `cmd`, and
//! `service` never imports `axum` either (it is free of HTTP). Within a layer no file imports
//! itself through others either: shared state types live in their own files (`service::error`,
//! `service::feed::cache`, `service::outbox::pending`, `http::routes`, `config::defaults`), so
//! a parent module never imports a child that imports it back. `tests/layers.rs` checks all of
//! this on every path in `src/`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod cmd;
pub mod config;
pub mod http;
pub mod issuer;
pub mod net;
pub mod outbound;
pub mod server;
pub mod service;
/// The store layer is its own crate, `warden-store` (verifier-service/store), so the compiler
/// keeps it from importing any layer above it; `clock` and `random`, the leaves it needs, live
/// there too.
pub use warden_store as store;
pub use warden_store::{clock, random};
pub mod telemetry;

pub use http::error::ApiError;
pub use http::state::AppState;
pub use http::MAX_BODY_BYTES;
pub use http::{admin_router, check_router};
pub use server::{run, Listeners};
pub use service::admin_token::AdminToken;
pub use service::Settings;
pub use store::{Store, StoreOptions};
