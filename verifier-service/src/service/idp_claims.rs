//! The claim checks of the tokens identity providers send the verifier, once their signature is
//! good: logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6) and Security Event
//! Tokens (RFC 8417, pushed per RFC 8935, subjects per RFC 9493 and the Shared Signals
//! Framework). Pure: time is passed in, nothing is stored here.

use serde_json::{Map, Value};
use warden_core::token::Claims;

/// Clock difference tolerated between the provider and the verifier.
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// How long after `iat` a token without `exp` is accepted.
pub const WINDOW_WITHOUT_EXP_SECONDS: i64 = 3_600;
/// How long after `iat` any token is accepted, whatever its `exp`: bounds how long its `jti` is
/// kept.
pub const MAX_WINDOW_SECONDS: i64 = 86_400;

/// The `events` member that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

/// Why a token's claims (or its `typ`) are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// The `typ` header names another kind of token.
    WrongType,
    /// A registered claim of the wrong JSON type.
    Malformed,
    WrongIssuer,
    WrongAudience,
    IatMissing,
    IssuedInFuture,
    /// Past `exp` (plus skew), or past the acceptance window after `iat`.
    Expired,
    JtiMissing,
    /// No `events` object (or an empty one).
    EventsMissing,
    /// `events` lacks the back-channel logout member, or its value is not an object.
    NotALogout,
    /// A logout token with neither `sid` nor `sub`.
    SubjectMissing,
    /// A logout token with a `nonce` (it would be an ID token).
    NoncePresent,
    /// A security event the verifier acts on whose subject names no session or user of this
    /// provider.
    SubjectUnidentified,
}

impl ClaimError {
    pub const ALL: [ClaimError; 13] = [
        ClaimError::WrongType,
        ClaimError::Malformed,
        ClaimError::WrongIssuer,
        ClaimError::WrongAudience,
        ClaimError::IatMissing,
        ClaimError::IssuedInFuture,
        ClaimError::Expired,
        ClaimError::JtiMissing,
        ClaimError::EventsMissing,
        ClaimError::NotALogout,
        ClaimError::SubjectMissing,
        ClaimError::NoncePresent,
        ClaimError::SubjectUnidentified,
    ];

    /// A short word, for the metric's `outcome` label and the audit event.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::WrongType => "wrong_type",
            ClaimError::Malformed => "claim_type",
            ClaimError::WrongIssuer => "wrong_issuer",
            ClaimError::WrongAudience => "wrong_audience",
            ClaimError::IatMissing => "iat_missing",
            ClaimError::IssuedInFuture => "issued_in_future",
            ClaimError::Expired => "expired",
            ClaimError::JtiMissing => "jti_missing",
            ClaimError::EventsMissing => "events_missing",
            ClaimError::NotALogout => "not_a_logout",
            ClaimError::SubjectMissing => "subject_missing",
            ClaimError::NoncePresent => "nonce_present",
            ClaimError::SubjectUnidentified => "subject_unidentified",
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            ClaimError::WrongType => "the `typ` header names another kind of token",
            ClaimError::Malformed => "a claim has the wrong type",
            ClaimError::WrongIssuer => "`iss` is not this provider's issuer",
            ClaimError::WrongAudience => "`aud` names none of this provider's client ids",
            ClaimError::IatMissing => "`iat` is missing",
            ClaimError::IssuedInFuture => "`iat` is in the future",
            ClaimError::Expired => "the token has expired",
            ClaimError::JtiMissing => "`jti` is missing",
            ClaimError::EventsMissing => "`events` is missing or not a non-empty object",
            ClaimError::NotALogout => {
                "`events` has no http://schemas.openid.net/event/backchannel-logout object"
            }
            ClaimError::SubjectMissing => "neither `sid` nor `sub` is present",
            ClaimError::NoncePresent => "a logout token must not contain `nonce`",
            ClaimError::SubjectUnidentified => {
                "the event's subject names no session or user of this provider"
            }
        }
    }
}

