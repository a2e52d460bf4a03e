//! Outgoing calls the flow asks for (JWKS fetch, verifier check) and the replies it is fed.

use crate::config::{BearerToken, RemoteJwks, VerifierConfig};

/// Largest JWKS document read from an HTTP response.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Largest verifier answer read; a longer one is not an answer.
pub const MAX_VERIFIER_BODY: usize = 4096;

/// An HTTP call for the proxy to dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub cluster: String,
    pub method: &'static str,
    pub path: String,
    pub authority: String,
    /// Request headers besides the pseudo-headers.
    pub headers: &'static [(&'static str, &'static str)],
    /// The request's W3C trace context (`traceparent`, `tracestate`) when the call is made for
    /// it; see [`super::trace::propagated`].
    pub trace_context: Vec<(&'static str, String)>,
    /// An `authorization` header value to add (a secret: `Debug` hides it).
    pub authorization: Option<BearerToken>,
    pub body: Option<Vec<u8>>,
    pub timeout_ms: u64,
    /// Read at most this much of the reply's body; the reply still reports the full size.
    pub max_response_bytes: usize,
}

impl Call {
    pub fn jwks(remote: &RemoteJwks) -> Call {
        Call {
            cluster: remote.cluster.clone(),
            method: "GET",
            path: remote.path.clone(),
            authority: remote.authority.clone(),
            headers: &[("accept", "application/json")],
            trace_context: Vec::new(),
            authorization: None,
            body: None,
            timeout_ms: remote.timeout_ms,
            max_response_bytes: MAX_JWKS_BYTES,
        }
    }

    /// The check of one request; `trace_context` is that request's (so the verifier's span joins
    /// its trace).
    pub fn verifier(
        verifier: &VerifierConfig,
        body: Vec<u8>,
        trace_context: Vec<(&'static str, String)>,
    ) -> Call {
        Call {
            cluster: verifier.cluster.clone(),
            method: "POST",
            path: verifier.path.clone(),
            authority: verifier.authority.clone(),
            headers: &[("content-type", "application/json")],
            trace_context,
            authorization: None,
            body: Some(body),
            timeout_ms: verifier.timeout_ms,
            max_response_bytes: MAX_VERIFIER_BODY,
        }
    }

    /// Pseudo-headers first, then the others: what the proxy sends.
    pub fn request_headers(&self) -> Vec<(&str, &str)> {
        let mut out = vec![
            (":method", self.method),
            (":path", self.path.as_str()),
            (":authority", self.authority.as_str()),
        ];
        out.extend_from_slice(self.headers);
        out.extend(self.trace_context.iter().map(|(n, v)| (*n, v.as_str())));
        if let Some(token) = &self.authorization {
            out.push(("authorization", token.header_value()));
        }
        out
    }
}

/// What became of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The upstream answered. `body` holds at most the call's `max_response_bytes`; `size` is
    /// the full body length the proxy reported.
    Answered {
        status: u32,
        body: Vec<u8>,
        size: usize,
    },
    /// No answer: timeout, reset or connection failure (the proxy reports them alike).
    Failed,
    /// The proxy refused to start the call, e.g. for an unknown cluster.
    NotStarted(String),
}

impl Reply {
    /// A complete answer, as tests and simple carriers build it.
    pub fn answered(status: u32, body: &[u8]) -> Reply {
        Reply::Answered {
            status,
            body: body.to_vec(),
            size: body.len(),
        }
    }
}
