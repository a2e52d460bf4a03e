//! The two routers and `run`, which serves them until shutdown and then drains in-flight requests.

use crate::error::ApiError;
use crate::state::AppState;
use crate::token::PeerAddr;
use crate::{admin, check, ext_authz, introspect, ops, revocations, token};
use axum::extract::connect_info::Connected;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Largest request body accepted on either listener.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn with_common_routes(router: Router<AppState>, state: AppState) -> Router {
    router
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The check listener: `POST /v1/check`, `/v1/ext_authz`, the public token routes, the feed and the operational routes.
pub fn check_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/check", post(check::handle))
        .route("/v1/token", post(token::refresh))
        .route("/v1/token/revoke", post(token::revoke))
        .route("/.well-known/jwks.json", get(token::jwks))
        .route("/v1/revocations", get(revocations::handle));
    with_common_routes(routes.merge(ext_authz::routes()), state)
}

/// The admin listener: the admin API behind the bearer token, and the operational routes (open).
pub fn admin_router(state: AppState) -> Router {
    let playground = state.0.settings.playground_dir.clone();
    let admin_api = Router::new()
        .route("/v1/admin/revoke/token", post(admin::revoke_token))
        .route("/v1/admin/revoke/user", post(admin::revoke_user))
        .route("/v1/admin/revoke/all", post(admin::revoke_all))
        .route("/v1/admin/sessions", post(admin::create_session))
        .route("/v1/admin/sessions/{sid}", delete(admin::delete_session))
        .route("/v1/admin/users/{sub}/sessions", get(admin::list_sessions))
        .route("/v1/admin/introspect", post(introspect::handle))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin_token,
        ));
    let router = with_common_routes(admin_api, state);
    match playground {
        Some(dir) => router.merge(crate::playground::router(dir)),
        None => router,
    }
}

/// The bound sockets of both listeners: plain TCP by default, or any `axum::serve::Listener`
/// (e.g. `tls::TlsListener`).
pub struct Listeners<C = TcpListener, A = TcpListener> {
    pub check: C,
    pub admin: A,
}

/// Serves both listeners until `shutdown` completes, then stops accepting and waits for the
/// requests in flight.
pub async fn run<C, A>(
    listeners: Listeners<C, A>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    C: Listener<Addr = SocketAddr>,
    A: Listener<Addr = SocketAddr>,
    PeerAddr: for<'a> Connected<IncomingStream<'a, C>>,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn(crate::outbox::run_relay(
        state.clone(),
        stopped(stop_rx.clone()),
    ));
    let check = axum::serve(
        listeners.check,
        check_router(state.clone()).into_make_service_with_connect_info::<PeerAddr>(),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()))
    .into_future();
    let admin = axum::serve(listeners.admin, admin_router(state))
        .with_graceful_shutdown(stopped(stop_rx))
        .into_future();
    let (check, admin) = tokio::join!(check, admin);
    check.and(admin)
}