/// Why a token from an identity provider is refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a compact JWS with a JSON header and payload (or too large, or with `crit`).
    Malformed,
    /// `alg` is `none`, symmetric, or unknown.
    AlgorithmNotAllowed,
    /// No key of the provider fits the token's `alg` and `kid`.
    UnknownKey,
    BadSignature,
    Claims(ClaimError),
    /// Its `jti` was accepted before.
    Replayed,
    /// The session or user it names cannot be revoked (an id no check could carry).
    NotRevocable,
}

impl Refusal {
    /// Every refusal, for the metric label sets.
    pub fn all() -> Vec<Refusal> {
        let mut all = vec![
            Refusal::Malformed,
            Refusal::AlgorithmNotAllowed,
            Refusal::UnknownKey,
            Refusal::BadSignature,
            Refusal::Replayed,
            Refusal::NotRevocable,
        ];
        all.extend(ClaimError::ALL.into_iter().map(Refusal::Claims));
        all
    }

    /// The metric's `outcome` label and the audit event's.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::AlgorithmNotAllowed => "algorithm_not_allowed",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::Claims(error) => error.code(),
            Refusal::Replayed => "replayed",
            Refusal::NotRevocable => "not_revocable",
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Refusal::Malformed => "not a signed JWT (compact JWS) the verifier can read",
            Refusal::AlgorithmNotAllowed => {
                "the `alg` is not an asymmetric signature algorithm the verifier supports"
            }
            Refusal::UnknownKey => "no key of this provider fits the token's `alg` and `kid`",
            Refusal::BadSignature => "the signature does not verify with this provider's keys",
            Refusal::Claims(error) => error.describe(),
            Refusal::Replayed => "this `jti` was already used",
            Refusal::NotRevocable => {
                "the session or user it names cannot be revoked (an identifier over 256 bytes)"
            }
        }
    }

    /// The error code of a push delivery's answer (RFC 8935 §2.4): the issuer and audience have
    /// their own, a key or signature the recipient cannot accept is `invalid_key`, anything
    /// else about the SET is `invalid_request`.
    pub fn push_error_code(&self) -> &'static str {
        match self {
            Refusal::Claims(ClaimError::WrongIssuer) => "invalid_issuer",
            Refusal::Claims(ClaimError::WrongAudience) => "invalid_audience",
            Refusal::AlgorithmNotAllowed | Refusal::UnknownKey | Refusal::BadSignature => {
                "invalid_key"
            }
            _ => "invalid_request",
        }
    }
}

/// The metric label sets `(event, outcome)` every provider has from the start: a logout token
/// or a SET refused for each reason, or not stored, or not checkable (no keys); a logout
/// accepted; each SET event kind accepted or not stored; an unknown event ignored.
pub fn metric_label_sets() -> Vec<(&'static str, &'static str)> {
    let mut sets = Vec::new();
    for event in [LOGOUT_LABEL, SET_LABEL] {
        sets.extend(Refusal::all().iter().map(|r| (event, r.code())));
        sets.push((event, OUTCOME_KEYS_UNAVAILABLE));
    }
    sets.push((LOGOUT_LABEL, OUTCOME_ACCEPTED));
    sets.push((LOGOUT_LABEL, OUTCOME_UNAVAILABLE));
    for kind in EventKind::ALL {
        sets.push((kind.label(), OUTCOME_ACCEPTED));
        sets.push((kind.label(), OUTCOME_UNAVAILABLE));
    }
    sets.push((UNKNOWN_EVENT_LABEL, OUTCOME_IGNORED));
    sets
}

