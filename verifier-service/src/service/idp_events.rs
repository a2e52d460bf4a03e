//! What an identity provider's back-channel logout token or pushed security event token does:
//! verified against the provider's keys and claims, its `jti` claimed once, then the session
//! or user revoked; each one an audit event and a count, whatever the outcome.
//!
//! Order: the `jti` is claimed before the revocation (a replayed token never revokes again, as
//! a replayed user logout would move the user's not-before past their new tokens), and released
//! when the revocation could not be stored (the provider retries the same token).

use super::audit::{self, EventFacts, SecurityEvent};
use super::identity_providers::IdentityProvider;
use super::idp_claims::{
    self, EventKind, Expected, Refusal, Target, LOGOUT_LABEL, OUTCOME_ACCEPTED, OUTCOME_IGNORED,
    OUTCOME_KEYS_UNAVAILABLE, OUTCOME_UNAVAILABLE, SET_LABEL, UNKNOWN_EVENT_LABEL,
};
use super::{revoke, ServiceError, Services};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use warden_core::alg::KeyKind;
use warden_core::token::{decode, Claims, Requirements};
use warden_core::{Algorithm, Reason};

/// Largest logout token or SET read (the request body limit is the real bound).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why an identity provider's token did not lead to a stored revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpError {
    /// No provider has this name.
    UnknownProvider,
    /// The provider's keys could not be fetched: the token can be neither accepted nor refused.
    KeysUnavailable,
    Refused(Refusal),
    /// The `jti` or the revocation could not be stored.
    Failed(ServiceError),
}

/// What an accepted SET did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsDone {
    pub acted_on: Vec<(EventKind, Target)>,
    pub ignored: usize,
}

/// The provider and who called, for the audit events.
struct Context<'a> {
    provider: &'a IdentityProvider,
    client: IpAddr,
    now: i64,
}

impl<'a> Context<'a> {
    /// The context of a call to provider `name`'s route (`UnknownProvider`: a 404).
    fn of(svc: &'a Services, name: &str, client: IpAddr, now: i64) -> Result<Self, IdpError> {
        let provider = svc
            .settings
            .identity_providers
            .by_name(name)
            .ok_or(IdpError::UnknownProvider)?;
        Ok(Context {
            provider,
            client,
            now,
        })
    }
}

/// `POST /v1/backchannel-logout/{name}`: verifies `token` as a logout token of provider `name`
/// (Back-Channel Logout 1.0 §2.6) and revokes the session it names (`sid`), else the user
/// (`sub`). Returns the target revoked.
pub async fn backchannel_logout(
    svc: &Services,
    name: &str,
    token: &str,
    client: IpAddr,
    now: i64,
) -> Result<Target, IdpError> {
    let cx = Context::of(svc, name, client, now)?;
    let result = logout(svc, &cx, token).await;
    if let Err(error) = &result {
        refused(svc, &cx, SecurityEvent::IdpLogout, LOGOUT_LABEL, error).await;
    }
    result
}

async fn logout(svc: &Services, cx: &Context<'_>, token: &str) -> Result<Target, IdpError> {
    let (typ, claims) = verify_signature(svc, cx.provider, token, cx.now).await?;
    let logout = idp_claims::check_logout_token(typ.as_deref(), &claims, expected(cx), cx.now)
        .map_err(|e| IdpError::Refused(Refusal::Claims(e)))?;
    let target = match (&logout.sid, &logout.sub) {
        (Some(sid), _) => Target::Session(sid.clone()),
        (None, Some(sub)) => Target::User(sub.clone()),
        // `check_logout_token` refuses a token with neither.
        (None, None) => {
            return Err(IdpError::Refused(Refusal::Claims(
                idp_claims::ClaimError::SubjectMissing,
            )))
        }
    };
    let jti = &logout.accepted.jti;
    claim_jti(svc, cx, jti, logout.accepted.valid_until).await?;
    if let Err(error) = revoke_target(svc, cx, &target).await {
        release_jti(svc, cx, jti).await;
        return Err(revoke_failed(error));
    }
    svc.metrics
        .record_idp_event(&cx.provider.name, LOGOUT_LABEL, OUTCOME_ACCEPTED);
    let extra = audit_fields(cx, LOGOUT_LABEL, OUTCOME_ACCEPTED, Some(jti));
    let facts = EventFacts {
        sub: logout.sub.as_deref(),
        sid: logout.sid.as_deref(),
        client: Some(cx.client),
        detail: Some(target_word(&target)),
    };
    audit::record_with(svc, SecurityEvent::IdpLogout, facts, extra, cx.now).await;
    Ok(target)
}

