//! The public token routes on the check listener: `POST /v1/token` (RFC 6749 §6 refresh with
//! rotation and reuse detection), `POST /v1/token/revoke` (RFC 7009) and
//! `GET /.well-known/jwks.json`.

use crate::cookie;
use crate::events::{self, EventFacts, SecurityEvent, SessionEnd};
use crate::form::{self, no_store, OAuthError};
use crate::issuer::{Issuer, RefreshToken, JWKS_MAX_AGE_SECONDS};
use crate::ratelimit::client_address;
use crate::state::{unix_now, unix_now_ms, AppState};
use crate::store::keys::UserTag;
use crate::store::sessions::{
    address_rate_key, session_rate_key, FamilyGrant, RefreshCall, RefreshOutcome,
    RevokeRefreshOutcome,
};
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The connection's peer address, on the plain TCP and the TLS listener alike.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

#[cfg(feature = "tls")]
impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

fn peer(extensions: &Extensions) -> SocketAddr {
    extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| *addr)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}

fn issuer(state: &AppState) -> Result<&Issuer, OAuthError> {
    state.0.issuer.as_ref().ok_or(OAuthError::NotConfigured)
}

fn store_failed(state: &AppState, what: &str, error: StoreError) -> OAuthError {
    let _ = state.store_failed(what, error);
    OAuthError::Unavailable
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> OAuthError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        OAuthError::Internal
    }
}

/// `GET /.well-known/jwks.json`: the public keys of every `--signing-key-file`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match &state.0.issuer {
        Some(issuer) => {
            let mut response = axum::Json(issuer.jwks()).into_response();
            if let Ok(value) =
                HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))
            {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        None => crate::ApiError::NotFound("JWKS (no --signing-key-file)").into_response(),
    }
}

/// Charges the client address's budget; 429 when it is spent.
async fn charge_address(
    state: &AppState,
    client: IpAddr,
    route: &str,
    now: i64,
    now_ms: i64,
) -> Result<(), OAuthError> {
    let rate = issuer(state)?.settings.refresh_rate_per_minute;
    let wait = state
        .0
        .store
        .charge_rate(&address_rate_key(&client), now_ms, rate)
        .await
        .map_err(|e| store_failed(state, "rate_limit", e))?;
    match wait {
        None => Ok(()),
        Some(seconds) => {
            let facts = EventFacts {
                client: Some(client),
                detail: Some(route),
                ..EventFacts::default()
            };
            Err(rate_limited(state, facts, now, seconds).await)
        }
    }
}

/// The global not-before, read fresh (a session created at or before it is over).
async fn fresh_not_before(state: &AppState) -> Result<Option<i64>, OAuthError> {
    let read_at = std::time::Instant::now();
    let value = state
        .0
        .store
        .read_not_before()
        .await
        .map_err(|e| store_failed(state, "read_not_before", e))?;
    state.0.not_before.put(value, read_at);
    Ok(value.max(state.0.not_before.get(read_at).flatten()))
}

/// The refresh token of a request: in cookie mode the cookie's (for `/v1/token` only the cookie's,
/// `fallback_param` lets revoke take a `token` parameter too), else the form parameter.
fn presented_refresh(
    issuer: &Issuer,
    headers: &HeaderMap,
    params: &std::collections::BTreeMap<String, String>,
    param: &str,
    fallback_param: bool,
) -> Result<String, OAuthError> {
    let missing = || OAuthError::InvalidRequest(format!("`{param}` is missing"));
    match &issuer.settings.refresh_cookie {
        Some(name) => match cookie::read(headers, name) {
            Ok(Some(value)) => Ok(value),
            Ok(None) if fallback_param => params.get(param).cloned().ok_or_else(missing),
            Ok(None) => Err(OAuthError::InvalidRequest(format!(
                "the refresh token cookie `{name}` is missing"
            ))),
            Err(cookie::DuplicateCookie) => Err(OAuthError::InvalidRequest(format!(
                "the cookie `{name}` is sent more than once"
            ))),
        },
        None => params.get(param).cloned().ok_or_else(missing),
    }
}

fn extra_claims(grant: &FamilyGrant) -> Map<String, Value> {
    serde_json::from_str(&grant.claims_json).unwrap_or_default()
}