/// The metric's `event` label of a logout token.
pub const LOGOUT_LABEL: &str = "backchannel_logout";
/// The metric's `event` label of a SET refused as a whole (its events cannot be trusted).
pub const SET_LABEL: &str = "security_event";
/// The metric's `event` label of a SET event the verifier does not act on.
pub const UNKNOWN_EVENT_LABEL: &str = "other";
pub const OUTCOME_ACCEPTED: &str = "accepted";
pub const OUTCOME_IGNORED: &str = "ignored";
/// The revocation (or the `jti`) could not be stored.
pub const OUTCOME_UNAVAILABLE: &str = "unavailable";
/// The provider's keys could not be fetched.
pub const OUTCOME_KEYS_UNAVAILABLE: &str = "keys_unavailable";

/// What the provider's tokens must carry.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_ids: &'a [String],
}

/// The claims every accepted token has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    /// Until when (unix seconds) the token would be accepted: its `jti` is kept that long (plus
    /// the skew), so a replay is refused by the `jti` or by the dates, never let through.
    pub valid_until: i64,
}

/// A valid logout token: the session (`sid`) or the user (`sub`) it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    pub accepted: Accepted,
    pub sid: Option<String>,
    pub sub: Option<String>,
}

/// Back-Channel Logout 1.0 §2.6 steps 3–6 (after the signature): `typ`, `iss`, `aud`, `iat`,
/// `exp`, `jti`, `events`, `sid`/`sub`, no `nonce`.
pub fn check_logout_token(
    typ: Option<&str>,
    claims: &Claims,
    expected: Expected<'_>,
    now: i64,
) -> Result<Logout, ClaimError> {
    check_typ(typ, &["logout+jwt"])?;
    let accepted = check_common(claims, expected, now)?;
    let events = events_of(claims)?;
    if !events
        .get(BACKCHANNEL_LOGOUT_EVENT)
        .is_some_and(Value::is_object)
    {
        return Err(ClaimError::NotALogout);
    }
    if claims.contains_key("nonce") {
        return Err(ClaimError::NoncePresent);
    }
    let sid = string_claim(claims, "sid")?;
    let sub = string_claim(claims, "sub")?;
    if sid.is_none() && sub.is_none() {
        return Err(ClaimError::SubjectMissing);
    }
    Ok(Logout { accepted, sid, sub })
}

/// `typ` when present (RFC 8725 §3.11 explicit typing): the expected type (with or without the
/// `application/` prefix, case-insensitive, RFC 7515 §4.1.9) or plain `JWT`, which many
/// providers still send. Any other type is another kind of token.
fn check_typ(typ: Option<&str>, wanted: &[&str]) -> Result<(), ClaimError> {
    let Some(typ) = typ else { return Ok(()) };
    let lower = typ.to_ascii_lowercase();
    let bare = lower.strip_prefix("application/").unwrap_or(&lower);
    if bare == "jwt" || wanted.contains(&bare) {
        Ok(())
    } else {
        Err(ClaimError::WrongType)
    }
}

/// The checks logout tokens and SETs share: claim types, `iss`, `aud`, `iat`, `exp` and the
/// window, `jti`.
fn check_common(claims: &Claims, expected: Expected<'_>, now: i64) -> Result<Accepted, ClaimError> {
    warden_core::token::check_claim_types(claims).map_err(|_| ClaimError::Malformed)?;
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(ClaimError::WrongIssuer);
    }
    let wanted = |aud: &str| expected.client_ids.iter().any(|id| id == aud);
    let addressed = match claims.get("aud") {
        Some(Value::String(aud)) => wanted(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(wanted),
        _ => false,
    };
    if !addressed {
        return Err(ClaimError::WrongAudience);
    }
    let dates = warden_core::token::claim_dates(claims).map_err(|_| ClaimError::Malformed)?;
    let valid_until = acceptance_end(dates.iat, dates.exp, now)?;
    let jti = string_claim(claims, "jti")?
        .filter(|jti| !jti.is_empty())
        .ok_or(ClaimError::JtiMissing)?;
    Ok(Accepted { jti, valid_until })
}