/// `POST /v1/ssf/{name}`: verifies `token` as a SET pushed by provider `name` (RFC 8417,
/// RFC 8935) and revokes what each event it acts on names; other events are ignored.
pub async fn security_event(
    svc: &Services,
    name: &str,
    token: &str,
    client: IpAddr,
    now: i64,
) -> Result<EventsDone, IdpError> {
    let cx = Context::of(svc, name, client, now)?;
    let result = events(svc, &cx, token).await;
    if let Err(error) = &result {
        refused(svc, &cx, SecurityEvent::IdpEvent, SET_LABEL, error).await;
    }
    result
}

async fn events(svc: &Services, cx: &Context<'_>, token: &str) -> Result<EventsDone, IdpError> {
    let (typ, claims) = verify_signature(svc, cx.provider, token, cx.now).await?;
    let set = idp_claims::check_security_event_token(typ.as_deref(), &claims, expected(cx), cx.now)
        .map_err(|e| IdpError::Refused(Refusal::Claims(e)))?;
    let jti = &set.accepted.jti;
    claim_jti(svc, cx, jti, set.accepted.valid_until).await?;
    for (kind, target) in &set.actions {
        if let Err(error) = revoke_target(svc, cx, target).await {
            if !matches!(error, ServiceError::Invalid(_)) {
                svc.metrics
                    .record_idp_event(&cx.provider.name, kind.label(), OUTCOME_UNAVAILABLE);
            }
            // The events before this one stand; the retried SET repeats them, which is harmless.
            release_jti(svc, cx, jti).await;
            return Err(revoke_failed(error));
        }
        svc.metrics
            .record_idp_event(&cx.provider.name, kind.label(), OUTCOME_ACCEPTED);
        let (sub, sid) = match target {
            Target::User(sub) => (Some(sub.as_str()), None),
            Target::Session(sid) => (None, Some(sid.as_str())),
        };
        let facts = EventFacts {
            sub,
            sid,
            client: Some(cx.client),
            detail: Some(target_word(target)),
        };
        let extra = audit_fields(cx, kind.label(), OUTCOME_ACCEPTED, Some(jti));
        audit::record_with(svc, SecurityEvent::IdpEvent, facts, extra, cx.now).await;
    }
    for _ in 0..set.ignored {
        svc.metrics
            .record_idp_event(&cx.provider.name, UNKNOWN_EVENT_LABEL, OUTCOME_IGNORED);
    }
    if set.ignored > 0 {
        let facts = EventFacts {
            client: Some(cx.client),
            ..EventFacts::default()
        };
        let extra = audit_fields(cx, UNKNOWN_EVENT_LABEL, OUTCOME_IGNORED, Some(jti));
        audit::record_with(svc, SecurityEvent::IdpEvent, facts, extra, cx.now).await;
    }
    Ok(EventsDone {
        acted_on: set.actions,
        ignored: set.ignored,
    })
}

/// The algorithms a provider's token may be signed with: asymmetric ones only (a provider's
/// keys are public; `none` and HMAC are never accepted).
fn asymmetric_algorithms() -> Vec<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(|alg| alg.key_kind() != KeyKind::Hmac)
        .collect()
}

/// The structure, `alg` and signature of `token` with the provider's keys (fetched again when
/// it names a `kid` they lack); its `typ` header and claims.
async fn verify_signature(
    svc: &Services,
    provider: &IdentityProvider,
    token: &str,
    now: i64,
) -> Result<(Option<String>, Claims), IdpError> {
    let requirements = Requirements {
        algorithms: Some(asymmetric_algorithms()),
        max_token_bytes: MAX_TOKEN_BYTES,
        require_expiration: false,
        ..Requirements::default()
    };
    let refused = |reason: Reason| {
        IdpError::Refused(match reason {
            Reason::AlgorithmNotAllowed => Refusal::AlgorithmNotAllowed,
            Reason::KeyNotFound => Refusal::UnknownKey,
            Reason::SignatureInvalid => Refusal::BadSignature,
            _ => Refusal::Malformed,
        })
    };
    let decoded = decode(token, &requirements).map_err(refused)?;
    let typ = typ_header(token).ok_or(IdpError::Refused(Refusal::Malformed))?;
    let keys: Arc<_> = svc
        .idp_keys
        .keys(provider, decoded.kid.as_deref(), now)
        .await
        .map_err(|_| IdpError::KeysUnavailable)?;
    let claims = decoded.verify_signature(&keys).map_err(refused)?;
    Ok((typ, claims))
}

/// The `typ` header of a token `decode` accepted: `Some(None)` when absent, `None` when it is
/// not a string.
fn typ_header(token: &str) -> Option<Option<String>> {
    let header = token.split('.').next()?;
    let bytes = warden_core::b64::decode(header)?;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    match header.get("typ") {
        None => Some(None),
        Some(Value::String(typ)) => Some(Some(typ.clone())),
        Some(_) => None,
    }
}

