//! The steps of one local decision, one public core function at a time, in the order
//! `auth::authenticate` takes them: rule, each provider's sources, the token's structure, the
//! keys tried, the claims.

use super::dates::iso8601;
use super::source_label;
use crate::alg::{Algorithm, KeyKind};
use crate::b64;
use crate::config::{Config, PathMatch, Provider, Requirement};

use crate::extract::{self, Extracted};
use crate::flow::Filter;
use crate::jwk::{Jwk, KeySet};
use crate::rules::{self, RuleMatch};
use crate::token::{self, Claims, Requirements};
use crate::Reason;
use serde::Serialize;
use serde_json::{json, Map, Value};

pub(super) struct Trace {
    pub rule: RuleTrace,
    pub providers: Vec<ProviderTrace>,
    /// Whether the matching rule demands a token.
    pub protected: bool,
}

#[derive(Debug, Serialize)]
pub struct RuleTrace {
    /// `matched`, `no_rule` or `rejected`.
    pub verdict: &'static str,
    pub index: Option<usize>,
    #[serde(rename = "match")]
    pub matcher: Option<Value>,
    pub requires_any: Vec<String>,
    /// Every reading of the path an upstream may make, with the rule each falls under.
    pub readings: Vec<Value>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SourceTrace {
    pub source: String,
    /// How many copies of it the request holds (in every spelling the upstream reads alike).
    pub copies: usize,
    /// `absent`, `empty`, `present` or `duplicate`.
    pub state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ProviderTrace {
    pub name: String,
    pub sources: Vec<SourceTrace>,
    /// `found`, `empty`, `duplicate` or `missing`.
    pub extracted: &'static str,
    pub token_source: Option<String>,
    pub token: Option<TokenTrace>,
    /// `allowed`, `denied`, `skipped` (no token in its sources), `empty` (a source with an
    /// empty value), or `not_tried` (an earlier provider already verified the token).
    pub outcome: &'static str,
    pub reason: Option<String>,
    /// The step this provider stopped at.
    pub stage: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub struct TokenTrace {
    pub bytes: usize,
    pub max_token_bytes: usize,
    /// Decoded for display only, before any check.
    pub header: Option<Value>,
    pub claims: Option<Value>,
    /// The structural check (`token::decode`): `ok` or a reason.
    pub structure: String,
    pub alg: Option<String>,
    pub kid: Option<String>,
    /// Where the keys come from: `local_jwks`, `remote_jwks` or `remote_jwks (no keys)`.
    pub key_source: String,
    pub keys: Vec<KeyTrace>,
    /// `Decoded::verify_signature`: `ok` or a reason.
    pub signature: Option<String>,
    pub claim_checks: Vec<ClaimCheck>,
    /// `token::check_claims`: `ok` or a reason.
    pub claims_verdict: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeyTrace {
    pub kid: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub alg: Option<&'static str>,
    /// Whether it was a candidate for the token (same `kid` or none, fits the `alg`).
    pub candidate: bool,
    pub why_not: Option<String>,
    /// For a candidate: `valid` or `invalid`.
    pub result: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct ClaimCheck {
    pub claim: &'static str,
    pub value: Option<Value>,
    /// The value as a date, for time claims.
    pub date: Option<String>,
    /// What is demanded, for a person.
    pub check: String,
    /// `pass`, `fail` or `absent` (an optional claim not present).
    pub verdict: &'static str,
    pub reason: Option<String>,
}

pub(super) fn trace(filter: &Filter, headers: &[(String, String)], now: i64) -> Trace {
    let config = &filter.config;
    let path = extract::header(headers, ":path").unwrap_or("/");
    let readings: Vec<Value> = rules::readings_with_rules(&config.rules, path)
        .unwrap_or_default()
        .into_iter()
        .map(|(reading, rule)| json!({"path": reading, "rule": rule}))
        .collect();
    let (mut rule, chosen) = match rules::match_path(&config.rules, path) {
        RuleMatch::Rule(r) => {
            let index = config.rules.iter().position(|x| std::ptr::eq(x, r));
            (
                rule_trace("matched", index, Some(r), config, readings),
                Some(r),
            )
        }
        RuleMatch::NoRule => (rule_trace("no_rule", None, None, config, readings), None),
        RuleMatch::Rejected => {
            let mut t = rule_trace("rejected", None, None, config, readings);
            t.note = Some(if t.readings.is_empty() {
                "the path holds bytes no reading should carry (control characters, a fragment, \
                 malformed or overlong percent-encoding, an escape still there after two decodings)"
                    .to_string()
            } else {
                "upstreams could read this path under different rules: refused with 400".to_string()
            });
            (t, None)
        }
    };
    let Some(chosen) = chosen else {
        return Trace {
            rule,
            providers: Vec::new(),
            protected: false,
        };
    };
    let Some(requirement) = &chosen.requires else {
        rule.note = Some("this rule needs no token".to_string());
        return Trace {
            rule,
            providers: Vec::new(),
            protected: false,
        };
    };
    if !matches!(requirement, Requirement::Provider(_))
        && !matches!(requirement, Requirement::Any { of, allow: None }
            if of.iter().all(|r| matches!(r, Requirement::Provider(_))))
    {
        rule.note = Some(
            "the providers below are tried one by one; the decision follows the rule's whole \
             requirement (requires_all, allow_missing...)"
                .to_string(),
        );
    }
    let mut providers = Vec::new();
    let mut done = false;
    for idx in requirement.providers(config.providers.len()) {
        let Some(provider) = config.providers.get(idx) else {
            continue;
        };
        if done {
            providers.push(ProviderTrace {
                name: provider.name.clone(),
                sources: Vec::new(),
                extracted: "missing",
                token_source: None,
                token: None,
                outcome: "not_tried",
                reason: None,
                stage: "extract",
            });
            continue;
        }
        let t = provider_trace(filter, idx, provider, headers, now);
        done = t.outcome == "allowed";
        providers.push(t);
    }
    Trace {
        rule,
        providers,
        protected: true,
    }
}

fn rule_trace(
    verdict: &'static str,
    index: Option<usize>,
    rule: Option<&crate::config::Rule>,
    config: &Config,
    readings: Vec<Value>,
) -> RuleTrace {
    RuleTrace {
        verdict,
        index,
        matcher: rule.map(|r| match &r.matcher {
            PathMatch::Prefix(p) => json!({"prefix": p}),
            PathMatch::Exact(p) => json!({"path": p}),
        }),
        requires_any: rule
            .and_then(|r| r.requires.as_ref())
            .map(|r| {
                r.providers(config.providers.len())
                    .iter()
                    .filter_map(|&i| config.providers.get(i).map(|p| p.name.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        readings,
        note: None,
    }
}

fn provider_trace(
    filter: &Filter,
    idx: usize,
    provider: &Provider,
    headers: &[(String, String)],
    now: i64,
) -> ProviderTrace {
    let sources = provider
        .sources
        .iter()
        .map(|s| {
            let values = s.values(headers);
            let state = match values.as_slice() {
                [] => "absent",
                [one] if one.trim().is_empty() => "empty",
                [_] => "present",
                _ => "duplicate",
            };
            SourceTrace {
                source: source_label(s),
                copies: values.len(),
                state,
            }
        })
        .collect();
    let mut out = ProviderTrace {
        name: provider.name.clone(),
        sources,
        extracted: "missing",
        token_source: None,
        token: None,
        outcome: "skipped",
        reason: None,
        stage: "extract",
    };
    match extract::extract(&provider.sources, headers) {
        Extracted::Found(token, source) => {
            out.extracted = "found";
            out.token_source = provider.sources.get(source).map(source_label);
            let (token_trace, result) = token_trace(filter, idx, provider, token, now);
            out.token = Some(token_trace);
            match result {
                Ok(()) => {
                    out.outcome = "allowed";
                    out.stage = "claims";
                }
                Err((stage, reason)) => {
                    out.outcome = "denied";
                    out.reason = Some(reason.as_str().to_string());
                    out.stage = stage;
                }
            }
        }
        Extracted::Duplicate => {
            out.extracted = "duplicate";
            out.outcome = "denied";
            out.reason = Some(Reason::TokenMalformed.as_str().to_string());
        }
        Extracted::Empty => {
            // Counts as a malformed token unless another provider decides.
            out.extracted = "empty";
            out.outcome = "empty";
            out.reason = Some(Reason::TokenMalformed.as_str().to_string());
        }
        Extracted::Missing => {}
    }
    out
}

type Stopped = (&'static str, Reason);

/// The steps of `auth::verify_with` for a fresh token (the explain filter has an empty cache).
fn token_trace(
    filter: &Filter,
    idx: usize,
    provider: &Provider,
    token: &str,
    now: i64,
) -> (TokenTrace, Result<(), Stopped>) {
    let req = &provider.requirements;
    let mut t = TokenTrace {
        bytes: token.len(),
        max_token_bytes: req.max_token_bytes,
        ..TokenTrace::default()
    };
    let mut parts = token.split('.');
    let segment = |s: Option<&str>| {
        s.and_then(b64::decode)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    };
    t.header = segment(parts.next());
    t.claims = segment(parts.next());
    if token.len() > req.max_token_bytes {
        t.structure = Reason::TokenTooLarge.as_str().to_string();
        return (t, Err(("token", Reason::TokenTooLarge)));
    }
    let decoded = match token::decode(token, req) {
        Ok(d) => d,
        Err(reason) => {
            t.structure = reason.as_str().to_string();
            return (t, Err(("token", reason)));
        }
    };
    t.structure = "ok".to_string();
    t.alg = Some(decoded.alg.name().to_string());
    t.kid = decoded.kid.clone();
    let remote = filter.keys.is_remote(idx);
    let keys = filter.keys.keys(&filter.config, idx);
    t.key_source = match (remote, keys) {
        (false, _) => "local_jwks",
        (true, Some(_)) => "remote_jwks",
        (true, None) => "remote_jwks (no keys: paste the document)",
    }
    .to_string();
    let Some(keys) = keys else {
        return (t, Err(("key", Reason::KeyNotFound)));
    };
    t.keys = key_traces(keys, decoded.alg, decoded.kid.as_deref(), token);
    let claims = match decoded.verify_signature(keys) {
        Ok(c) => c,
        Err(reason) => {
            t.signature = Some(reason.as_str().to_string());
            let stage = match reason {
                Reason::KeyNotFound => "key",
                Reason::SignatureInvalid => "signature",
                _ => "token",
            };
            return (t, Err((stage, reason)));
        }
    };
    t.signature = Some("ok".to_string());
    t.claim_checks = claim_checks(&claims, req, now);
    match token::check_claims(&claims, req, now) {
        Ok(()) => {
            t.claims_verdict = Some("ok".to_string());
            (t, Ok(()))
        }
        Err(reason) => {
            t.claims_verdict = Some(reason.as_str().to_string());
            (t, Err(("claims", reason)))
        }
    }
}

/// Every key of the set: whether it was a candidate (`KeySet::candidates`) and, if so, what
/// `KeyMaterial::verify` said of the signature with it.
fn key_traces(keys: &KeySet, alg: Algorithm, kid: Option<&str>, token: &str) -> Vec<KeyTrace> {
    let signing_input = token.rsplit_once('.').map(|(input, _)| input).unwrap_or("");
    let signature = token
        .rsplit_once('.')
        .and_then(|(_, sig)| b64::decode(sig))
        .unwrap_or_default();
    let candidates: Vec<*const Jwk> = keys.candidates(alg, kid).map(|k| k as *const Jwk).collect();
    keys.keys
        .iter()
        .map(|key| {
            let candidate = candidates.contains(&(key as *const Jwk));
            let why_not = if candidate {
                None
            } else if kid.is_some() && key.kid.is_some() && key.kid.as_deref() != kid {
                Some(format!(
                    "kid differs from the token's {:?}",
                    kid.unwrap_or("")
                ))
            } else if key.material.kind() != alg.key_kind() {
                Some(format!(
                    "a {} key cannot verify {}",
                    kind_name(key.material.kind()),
                    alg.name()
                ))
            } else if key.alg.is_some_and(|pinned| pinned != alg) {
                Some("the key is pinned to another alg".to_string())
            } else {
                Some(format!("too short for {}", alg.name()))
            };
            let result = candidate.then(|| {
                if !signature.is_empty()
                    && key
                        .material
                        .verify(alg, signing_input.as_bytes(), &signature)
                {
                    "valid"
                } else {
                    "invalid"
                }
            });
            KeyTrace {
                kid: key.kid.clone(),
                kind: kind_name(key.material.kind()),
                alg: key.alg.map(Algorithm::name),
                candidate,
                why_not,
                result,
            }
        })
        .collect()
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Hmac => "oct",
        KeyKind::Rsa => "RSA",
        KeyKind::EcP256 => "EC P-256",
        KeyKind::EcP384 => "EC P-384",
        KeyKind::EcP521 => "EC P-521",
        KeyKind::Ed25519 => "OKP Ed25519",
    }
}

/// A key as the configuration summary shows it.
pub(super) fn key_summary(key: &Jwk) -> Value {
    json!({"kid": key.kid, "type": kind_name(key.material.kind()), "alg": key.alg.map(Algorithm::name)})
}

/// Each claim check on its own: `token::check_claims` run over the one claim, with only the
/// requirement that concerns it, so each verdict is the filter's own judgement of that claim.
fn claim_checks(claims: &Claims, req: &Requirements, now: i64) -> Vec<ClaimCheck> {
    let skew = req.clock_skew_seconds;
    let base = Requirements {
        issuer: None,
        audiences: Vec::new(),
        algorithms: None,
        clock_skew_seconds: skew,
        require_expiration: false,
        max_token_bytes: req.max_token_bytes,
    };
    let mut checks = Vec::new();
    let mut check = |claim: &'static str, text: String, demand: Requirements, required: bool| {
        let value = claims.get(claim).cloned();
        let mut only = Map::new();
        if let Some(v) = &value {
            only.insert(claim.to_string(), v.clone());
        }
        let result = token::check_claims(&only, &demand, now);
        let date = value
            .as_ref()
            .and_then(Value::as_i64)
            .filter(|_| matches!(claim, "exp" | "nbf" | "iat"));
        let verdict = match (&result, &value) {
            (Err(_), _) => "fail",
            (Ok(()), None) if !required => "absent",
            (Ok(()), _) => "pass",
        };
        checks.push(ClaimCheck {
            claim,
            value,
            date: date.map(iso8601),
            check: text,
            verdict,
            reason: result.err().map(|r| r.as_str().to_string()),
        });
    };
    let exp_demand = Requirements {
        require_expiration: req.require_expiration,
        ..base.clone()
    };
    let required = if req.require_expiration {
        "required; "
    } else {
        ""
    };
    check(
        "exp",
        format!("{required}now − {skew}s skew < exp (now {})", iso8601(now)),
        exp_demand,
        req.require_expiration,
    );
    check(
        "nbf",
        format!("nbf ≤ now + {skew}s skew"),
        base.clone(),
        false,
    );
    check(
        "iat",
        format!("iat ≤ now + {skew}s skew"),
        base.clone(),
        false,
    );
    if let Some(issuer) = &req.issuer {
        let demand = Requirements {
            issuer: Some(issuer.clone()),
            ..base.clone()
        };
        check("iss", format!("equals {issuer:?}"), demand, true);
    }
    if !req.audiences.is_empty() {
        let demand = Requirements {
            audiences: req.audiences.clone(),
            ..base.clone()
        };
        check(
            "aud",
            format!("names one of {:?}", req.audiences),
            demand,
            true,
        );
    }
    for name in ["sub", "jti", "sid"] {
        check(
            name,
            "a string, if present".to_string(),
            base.clone(),
            false,
        );
    }
    check(
        "ver",
        "an unsigned integer, if present".to_string(),
        base,
        false,
    );
    checks
}