/// The token answer (RFC 6749 §5.1); in cookie mode the refresh token goes into the cookie.
pub fn token_answer(
    issuer: &Issuer,
    access: &crate::issuer::AccessToken,
    refresh: &RefreshToken,
    refresh_max_age: i64,
    status: StatusCode,
    extra: Map<String, Value>,
) -> Response {
    let mut body = extra;
    body.insert("access_token".into(), Value::from(access.token.clone()));
    body.insert("token_type".into(), Value::from("Bearer"));
    body.insert("expires_in".into(), Value::from(access.expires_in));
    let cookie = issuer
        .settings
        .refresh_cookie
        .as_ref()
        .map(|name| cookie::set(name, refresh.as_str(), refresh_max_age));
    if cookie.is_none() || status == StatusCode::CREATED {
        body.insert("refresh_token".into(), Value::from(refresh.as_str()));
    }
    let mut response = (status, axum::Json(Value::Object(body))).into_response();
    no_store(response.headers_mut());
    if let Some(cookie) = cookie {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// `POST /v1/token`: `grant_type=refresh_token&refresh_token=…`.
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match refresh_inner(&state, &headers, &extensions, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn refresh_inner(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let issuer = issuer(state)?;
    let params = form::parse(headers, body)?;
    match params.get("grant_type").map(String::as_str) {
        None => return Err(OAuthError::InvalidRequest("`grant_type` is missing".into())),
        Some("refresh_token") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let presented = presented_refresh(issuer, headers, &params, "refresh_token", false)?;
    let (now, now_ms) = (
        unix_now().map_err(|_| OAuthError::Internal)?,
        unix_now_ms().map_err(|_| OAuthError::Internal)?,
    );
    let client = client_address(peer(extensions), headers, &issuer.settings.trusted_proxies);
    charge_address(state, client, "token", now, now_ms).await?;
    let presented = RefreshToken::parse(&presented).ok_or(OAuthError::InvalidGrant)?;
    let sid = presented.sid().to_owned();
    let tag = crate::sid::owner_tag(&sid).ok_or(OAuthError::InvalidGrant)?;
    let not_before = fresh_not_before(state).await?;
    let successor =
        RefreshToken::generate(&sid).map_err(internal("no randomness for a refresh token"))?;
    let sealed = presented
        .seal(&successor)
        .map_err(internal("cannot seal the successor"))?;
    let settings = &issuer.settings;
    let call = RefreshCall {
        tag: &tag,
        sid: &sid,
        presented_hash: &presented.hash(),
        successor_hash: &successor.hash(),
        successor_sealed: &sealed,
        now,
        now_ms,
        idle_ttl_seconds: settings.refresh_idle_ttl_seconds,
        retry_grace_seconds: settings.refresh_retry_grace_seconds,
        retry_max_uses: settings.refresh_retry_max_uses,
        access_ttl_seconds: settings.access_ttl_seconds,
        not_before,
        rate_per_minute: settings.refresh_rate_per_minute,
    };
    let outcome = state
        .0
        .store
        .refresh(&call)
        .await
        .map_err(|e| store_failed(state, "refresh", e))?;
    let (grant, current, detail) = match outcome {
        RefreshOutcome::Rotated(grant) => {
            // The rotation moved the record's expiry (as the refresh script computes it).
            let ttl = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
            let keep = now
                .saturating_add(ttl(settings.refresh_idle_ttl_seconds))
                .max(now.saturating_add(ttl(settings.access_ttl_seconds)))
                .min(grant.expires_at);
            events::announce_session_start(state, &sid, keep, now).await;
            (grant, successor, "rotated")
        }
        RefreshOutcome::Grace { grant, sealed } => {
            // The retry of a refresh whose answer was lost: the same successor again.
            let current = presented.open(&sealed).ok_or_else(|| {
                tracing::error!(sid = %sid, "a sealed successor does not open with its predecessor");
                OAuthError::InvalidGrant
            })?;
            (grant, current, "retry")
        }
        RefreshOutcome::Limited { sub, retry_after } => {
            let facts = EventFacts {
                sub: Some(&sub),
                sid: Some(&sid),
                client: Some(client),
                detail: Some("session"),
            };
            return Err(rate_limited(state, facts, now, retry_after).await);
        }
        RefreshOutcome::ReuseDetected { sub } => {
            events::session_ended(
                state,
                SessionEnd::ReuseDetected,
                Some(&sub),
                &sid,
                Some(client),
                now,
            )
            .await;
            return Err(OAuthError::InvalidGrant);
        }
        RefreshOutcome::Expired { sub } => {
            events::session_ended(
                state,
                SessionEnd::RefreshExpired,
                Some(&sub),
                &sid,
                Some(client),
                now,
            )
            .await;
            return Err(OAuthError::InvalidGrant);
        }
        RefreshOutcome::RevokedAll { sub } => {
            events::session_ended(
                state,
                SessionEnd::RevokedAll,
                Some(&sub),
                &sid,
                Some(client),
                now,
            )
            .await;
            return Err(OAuthError::InvalidGrant);
        }
        RefreshOutcome::Invalid => return Err(OAuthError::InvalidGrant),
    };
    let access = issuer
        .access_token(
            &grant.sub,
            &sid,
            grant.version,
            now,
            grant.expires_at,
            &extra_claims(&grant),
        )
        .map_err(internal("cannot sign an access token"))?;
    let facts = EventFacts {
        sub: Some(&grant.sub),
        sid: Some(&sid),
        client: Some(client),
        detail: Some(detail),
    };
    events::record(state, SecurityEvent::Refreshed, facts, now).await;
    let idle = i64::try_from(settings.refresh_idle_ttl_seconds).unwrap_or(i64::MAX);
    let max_age = idle.min(grant.expires_at.saturating_sub(now));
    Ok(token_answer(
        issuer,
        &access,
        &current,
        max_age,
        StatusCode::OK,
        Map::new(),
    ))
}

/// `POST /v1/token/revoke` (RFC 7009): `token=…[&token_type_hint=…]`. Always 200 once the
/// request is well formed, for unknown tokens too.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match revoke_inner(&state, &headers, &extensions, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn revoke_inner(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let issuer = issuer(state)?;
    let params = form::parse(headers, body)?;
    let token = presented_refresh(issuer, headers, &params, "token", true)?;
    let (now, now_ms) = (
        unix_now().map_err(|_| OAuthError::Internal)?,
        unix_now_ms().map_err(|_| OAuthError::Internal)?,
    );
    let settings = &issuer.settings;
    let client = client_address(peer(extensions), headers, &settings.trusted_proxies);
    charge_address(state, client, "revoke", now, now_ms).await?;
    if let Some(refresh) = RefreshToken::parse(&token) {
        let sid = refresh.sid().to_owned();
        if let Some(tag) = crate::sid::owner_tag(&sid) {
            let outcome = state
                .0
                .store
                .revoke_refresh_family(
                    &tag,
                    &sid,
                    &refresh.hash(),
                    now_ms,
                    settings.refresh_rate_per_minute,
                )
                .await
                .map_err(|e| store_failed(state, "revoke_refresh", e))?;
            match outcome {
                RevokeRefreshOutcome::Ended { sub } => {
                    events::session_ended(
                        state,
                        SessionEnd::TokenRevoked,
                        Some(&sub),
                        &sid,
                        Some(client),
                        now,
                    )
                    .await;
                }
                RevokeRefreshOutcome::Limited { sub, retry_after } => {
                    let facts = EventFacts {
                        sub: Some(&sub),
                        sid: Some(&sid),
                        client: Some(client),
                        detail: Some("session"),
                    };
                    return Err(rate_limited(state, facts, now, retry_after).await);
                }
                RevokeRefreshOutcome::Unknown => {}
            }
        }
    } else if let Some(claims) = issuer.verify_access(&token, now) {
        revoke_access(state, &claims, now, now_ms).await?;
    }
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    if let Some(name) = &settings.refresh_cookie {
        if let Ok(value) = HeaderValue::from_str(&cookie::clear(name)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Revokes an access token this issuer signed (by its `jti`, until `exp` + the revocation skew).
async fn revoke_access(
    state: &AppState,
    claims: &Map<String, Value>,
    now: i64,
    now_ms: i64,
) -> Result<(), OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let (Some(sub), Some(jti)) = (text("sub"), text("jti")) else {
        return Ok(());
    };
    let tag = UserTag::of_sub(sub);
    if let (Some(issuer), Some(sid)) = (state.0.issuer.as_ref(), text("sid")) {
        // The token is ours and names its session: the request counts against that session.
        let wait = state
            .0
            .store
            .charge_rate(
                &session_rate_key(&tag, sid),
                now_ms,
                issuer.settings.refresh_rate_per_minute,
            )
            .await
            .map_err(|e| store_failed(state, "rate_limit", e))?;
        if let Some(seconds) = wait {
            let facts = EventFacts {
                sub: Some(sub),
                sid: Some(sid),
                detail: Some("session"),
                ..EventFacts::default()
            };
            return Err(rate_limited(state, facts, now, seconds).await);
        }
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    let skew = i64::try_from(state.0.settings.revocation_skew_seconds).unwrap_or(i64::MAX);
    let until = Some(exp.saturating_add(skew));
    // The feed entry first (see store::feed): an acknowledged revocation is always in it.
    let change = warden_core::protocol::feed::Change::Jti {
        sub: sub.to_owned(),
        jti: jti.to_owned(),
        until,
    };
    state
        .0
        .store
        .append_feed(&[change], now)
        .await
        .map_err(|e| store_failed(state, "revoke_token_feed", e))?;
    state
        .0
        .store
        .revoke_token(&tag, jti, until)
        .await
        .map_err(|e| store_failed(state, "revoke_token", e))?;
    tracing::info!(sub = %sub, jti = %jti, "access token revoked by its holder");
    Ok(())
}
/// Records the `rate_limited` security event and gives the answer that says when to retry.
async fn rate_limited(
    state: &AppState,
    facts: EventFacts<'_>,
    now: i64,
    retry_after: u64,
) -> OAuthError {
    events::record(state, SecurityEvent::RateLimited, facts, now).await;
    OAuthError::RateLimited(retry_after)
}