/// Until when a token issued at `iat` (expiring at `exp`, if given) is accepted: `exp`, or
/// `iat` + [`WINDOW_WITHOUT_EXP_SECONDS`] without one, never later than `iat` +
/// [`MAX_WINDOW_SECONDS`]. Refused when `iat` is missing or in the future, or that end is past
/// (each with [`CLOCK_SKEW_SECONDS`]).
pub fn acceptance_end(iat: Option<i64>, exp: Option<i64>, now: i64) -> Result<i64, ClaimError> {
    let iat = iat.ok_or(ClaimError::IatMissing)?;
    if iat > now.saturating_add(CLOCK_SKEW_SECONDS) {
        return Err(ClaimError::IssuedInFuture);
    }
    let end = exp
        .unwrap_or_else(|| iat.saturating_add(WINDOW_WITHOUT_EXP_SECONDS))
        .min(iat.saturating_add(MAX_WINDOW_SECONDS));
    if now.saturating_sub(CLOCK_SKEW_SECONDS) >= end {
        return Err(ClaimError::Expired);
    }
    Ok(end)
}

fn events_of(claims: &Claims) -> Result<&Map<String, Value>, ClaimError> {
    match claims.get("events") {
        Some(Value::Object(events)) if !events.is_empty() => Ok(events),
        _ => Err(ClaimError::EventsMissing),
    }
}

/// A claim that must be a string when present (an empty one counts as absent).
fn string_claim(claims: &Claims, name: &str) -> Result<Option<String>, ClaimError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ClaimError::Malformed),
    }
}

/// The security events the verifier acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// CAEP `session-revoked`: the session, or the user when no session is named.
    SessionRevoked,
    /// CAEP `credential-change`: the user.
    CredentialChange,
    /// RISC `account-disabled`: the user.
    AccountDisabled,
    /// RISC `account-purged`: the user.
    AccountPurged,
    /// RISC `sessions-revoked`: the user.
    SessionsRevoked,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::SessionRevoked,
        EventKind::CredentialChange,
        EventKind::AccountDisabled,
        EventKind::AccountPurged,
        EventKind::SessionsRevoked,
    ];

    /// The kind of an event type URI; `None`: not one the verifier acts on (acknowledged and
    /// ignored, RFC 8935 §2.2).
    pub fn of_uri(uri: &str) -> Option<EventKind> {
        if let Some(name) = uri.strip_prefix(CAEP) {
            return match name {
                "session-revoked" => Some(EventKind::SessionRevoked),
                "credential-change" => Some(EventKind::CredentialChange),
                _ => None,
            };
        }
        match uri.strip_prefix(RISC)? {
            "account-disabled" => Some(EventKind::AccountDisabled),
            "account-purged" => Some(EventKind::AccountPurged),
            "sessions-revoked" => Some(EventKind::SessionsRevoked),
            _ => None,
        }
    }

    /// Metric label and audit detail.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::SessionRevoked => "session_revoked",
            EventKind::CredentialChange => "credential_change",
            EventKind::AccountDisabled => "account_disabled",
            EventKind::AccountPurged => "account_purged",
            EventKind::SessionsRevoked => "sessions_revoked",
        }
    }
}

/// What one event asks the verifier to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The provider's session `sid` (its issuer is the provider's).
    Session(String),
    /// Every token of user `sub`.
    User(String),
}

/// A valid SET: the events acted on (in the SET's order) and how many were ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvents {
    pub accepted: Accepted,
    pub actions: Vec<(EventKind, Target)>,
    pub ignored: usize,
}

