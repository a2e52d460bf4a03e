//! Outbound HTTP: one `GET` with a deadline and a body cap, for the identity providers' discovery
//! documents and key sets. `https://` goes through rustls with the webpki roots (feature `tls`);
//! `http://` only to a loopback host ([`is_fetchable_url`], which the configuration applies too).
//! No redirects are followed, no proxy is used: any answer but `200` is an error.
//!
//! [`call`] is the admin command's request (`warden-verifier admin …`): any method, headers and
//! body, any answer status returned as is, and an optional PEM CA file trusted instead of the
//! webpki roots; plain `http://` goes to any host there (the operator chose the URL; the command
//! warns when its admin token would cross the network in clear).
//!
//! [`OtlpClient`] sends the spans of `--otlp-endpoint` with [`call`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, HOST, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Bounds of one fetch.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For everything: connect, TLS, request, headers and the whole body.
    pub timeout: Duration,
    pub max_body_bytes: usize,
}

/// A `200` answer.
#[derive(Debug)]
pub struct Fetched {
    pub body: Bytes,
    /// Its `Cache-Control` header, when it had a readable one.
    pub cache_control: Option<String>,
}

/// Why a fetch gave no `200` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Not an `https://` URL nor an `http://` one to a loopback host.
    UrlNotAllowed,
    /// `https://` in a build without the `tls` feature.
    TlsNotBuilt,
    Connect(String),
    Tls(String),
    Http(String),
    Status(u16),
    TooLarge,
    Timeout,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::UrlNotAllowed => {
                write!(f, "not an https:// URL (http:// only to a loopback host)")
            }
            FetchError::TlsNotBuilt => write!(f, "https:// needs the `tls` feature"),
            FetchError::Connect(e) => write!(f, "connect: {e}"),
            FetchError::Tls(e) => write!(f, "tls: {e}"),
            FetchError::Http(e) => write!(f, "http: {e}"),
            FetchError::Status(code) => write!(f, "answered {code}, not 200"),
            FetchError::TooLarge => write!(f, "body larger than the limit"),
            FetchError::Timeout => write!(f, "no complete answer in time"),
        }
    }
}

/// Whether keys may be fetched from `url`: `https://`, or `http://` to 127.0.0.1, localhost or
/// [::1] only (a test or a sidecar), since keys fetched in clear could be swapped on the way.
pub fn is_fetchable_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") && url.len() > "https://".len() {
        return true;
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => authority,
        };
        return matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    }
    false
}

/// Where a request for `uri` goes: scheme, socket host and port, path and `Host` header.
struct Target<'a> {
    https: bool,
    host: &'a str,
    port: u16,
    path: &'a str,
    host_header: HeaderValue,
}

impl<'a> Target<'a> {
    fn of(uri: &'a Uri) -> Result<Target<'a>, FetchError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(FetchError::UrlNotAllowed),
        };
        let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
            return Err(FetchError::UrlNotAllowed);
        };
        Ok(Target {
            https,
            // An IPv6 literal keeps its brackets in the URI, not in a socket address.
            host: host.trim_start_matches('[').trim_end_matches(']'),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri.path_and_query().map_or("/", |p| p.as_str()),
            host_header: HeaderValue::from_str(authority.as_str())
                .map_err(|_| FetchError::UrlNotAllowed)?,
        })
    }
}

/// `GET url`, all of it within `limits`.
pub async fn get(url: &str, limits: Limits) -> Result<Fetched, FetchError> {
    tokio::time::timeout(limits.timeout, get_unbounded(url, limits.max_body_bytes))
        .await
        .map_err(|_| FetchError::Timeout)?
}

async fn get_unbounded(url: &str, max_body_bytes: usize) -> Result<Fetched, FetchError> {
    if !is_fetchable_url(url) {
        return Err(FetchError::UrlNotAllowed);
    }
    let uri: Uri = url.parse().map_err(|_| FetchError::UrlNotAllowed)?;
    let Target {
        https,
        host,
        port,
        path,
        host_header,
    } = Target::of(&uri)?;
    let request = Request::get(path)
        .header(HOST, host_header)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, "warden-verifier")
        .body(Full::new(Bytes::new()))
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    let (_, cache_control, body) = if https {
        let tls = tls_connect(host, tcp, None).await?;
        exchange(tls, request, max_body_bytes, true).await?
    } else {
        exchange(tcp, request, max_body_bytes, true).await?
    };
    Ok(Fetched {
        body,
        cache_control,
    })
}

