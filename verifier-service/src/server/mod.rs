//! Transport: the bound listeners (plain TCP or TLS), serving both routers until shutdown, then
//! draining the requests in flight; the signals that stop or reload the process.

pub mod signals;
#[cfg(feature = "tls")]
pub mod tls;

use crate::http::state::AppState;
use crate::http::{admin_router, check_router};
use crate::net::PeerAddr;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The bound sockets of both listeners: plain TCP by default, or any `axum::serve::Listener`
/// (e.g. `tls::TlsListener`).
pub struct Listeners<C = TcpListener, A = TcpListener> {
    pub check: C,
    pub admin: A,
}

/// Serves both listeners until `shutdown` completes, then stops accepting and waits for the
/// requests in flight. The feed outbox relay runs beside them until then.
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
    tokio::spawn(crate::service::idp_events::prefetch_keys(state.0.clone()));
    tokio::spawn(crate::service::outbox::run_relay(
        state.0.clone(),
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
