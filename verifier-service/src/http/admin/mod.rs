//! The admin API (admin listener only, behind the bearer admin token): revocations, sessions,
//! introspection.

pub mod guard;
pub mod introspect;
pub mod revoke;
pub mod sessions;

use super::routes::Endpoint;

pub use guard::require_admin_token;

pub use revoke::{RevokeSessionRequest, RevokeTokenRequest, RevokeUserRequest};
pub use sessions::CreateSessionRequest;

pub fn endpoints() -> Vec<Endpoint> {
    [
        revoke::endpoints(),
        sessions::endpoints(),
        introspect::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
