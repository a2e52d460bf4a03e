//! The TLS listener: handshakes run concurrently, finished connections go to the HTTP server.

use super::config::Role;
use super::reload::TlsState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for the HTTP server to pick them up.
const ACCEPT_QUEUE: usize = 128;

impl TlsState {
    /// Serves TLS on `tcp` with `role`'s configuration: handshakes run concurrently in their own
    /// tasks (bounded by a timeout) and finished ones are handed to the HTTP server.
    pub fn listener(
        self: &Arc<Self>,
        tcp: TcpListener,
        role: Role,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(accept_loop(tcp, self.clone(), role, tx));
        Ok(TlsListener {
            incoming: rx,
            local,
        })
    }
}

type Accepted = (TlsStream<TcpStream>, SocketAddr);

async fn accept_loop(
    tcp: TcpListener,
    state: Arc<TlsState>,
    role: Role,
    tx: mpsc::Sender<Accepted>,
) {
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = TlsAcceptor::from(state.config(role));
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => log_handshake_error(role, peer, &e),
                Err(_) => tracing::debug!(%peer, listener = ?role, "TLS handshake timed out"),
            }
        });
    }
}

fn log_handshake_error(role: Role, peer: SocketAddr, error: &std::io::Error) {
    let refused = error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>());
    if refused {
        // A certificate refused, a plaintext request, an unsupported version: worth seeing.
        tracing::warn!(%peer, listener = ?role, error = %error, "TLS handshake refused");
    } else {
        tracing::debug!(%peer, listener = ?role, error = %error, "TLS handshake aborted");
    }
}

/// A listener yielding connections whose TLS handshake has completed.
pub struct TlsListener {
    incoming: mpsc::Receiver<Accepted>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends once this receiver is gone, so this is never reached while
            // the listener is in use; waiting forever is the honest answer.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for crate::net::PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        crate::net::PeerAddr(*stream.remote_addr())
    }
}
