//! The filter's local decision for one request, independent of the proxy: which rule applies and
//! which provider's token verifies. What is forwarded is `forward`'s business, what the verifier
//! is asked `protocol`'s.

use crate::cache::{TokenCache, Verified};
use crate::config::{Config, Provider};
use crate::extract::{self, Extracted, Headers};
use crate::keystore::KeyStore;
use crate::rules::{self, RuleMatch};
use crate::subjects;
use crate::token::{self, Claims, Dates};
use crate::Reason;
use std::rc::Rc;

#[derive(Debug)]
pub enum Outcome {
    /// No rule matched, or the matching rule needs no token.
    Unprotected,
    Allowed(Allowed),
    Denied(Reason),
    /// Provider `0`'s remote key set lacks the token's `kid` (or is not loaded yet):
    /// fetch it if allowed, then evaluate again.
    NeedKeys(usize),
}

#[derive(Debug)]
pub struct Allowed {
    pub provider: usize,
    pub claims: Rc<Claims>,
    /// Which of the provider's token sources held the token.
    pub source: usize,
    /// Every provider the matching rule accepts: an unverified token in any of their sources
    /// is taken out before forwarding.
    pub rule_providers: Vec<usize>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheUse {
    pub hits: u32,
    pub misses: u32,
}

/// Everything one local decision reads (and the token cache it fills).
pub struct Authenticator<'a> {
    pub config: &'a Config,
    pub keys: &'a KeyStore,
    pub cache: &'a mut TokenCache,
    pub now: i64,
    /// Whether a missing remote key may still be fetched for this request.
    pub may_fetch_keys: bool,
}

pub fn authenticate(ctx: &mut Authenticator<'_>, headers: &Headers) -> (Outcome, CacheUse) {
    let mut used = CacheUse::default();
    let path = extract::header(headers, ":path").unwrap_or("/");
    let rule = match rules::match_path(&ctx.config.rules, path) {
        RuleMatch::Rule(rule) => rule,
        RuleMatch::NoRule => return (Outcome::Unprotected, used),
        RuleMatch::Rejected => return (Outcome::Denied(Reason::PathRejected), used),
    };
    if rule.requires_any.is_empty() {
        return (Outcome::Unprotected, used);
    }
    let mut first_failure: Option<Outcome> = None;
    let mut saw_empty = false;
    for &idx in &rule.requires_any {
        let Some(provider) = ctx.config.providers.get(idx) else {
            continue;
        };
        let outcome = match extract::extract(&provider.sources, headers) {
            Extracted::Found(token, source) => verify_with(ctx, idx, token, source, &mut used),
            // Two copies of the token: the upstream might read the one not verified here.
            Extracted::Duplicate => Outcome::Denied(Reason::TokenMalformed),
            Extracted::Empty => {
                saw_empty = true;
                continue;
            }
            Extracted::Missing => continue,
        };
        if let Outcome::Allowed(mut allowed) = outcome {
            allowed.rule_providers = rule.requires_any.clone();
            return (Outcome::Allowed(allowed), used);
        }
        // A provider that may still verify the token once its keys are fetched outranks a refusal.
        match (&first_failure, &outcome) {
            (None, _) | (Some(Outcome::Denied(_)), Outcome::NeedKeys(_)) => {
                first_failure = Some(outcome)
            }
            _ => {}
        }
    }
    let outcome = first_failure.unwrap_or(Outcome::Denied(if saw_empty {
        Reason::TokenMalformed
    } else {
        Reason::TokenMissing
    }));
    (outcome, used)
}

fn verify_with(
    ctx: &mut Authenticator<'_>,
    idx: usize,
    token: &str,
    source: usize,
    used: &mut CacheUse,
) -> Outcome {
    let Some(provider) = ctx.config.providers.get(idx) else {
        return Outcome::Denied(Reason::KeyNotFound);
    };
    let req = &provider.requirements;
    if token.len() > req.max_token_bytes {
        return Outcome::Denied(Reason::TokenTooLarge);
    }
    let generation = ctx.keys.generation();
    if let Some(hit) = ctx.cache.get(idx, token, generation) {
        used.hits += 1;
        // The rest of `check_claims` passed when the token was cached and cannot change.
        let dates = token::check_dates(&hit.dates, req, ctx.now).and_then(|()| {
            token::check_lifetime(&hit.dates, provider.max_lifetime_seconds, ctx.now)
        });
        return match dates {
            Ok(()) => Outcome::Allowed(Allowed {
                provider: idx,
                claims: hit.claims,
                source,
                rule_providers: Vec::new(),
            }),
            Err(reason) => Outcome::Denied(reason),
        };
    }
    used.misses += 1;
    let decoded = match token::decode(token, req) {
        Ok(d) => d,
        Err(reason) => return Outcome::Denied(reason),
    };
    let keys = ctx.keys.keys(ctx.config, idx);
    let kid_unknown = match (keys, decoded.kid.as_deref()) {
        (None, _) => true,
        (Some(set), Some(kid)) => !set.has_kid(kid),
        (Some(_), None) => false,
    };
    if kid_unknown && ctx.keys.is_remote(idx) && ctx.may_fetch_keys {
        return Outcome::NeedKeys(idx);
    }
    let Some(keys) = keys else {
        return Outcome::Denied(Reason::KeyNotFound);
    };
    let claims = match decoded.verify_signature_with(keys, ctx.keys.signature_backends()) {
        Ok(c) => Rc::new(c),
        Err(reason) => return Outcome::Denied(reason),
    };
    if let Err(reason) = token::check_claims(&claims, req, ctx.now) {
        return Outcome::Denied(reason);
    }
    // `check_claims` just read the dates, so this cannot fail; a token it would refuse is
    // refused anyway rather than cached without its dates.
    let Ok(dates) = token::claim_dates(&claims) else {
        return Outcome::Denied(Reason::TokenMalformed);
    };
    if let Err(reason) = provider_claims(provider, &claims, &dates, ctx.now) {
        return Outcome::Denied(reason);
    }
    let verified = Verified {
        claims: claims.clone(),
        dates,
    };
    ctx.cache.insert(idx, token, verified, generation);
    Outcome::Allowed(Allowed {
        provider: idx,
        claims,
        source,
        rule_providers: Vec::new(),
    })
}

/// The provider's own demands past `check_claims`: `subjects` and `max_lifetime_seconds`.
pub fn provider_claims(
    provider: &Provider,
    claims: &Claims,
    dates: &Dates,
    now: i64,
) -> Result<(), Reason> {
    let sub = claims.get("sub").and_then(|v| v.as_str());
    subjects::check_subject(provider.subjects.as_ref(), sub)?;
    token::check_lifetime(dates, provider.max_lifetime_seconds, now)
}