/// One request of the admin command.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a str,
    /// `http://` or `https://`, any host.
    pub url: &'a str,
    /// Extra headers (`authorization`, `content-type`, …).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// PEM certificates trusted for `https://` instead of the webpki roots.
    pub ca_pem: Option<&'a [u8]>,
    pub limits: Limits,
}

/// Any complete answer: its status and body.
#[derive(Debug)]
pub struct Answered {
    pub status: u16,
    pub body: Bytes,
}

/// Sends `call`, all of it within `call.limits`; every status is an answer.
pub async fn call(call: Call<'_>) -> Result<Answered, FetchError> {
    tokio::time::timeout(call.limits.timeout, call_unbounded(call))
        .await
        .map_err(|_| FetchError::Timeout)?
}

async fn call_unbounded(call: Call<'_>) -> Result<Answered, FetchError> {
    let uri: Uri = call.url.parse().map_err(|_| FetchError::UrlNotAllowed)?;
    let Target {
        https,
        host,
        port,
        path,
        host_header,
    } = Target::of(&uri)?;
    let mut builder = Request::builder()
        .method(call.method)
        .uri(path)
        .header(HOST, host_header)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, "warden-verifier");
    for (name, value) in call.headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(call.body)))
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    let max = call.limits.max_body_bytes;
    let (status, _, body) = if https {
        let tls = tls_connect(host, tcp, call.ca_pem).await?;
        exchange(tls, request, max, false).await?
    } else {
        exchange(tcp, request, max, false).await?
    };
    Ok(Answered { status, body })
}

/// The OTLP span exporter's HTTP client (`--otlp-endpoint`): each export is one [`call`] run on
/// the service's runtime. The SDK exports from its own thread, outside the runtime, so the call
/// is spawned there and only its answer awaited.
#[derive(Debug, Clone)]
pub struct OtlpClient {
    runtime: tokio::runtime::Handle,
    limits: Limits,
}

impl OtlpClient {
    /// `timeout` bounds each export; an answer's body is read up to 64 KiB (a collector's is a
    /// few bytes: the partial-success message).
    pub fn new(runtime: tokio::runtime::Handle, timeout: Duration) -> OtlpClient {
        OtlpClient {
            runtime,
            limits: Limits {
                timeout,
                max_body_bytes: 64 * 1024,
            },
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: hyper::Request<Bytes>,
    ) -> Result<hyper::Response<Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let method = parts.method.to_string();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            // `call` writes these itself.
            .filter(|(name, _)| ![HOST, USER_AGENT, ACCEPT, CONTENT_LENGTH].contains(name))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let limits = self.limits;
        let task = self.runtime.spawn(async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            call(Call {
                method: &method,
                url: &url,
                headers: &headers,
                body: &body,
                ca_pem: None,
                limits,
            })
            .await
        });
        let answered = task
            .await
            .map_err(|e| format!("export task: {e}"))?
            .map_err(|e| e.to_string())?;
        hyper::Response::builder()
            .status(answered.status)
            .body(answered.body)
            .map_err(|e| e.to_string().into())
    }
}

#[cfg(feature = "tls")]
async fn tls_connect(
    host: &str,
    tcp: TcpStream,
    ca_pem: Option<&[u8]>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, FetchError> {
    use rustls::pki_types::pem::PemObject;
    use std::sync::{Arc, OnceLock};
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let build = |roots: rustls::RootCertStore| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| {
                let mut config = builder.with_root_certificates(roots).with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(config)
            })
            .map_err(|e| e.to_string())
    };
    let config = match ca_pem {
        None => CONFIG
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                build(roots)
            })
            .clone()
            .map_err(FetchError::Tls)?,
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| FetchError::Tls(format!("CA file: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| FetchError::Tls(format!("CA file: {e}")))?;
            }
            if roots.is_empty() {
                return Err(FetchError::Tls("CA file: no certificate in it".into()));
            }
            build(roots).map_err(FetchError::Tls)?
        }
    };
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| FetchError::Tls(e.to_string()))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| FetchError::Tls(e.to_string()))
}