/// RFC 8417 §2.2 and RFC 8935 §2 (after the signature): `typ`, `iss`, `aud`, `iat`, `exp` (if
/// any), `jti`, a non-empty `events` object whose values are objects; then each event the
/// verifier knows mapped to its target, from the SET's `sub_id` (SSF), else the event's own
/// `subject` member (older CAEP), else the SET's `sid`/`sub` claims.
pub fn check_security_event_token(
    typ: Option<&str>,
    claims: &Claims,
    expected: Expected<'_>,
    now: i64,
) -> Result<SecurityEvents, ClaimError> {
    check_typ(typ, &["secevent+jwt"])?;
    let accepted = check_common(claims, expected, now)?;
    let events = events_of(claims)?;
    let mut actions = Vec::new();
    let mut ignored = 0;
    for (uri, event) in events {
        let Value::Object(event) = event else {
            return Err(ClaimError::EventsMissing);
        };
        let Some(kind) = EventKind::of_uri(uri) else {
            ignored += 1;
            continue;
        };
        let subject = match (claims.get("sub_id"), event.get("subject")) {
            (Some(subject), _) | (None, Some(subject)) => identify(subject, expected.issuer),
            (None, None) => Identified {
                sid: string_claim(claims, "sid")?,
                sub: string_claim(claims, "sub")?,
            },
        };
        let target = match (kind, subject) {
            (EventKind::SessionRevoked, Identified { sid: Some(sid), .. }) => Target::Session(sid),
            (_, Identified { sub: Some(sub), .. }) => Target::User(sub),
            _ => return Err(ClaimError::SubjectUnidentified),
        };
        actions.push((kind, target));
    }
    Ok(SecurityEvents {
        accepted,
        actions,
        ignored,
    })
}

/// The session and user a subject identifier names, when they are this provider's.
#[derive(Debug, Default, PartialEq, Eq)]
struct Identified {
    sid: Option<String>,
    sub: Option<String>,
}