fn expected<'a>(cx: &Context<'a>) -> Expected<'a> {
    Expected {
        issuer: &cx.provider.issuer,
        client_ids: &cx.provider.client_ids,
    }
}

/// Claims `jti` until the token's acceptance ends (plus the revocation skew): a replay before
/// then is refused here, one after it by the dates.
async fn claim_jti(
    svc: &Services,
    cx: &Context<'_>,
    jti: &str,
    valid_until: i64,
) -> Result<(), IdpError> {
    let skew = i64::try_from(svc.settings.revocation_skew_seconds).unwrap_or(i64::MAX);
    let until = valid_until
        .saturating_add(skew.max(idp_claims::CLOCK_SKEW_SECONDS))
        .saturating_add(1);
    match svc
        .store
        .claim_idp_event_jti(&cx.provider.issuer, jti, until)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(IdpError::Refused(Refusal::Replayed)),
        Err(error) => Err(IdpError::Failed(svc.store_failed("idp_event_jti", error))),
    }
}

async fn release_jti(svc: &Services, cx: &Context<'_>, jti: &str) {
    if let Err(error) = svc
        .store
        .release_idp_event_jti(&cx.provider.issuer, jti)
        .await
    {
        // The provider's retry will be refused as a replay; the failure is in the logs.
        svc.store_failed("idp_event_jti_release", error);
    }
}

async fn revoke_target(
    svc: &Services,
    cx: &Context<'_>,
    target: &Target,
) -> Result<(), ServiceError> {
    match target {
        Target::Session(sid) => {
            revoke::revoke_idp_session(svc, &cx.provider.issuer, sid, None, cx.now)
                .await
                .map(drop)
        }
        Target::User(sub) => revoke::revoke_user(svc, sub, cx.now).await.map(drop),
    }
}

/// A revocation refused as such (`Invalid`: e.g. a `sid` over 256 bytes, which no check could
/// carry) refuses the token; any other failure is the store's (the provider retries).
fn revoke_failed(error: ServiceError) -> IdpError {
    match error {
        ServiceError::Invalid(_) => IdpError::Refused(Refusal::NotRevocable),
        other => IdpError::Failed(other),
    }
}

fn target_word(target: &Target) -> &'static str {
    match target {
        Target::Session(_) => "session",
        Target::User(_) => "user",
    }
}

fn audit_fields(
    cx: &Context<'_>,
    event: &str,
    outcome: &str,
    jti: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("provider", cx.provider.name.clone()),
        ("iss", cx.provider.issuer.clone()),
        ("event_type", event.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    if let Some(jti) = jti {
        fields.push(("jti", jti.to_owned()));
    }
    fields
}

/// The count and audit event of a token that revoked nothing.
async fn refused(
    svc: &Services,
    cx: &Context<'_>,
    event: SecurityEvent,
    label: &str,
    error: &IdpError,
) {
    let outcome = match error {
        IdpError::UnknownProvider => return,
        IdpError::KeysUnavailable => OUTCOME_KEYS_UNAVAILABLE,
        IdpError::Refused(refusal) => refusal.code(),
        IdpError::Failed(_) => OUTCOME_UNAVAILABLE,
    };
    svc.metrics
        .record_idp_event(&cx.provider.name, label, outcome);
    let facts = EventFacts {
        client: Some(cx.client),
        detail: Some("refused"),
        ..EventFacts::default()
    };
    let extra = audit_fields(cx, label, outcome, None);
    audit::record_with(svc, event, facts, extra, cx.now).await;
}

/// Fetches every provider's keys once, at start, so the first logout does not wait for them.
pub async fn prefetch_keys(svc: Arc<Services>) {
    let now = match crate::clock::unix_now() {
        Ok(now) => now,
        Err(error) => {
            tracing::warn!(%error, "no clock: identity provider keys fetched on first use");
            return;
        }
    };
    // One task per provider: a slow provider does not hold up the others.
    for provider in svc.settings.identity_providers.all() {
        let (svc, provider) = (svc.clone(), provider.clone());
        tokio::spawn(async move { svc.idp_keys.prefetch(&provider, now).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typ_header_is_read_when_a_string() {
        let b64 = |s: &str| warden_core::b64::encode(s.as_bytes());
        let token = |header: &str| format!("{}.e30.c2ln", b64(header));
        assert_eq!(
            typ_header(&token(r#"{"alg":"ES256","typ":"logout+jwt"}"#)),
            Some(Some("logout+jwt".into()))
        );
        assert_eq!(typ_header(&token(r#"{"alg":"ES256"}"#)), Some(None));
        assert_eq!(typ_header(&token(r#"{"alg":"ES256","typ":1}"#)), None);
    }
}