#[cfg(not(feature = "tls"))]
async fn tls_connect(
    _host: &str,
    _tcp: TcpStream,
    _ca_pem: Option<&[u8]>,
) -> Result<TcpStream, FetchError> {
    Err(FetchError::TlsNotBuilt)
}

/// One HTTP/1.1 exchange on `io`: the connection is driven beside the request, so dropping this
/// future (the deadline) ends both. `only_200`: any other status is [`FetchError::Status`].
/// Gives the status, the `Cache-Control` header and the body.
async fn exchange<I>(
    io: I,
    request: Request<Full<Bytes>>,
    max_body_bytes: usize,
    only_200: bool,
) -> Result<(u16, Option<String>, Bytes), FetchError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| FetchError::Http(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    let answer = async move {
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status().as_u16();
        if only_200 && status != 200 {
            return Err(FetchError::Status(status));
        }
        let cache_control = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), max_body_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    FetchError::Http(e.to_string())
                }
            })?
            .to_bytes();
        Ok((status, cache_control, body))
    };
    let mut answer = std::pin::pin!(answer);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        fetched = &mut answer => fetched,
        ended = &mut connection => {
            // The connection may end (the server closed it) with the answer already buffered.
            ended.map_err(http)?;
            answer.await
        }
    }
}

/// `max-age` of a `Cache-Control` value, when it has one.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            value.trim().trim_matches('"').parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(2),
        max_body_bytes: 64,
    };

    /// A server that answers every connection with `answer` (after reading the request head).
    async fn serve(answer: &'static [u8], delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = stream.write_all(answer).await;
                });
            }
        });
        format!("http://127.0.0.1:{}/jwks", addr.port())
    }

    #[tokio::test]
    async fn a_200_answer_gives_its_body_and_cache_control() {
        let url = serve(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncache-control: public, max-age=120\r\nconnection: close\r\n\r\n{}",
            Duration::ZERO,
        )
        .await;
        let fetched = get(&url, LIMITS).await.unwrap();
        assert_eq!(&fetched.body[..], b"{}");
        assert_eq!(
            fetched.cache_control.as_deref().and_then(max_age),
            Some(120)
        );
    }

    #[tokio::test]
    async fn a_chunked_answer_is_read_whole() {
        let url = serve(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\n{\"\r\n4\r\na\":1\r\n1\r\n}\r\n0\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        assert_eq!(&get(&url, LIMITS).await.unwrap().body[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn other_statuses_large_bodies_and_slow_servers_are_errors() {
        let url = serve(
            b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        assert_eq!(
            get(&url, LIMITS).await.unwrap_err(),
            FetchError::Status(302)
        );
        let url = serve(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
            Duration::ZERO,
        )
        .await;
        assert_eq!(get(&url, LIMITS).await.unwrap_err(), FetchError::TooLarge);
        let url = serve(b"HTTP/1.1 200 OK\r\n\r\n", Duration::from_secs(5)).await;
        let short = Limits {
            timeout: Duration::from_millis(200),
            ..LIMITS
        };
        assert_eq!(get(&url, short).await.unwrap_err(), FetchError::Timeout);
    }

    #[tokio::test]
    async fn plain_http_is_refused_beyond_loopback() {
        assert_eq!(
            get("http://example.com/jwks", LIMITS).await.unwrap_err(),
            FetchError::UrlNotAllowed
        );
        assert!(is_fetchable_url("https://idp.example/jwks"));
        assert!(is_fetchable_url("http://localhost:8080/jwks"));
        assert!(is_fetchable_url("http://[::1]:8080/jwks"));
        assert!(!is_fetchable_url("http://127.0.0.1.example/jwks"));
        assert!(!is_fetchable_url("https://"));
        assert!(!is_fetchable_url("ftp://idp.example/jwks"));
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("max-age=60"), Some(60));
        assert_eq!(max_age("no-cache, Max-Age = 5"), Some(5));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=-1"), None);
    }
}