/// RFC 9493 subject identifiers: `opaque` (`id`: the user), `iss_sub` (the user, when `iss` is
/// this provider), `complex` (`user` as before, `session` an `opaque` id: the session). Other
/// formats (`email`, `phone_number`, …) name no user the verifier can revoke by `sub`.
fn identify(subject: &Value, issuer: &str) -> Identified {
    let field = |name: &str| {
        subject
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match subject.get("format").and_then(Value::as_str) {
        Some("opaque") => Identified {
            sid: None,
            sub: field("id"),
        },
        Some("iss_sub") if field("iss").as_deref() == Some(issuer) => Identified {
            sid: None,
            sub: field("sub"),
        },
        Some("complex") => {
            let user = subject
                .get("user")
                .map(|user| identify(user, issuer))
                .unwrap_or_default();
            let session = subject.get("session").and_then(|session| {
                (session.get("format").and_then(Value::as_str) == Some("opaque"))
                    .then(|| session.get("id").and_then(Value::as_str))
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            });
            Identified {
                sid: session,
                sub: user.sub,
            }
        }
        _ => Identified::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISS: &str = "https://idp.example";

    fn expected(ids: &[String]) -> Expected<'_> {
        Expected {
            issuer: ISS,
            client_ids: ids,
        }
    }

    fn ids() -> Vec<String> {
        vec!["api".into(), "other".into()]
    }

    fn claims(value: Value) -> Claims {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn logout() -> Value {
        json!({
            "iss": ISS, "aud": "api", "iat": NOW - 5, "exp": NOW + 115, "jti": "j-1",
            "sid": "s-1", "sub": "alice",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} }
        })
    }

    fn with(mut base: Value, name: &str, value: Value) -> Claims {
        base[name] = value;
        claims(base)
    }

    fn without(base: Value, name: &str) -> Claims {
        let mut map = claims(base);
        map.remove(name);
        map
    }

    fn check(c: &Claims) -> Result<Logout, ClaimError> {
        check_logout_token(None, c, expected(&ids()), NOW)
    }

    #[test]
    fn a_valid_logout_token() {
        let accepted = check(&claims(logout())).unwrap();
        assert_eq!(accepted.sid.as_deref(), Some("s-1"));
        assert_eq!(accepted.sub.as_deref(), Some("alice"));
        assert_eq!(
            accepted.accepted,
            Accepted {
                jti: "j-1".into(),
                valid_until: NOW + 115
            }
        );
        assert!(check(&without(logout(), "sub")).is_ok());
        assert_eq!(check(&without(logout(), "sid")).unwrap().sid, None);
        assert!(check(&with(logout(), "aud", json!(["x", "other"]))).is_ok());
    }

    #[test]
    fn typ_is_logout_jwt_jwt_or_absent() {
        let c = claims(logout());
        for typ in ["logout+jwt", "application/logout+jwt", "JWT", "Logout+JWT"] {
            assert!(
                check_logout_token(Some(typ), &c, expected(&ids()), NOW).is_ok(),
                "{typ}"
            );
        }
        for typ in ["secevent+jwt", "at+jwt", ""] {
            assert_eq!(
                check_logout_token(Some(typ), &c, expected(&ids()), NOW).unwrap_err(),
                ClaimError::WrongType,
                "{typ}"
            );
        }
    }

    #[test]
    fn issuer_must_match_exactly() {
        for iss in [
            json!("https://idp.example/"),
            json!("https://IDP.example"),
            json!(null),
        ] {
            let err = check(&with(logout(), "iss", iss.clone())).unwrap_err();
            assert!(
                matches!(err, ClaimError::WrongIssuer | ClaimError::Malformed),
                "{iss}"
            );
        }
        assert_eq!(
            check(&without(logout(), "iss")).unwrap_err(),
            ClaimError::WrongIssuer
        );
        assert_eq!(
            check(&with(logout(), "iss", json!("https://evil.example"))).unwrap_err(),
            ClaimError::WrongIssuer
        );
    }

    #[test]
    fn audience_must_name_a_client_id() {
        assert_eq!(
            check(&with(logout(), "aud", json!("web"))).unwrap_err(),
            ClaimError::WrongAudience
        );
        assert_eq!(
            check(&with(logout(), "aud", json!([]))).unwrap_err(),
            ClaimError::WrongAudience
        );
        assert_eq!(
            check(&without(logout(), "aud")).unwrap_err(),
            ClaimError::WrongAudience
        );
        assert_eq!(
            check(&with(logout(), "aud", json!(5))).unwrap_err(),
            ClaimError::Malformed
        );
    }

    #[test]
    fn iat_is_required_and_not_in_the_future() {
        assert_eq!(
            check(&without(logout(), "iat")).unwrap_err(),
            ClaimError::IatMissing
        );
        assert_eq!(
            check(&with(logout(), "iat", json!(NOW + CLOCK_SKEW_SECONDS + 1))).unwrap_err(),
            ClaimError::IssuedInFuture
        );
        assert!(check(&with(logout(), "iat", json!(NOW + CLOCK_SKEW_SECONDS))).is_ok());
        assert_eq!(
            check(&with(logout(), "iat", json!("now"))).unwrap_err(),
            ClaimError::Malformed
        );
    }

    #[test]
    fn exp_and_the_window_end_acceptance() {
        assert_eq!(
            check(&with(logout(), "exp", json!(NOW - CLOCK_SKEW_SECONDS))).unwrap_err(),
            ClaimError::Expired
        );
        assert!(check(&with(logout(), "exp", json!(NOW - CLOCK_SKEW_SECONDS + 1))).is_ok());
        // Without exp: an hour after iat.
        assert_eq!(acceptance_end(Some(NOW), None, NOW), Ok(NOW + 3_600));
        assert_eq!(
            acceptance_end(Some(NOW - 3_600 - CLOCK_SKEW_SECONDS), None, NOW),
            Err(ClaimError::Expired)
        );
        // A far exp is cut to a day after iat.
        assert_eq!(
            acceptance_end(Some(NOW), Some(NOW + 10 * 86_400), NOW),
            Ok(NOW + 86_400)
        );
        assert_eq!(
            acceptance_end(Some(NOW - 2 * 86_400), Some(NOW + 86_400), NOW),
            Err(ClaimError::Expired)
        );
        assert_eq!(
            acceptance_end(None, Some(NOW + 5), NOW),
            Err(ClaimError::IatMissing)
        );
    }

    #[test]
    fn jti_is_required() {
        assert_eq!(
            check(&without(logout(), "jti")).unwrap_err(),
            ClaimError::JtiMissing
        );
        assert_eq!(
            check(&with(logout(), "jti", json!(""))).unwrap_err(),
            ClaimError::JtiMissing
        );
        assert_eq!(
            check(&with(logout(), "jti", json!(7))).unwrap_err(),
            ClaimError::Malformed
        );
    }

    #[test]
    fn events_must_hold_the_logout_event_as_an_object() {
        assert_eq!(
            check(&without(logout(), "events")).unwrap_err(),
            ClaimError::EventsMissing
        );
        assert_eq!(
            check(&with(logout(), "events", json!([]))).unwrap_err(),
            ClaimError::EventsMissing
        );
        assert_eq!(
            check(&with(logout(), "events", json!({}))).unwrap_err(),
            ClaimError::EventsMissing
        );
        assert_eq!(
            check(&with(
                logout(),
                "events",
                json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" })
            ))
            .unwrap_err(),
            ClaimError::NotALogout
        );
        assert_eq!(
            check(&with(
                logout(),
                "events",
                json!({ "https://schemas.openid.net/secevent/caep/event-type/session-revoked": {} })
            ))
            .unwrap_err(),
            ClaimError::NotALogout
        );
    }

    #[test]
    fn sid_or_sub_is_required_and_nonce_forbidden() {
        let mut c = without(logout(), "sid");
        c.remove("sub");
        assert_eq!(check(&c).unwrap_err(), ClaimError::SubjectMissing);
        assert_eq!(
            check(&with(logout(), "sid", json!(""))).unwrap().sid,
            None,
            "an empty sid is no sid"
        );
        assert_eq!(
            check(&with(logout(), "sid", json!(12))).unwrap_err(),
            ClaimError::Malformed
        );
        assert_eq!(
            check(&with(logout(), "nonce", json!("n"))).unwrap_err(),
            ClaimError::NoncePresent
        );
    }

    fn set(events: Value) -> Value {
        json!({ "iss": ISS, "aud": "api", "iat": NOW, "jti": "set-1", "events": events })
    }

    fn check_set(c: &Claims) -> Result<SecurityEvents, ClaimError> {
        check_security_event_token(Some("secevent+jwt"), c, expected(&ids()), NOW)
    }

    const SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";

    #[test]
    fn a_session_revoked_event_names_the_session_or_else_the_user() {
        let complex = json!({ "format": "complex",
            "user": { "format": "iss_sub", "iss": ISS, "sub": "alice" },
            "session": { "format": "opaque", "id": "s-9" } });
        let mut c = claims(set(json!({ SESSION_REVOKED: { "event_timestamp": NOW } })));
        c.insert("sub_id".into(), complex);
        let events = check_set(&c).unwrap();
        assert_eq!(
            events.actions,
            vec![(EventKind::SessionRevoked, Target::Session("s-9".into()))]
        );
        assert_eq!(
            events.accepted.valid_until,
            NOW + WINDOW_WITHOUT_EXP_SECONDS
        );

        // The older CAEP shape: the subject inside the event; a user subject revokes the user.
        let c = claims(set(json!({ SESSION_REVOKED: {
            "subject": { "format": "iss_sub", "iss": ISS, "sub": "bob" } } })));
        assert_eq!(
            check_set(&c).unwrap().actions,
            vec![(EventKind::SessionRevoked, Target::User("bob".into()))]
        );
    }

    #[test]
    fn user_events_name_the_user() {
        for (uri, kind) in [
            (
                "https://schemas.openid.net/secevent/caep/event-type/credential-change",
                EventKind::CredentialChange,
            ),
            (
                "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
                EventKind::AccountDisabled,
            ),
            (
                "https://schemas.openid.net/secevent/risc/event-type/account-purged",
                EventKind::AccountPurged,
            ),
            (
                "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
                EventKind::SessionsRevoked,
            ),
        ] {
            let mut c = claims(set(json!({ uri: {} })));
            c.insert(
                "sub_id".into(),
                json!({ "format": "opaque", "id": "carol" }),
            );
            assert_eq!(
                check_set(&c).unwrap().actions,
                vec![(kind, Target::User("carol".into()))],
                "{uri}"
            );
            assert_eq!(EventKind::of_uri(uri), Some(kind));
        }
    }

    #[test]
    fn unknown_events_are_ignored_and_unusable_subjects_refused() {
        let c = claims(set(json!({ "https://example.com/event/other": {} })));
        let events = check_set(&c).unwrap();
        assert_eq!((events.actions.len(), events.ignored), (0, 1));

        for subject in [
            json!({ "format": "email", "email": "a@example.com" }),
            json!({ "format": "iss_sub", "iss": "https://other.example", "sub": "alice" }),
            json!({ "format": "opaque" }),
        ] {
            let mut c = claims(set(json!({ SESSION_REVOKED: {} })));
            c.insert("sub_id".into(), subject.clone());
            assert_eq!(
                check_set(&c).unwrap_err(),
                ClaimError::SubjectUnidentified,
                "{subject}"
            );
        }
        // No subject at all: the SET's own `sub`.
        let mut c = claims(set(json!({ SESSION_REVOKED: {} })));
        assert_eq!(check_set(&c).unwrap_err(), ClaimError::SubjectUnidentified);
        c.insert("sub".into(), json!("dave"));
        assert_eq!(
            check_set(&c).unwrap().actions,
            vec![(EventKind::SessionRevoked, Target::User("dave".into()))]
        );
    }

    #[test]
    fn push_error_codes_follow_rfc_8935() {
        assert_eq!(
            Refusal::Claims(ClaimError::WrongIssuer).push_error_code(),
            "invalid_issuer"
        );
        assert_eq!(
            Refusal::Claims(ClaimError::WrongAudience).push_error_code(),
            "invalid_audience"
        );
        assert_eq!(Refusal::BadSignature.push_error_code(), "invalid_key");
        assert_eq!(Refusal::UnknownKey.push_error_code(), "invalid_key");
        assert_eq!(Refusal::Replayed.push_error_code(), "invalid_request");
        assert_eq!(
            Refusal::Claims(ClaimError::Expired).push_error_code(),
            "invalid_request"
        );
        let codes: Vec<&str> = Refusal::all().iter().map(Refusal::code).collect();
        for (i, code) in codes.iter().enumerate() {
            assert!(!codes[..i].contains(code), "{code} twice");
        }
    }

    #[test]
    fn a_set_is_checked_like_a_logout_token() {
        assert_eq!(
            check_set(&with(
                set(json!({ SESSION_REVOKED: {} })),
                "iss",
                json!("x")
            ))
            .unwrap_err(),
            ClaimError::WrongIssuer
        );
        assert_eq!(
            check_set(&with(
                set(json!({ SESSION_REVOKED: {} })),
                "aud",
                json!("x")
            ))
            .unwrap_err(),
            ClaimError::WrongAudience
        );
        assert_eq!(
            check_set(&without(set(json!({})), "jti")).unwrap_err(),
            ClaimError::JtiMissing
        );
        assert_eq!(
            check_set(&claims(set(json!({})))).unwrap_err(),
            ClaimError::EventsMissing
        );
        assert_eq!(
            check_set(&claims(set(json!({ SESSION_REVOKED: "x" })))).unwrap_err(),
            ClaimError::EventsMissing
        );
        assert_eq!(
            check_security_event_token(
                Some("logout+jwt"),
                &claims(set(json!({ SESSION_REVOKED: {} }))),
                expected(&ids()),
                NOW
            )
            .unwrap_err(),
            ClaimError::WrongType
        );
    }
}
