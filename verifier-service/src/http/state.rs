//! What every handler shares: a cheap, clonable handle to the one [`Services`].

use crate::issuer::Issuer;
use crate::service::admin_token::AdminToken;
use crate::service::{Services, Settings};
use crate::store::Store;
use std::sync::Arc;

/// The handlers' state.
#[derive(Clone)]
pub struct AppState(pub Arc<Services>);

impl AppState {
    pub fn new(store: Store, admin_token: AdminToken, settings: Settings) -> AppState {
        AppState::with_issuer(store, admin_token, settings, None)
    }

    /// The state with a token issuer (sessions then hand out access and refresh tokens).
    pub fn with_issuer(
        store: Store,
        admin_token: AdminToken,
        settings: Settings,
        issuer: Option<Issuer>,
    ) -> AppState {
        AppState(Arc::new(Services::new(
            store,
            admin_token,
            settings,
            issuer,
        )))
    }
}
