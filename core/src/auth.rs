//! The filter's local decision for one request, independent of the proxy: which requirement
//! applies (route metadata, path rules, filter state) and whether the request's tokens meet it.
//! What is forwarded is `forward`'s business, what the verifier is asked `protocol`'s.
//!
//! Requirements are evaluated as Envoy's jwt_authn evaluates them (its `verifier.cc` and
//! `authenticator.cc`), synchronously, children in order:
//! - a provider: its token (the first of its sources holding one) must verify; a token whose
//!   `iss` is not the provider's issuer fails as `issuer_mismatch` before any key is looked at;
//! - `requires_any`: the first child that passes wins and later ones are not evaluated; when
//!   none passes, the error is the last child's that is neither "missing" nor
//!   `issuer_mismatch`, else `issuer_mismatch`, else `token_missing`. `allow_missing` members
//!   turn a final `token_missing` into a pass, `allow_missing_or_failed` any final error;
//! - `requires_all`: every child must pass; the first that does not decides;
//! - `allow_missing` / `allow_missing_or_failed` alone: every token of any provider's sources,
//!   each verified by the provider its `iss` names (the first provider with that issuer
//!   reading that source, else the first without an issuer); no token passes, a failing one
//!   fails (`allow_missing`) or is set aside (`allow_missing_or_failed`).
//!
//! A child that needs a remote key set does not stop a list: a later child that passes still
//! wins, a later failure of `requires_all` still decides; otherwise the keys are fetched and the
//! whole requirement evaluated again.

use crate::cache::{TokenCache, Verified};
use crate::config::{Allow, Config, Requirement};
use crate::extract::{self, Extracted, Headers};
use crate::keystore::KeyStore;
use crate::route::RouteChoice;
use crate::rules::{self, RuleMatch};
use crate::token::{self, Claims};
use crate::Reason;
use std::fmt;
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

/// A token that verified and that the decision used.
#[derive(Debug, Clone)]
pub struct UsedToken {
    pub provider: usize,
    pub claims: Rc<Claims>,
    /// Which of the provider's token sources held the token.
    pub source: usize,
}

#[derive(Debug)]
pub struct Allowed {
    /// The tokens the requirement used, in the order they verified, each (provider, source)
    /// once. Empty when `allow_missing*` let a request through without a usable token.
    pub tokens: Vec<UsedToken>,
    /// Every provider whose sources the requirement reads: any token in them that is not a used
    /// token of a forwarding provider is taken out before forwarding.
    pub rule_providers: Vec<usize>,
}

impl Allowed {
    /// The first token used (the one whose provider `warden.provider` names).
    pub fn primary(&self) -> Option<&UsedToken> {
        self.tokens.first()
    }
}

/// Which requirement applied, as logs and `warden.report_only` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// `rules[i]`, with its `enforce`.
    Rule { index: usize, enforce: bool },
    /// `requirements.NAME`, selected by the route's metadata.
    Requirement(String),
    /// `filter_state_rules.requires.VALUE`.
    FilterState(String),
}

impl Applied {
    pub fn enforce(&self) -> bool {
        match self {
            Applied::Rule { enforce, .. } => *enforce,
            Applied::Requirement(_) | Applied::FilterState(_) => true,
        }
    }

    /// The short name for `warden.report_only`: `rules[i]`, `NAME`, or
    /// `filter_state_rules.VALUE`.
    pub fn label(&self) -> String {
        match self {
            Applied::Rule { index, .. } => format!("rules[{index}]"),
            Applied::Requirement(name) => name.clone(),
            Applied::FilterState(value) => format!("filter_state_rules.{value}"),
        }
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Applied::Rule { index, .. } => write!(f, "rule rules[{index}]"),
            Applied::Requirement(name) => write!(f, "requirement {name}"),
            Applied::FilterState(value) => write!(f, "filter_state_rules {value}"),
        }
    }
}

#[derive(Debug)]
pub struct Decision {
    pub outcome: Outcome,
    pub used: CacheUse,
    /// The rule or requirement that applied (`None`: none did; the request is unprotected or
    /// its path rejected).
    pub applied: Option<Applied>,
    /// When denied: the provider whose token's failure decided it (`None` for a missing token).
    pub failed_provider: Option<usize>,
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

/// A token refused after it verified locally (by the verifier, or for want of its answer): the
/// requirement is evaluated again with that token failing for this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub provider: usize,
    pub source: usize,
    pub reason: Reason,
}

/// What one decision reads besides the headers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inputs<'a> {
    /// From the route's metadata; `None` reads as [`RouteChoice::PathRules`].
    pub route: Option<&'a RouteChoice>,
    /// The value of filter state `filter_state_rules.name`, when the host has one.
    pub filter_state: Option<&'a str>,
    pub refused: &'a [Refused],
}

/// The decision by path rules alone, with nothing refused.
pub fn authenticate(ctx: &mut Authenticator<'_>, headers: &Headers) -> (Outcome, CacheUse) {
    let d = decide(ctx, headers, Inputs::default());
    (d.outcome, d.used)
}

pub fn decide(ctx: &mut Authenticator<'_>, headers: &Headers, inputs: Inputs<'_>) -> Decision {
    let config = ctx.config;
    let mut decision = Decision {
        outcome: Outcome::Unprotected,
        used: CacheUse::default(),
        applied: None,
        failed_provider: None,
    };
    let (requirement, applied) = match inputs.route.unwrap_or(&RouteChoice::PathRules) {
        RouteChoice::Disabled => return decision,
        RouteChoice::Requirement(name) => {
            let applied = Applied::Requirement(name.clone());
            match config.requirement(name) {
                Some(r) => (r, applied),
                None => {
                    decision.applied = Some(applied);
                    decision.outcome = Outcome::Denied(Reason::RequirementUnknown);
                    return decision;
                }
            }
        }
        RouteChoice::PathRules => {
            let path = extract::header(headers, ":path").unwrap_or("/");
            match rules::match_path(&config.rules, path) {
                RuleMatch::Rule(rule) => {
                    let Some(r) = &rule.requires else {
                        return decision;
                    };
                    let index = config
                        .rules
                        .iter()
                        .position(|x| std::ptr::eq(x, rule))
                        .unwrap_or_default();
                    let enforce = rule.enforce;
                    (r, Applied::Rule { index, enforce })
                }
                RuleMatch::NoRule => {
                    let chosen = config.filter_state_rules.as_ref().and_then(|f| {
                        let value = inputs.filter_state?;
                        f.requires.iter().find(|(v, _)| v == value)
                    });
                    match chosen {
                        Some((value, r)) => (r, Applied::FilterState(value.clone())),
                        None => return decision,
                    }
                }
                RuleMatch::Rejected => {
                    decision.outcome = Outcome::Denied(Reason::PathRejected);
                    return decision;
                }
            }
        }
    };
    decision.applied = Some(applied);
    let mut eval = Evaluation {
        ctx,
        headers,
        refused: inputs.refused,
        used: CacheUse::default(),
    };
    let status = eval.requirement(requirement);
    decision.used = eval.used;
    decision.outcome = match status {
        Status::Pass(found) => {
            let mut tokens: Vec<UsedToken> = Vec::with_capacity(found.len());
            for t in found {
                if !tokens
                    .iter()
                    .any(|u| u.provider == t.provider && u.source == t.source)
                {
                    tokens.push(t);
                }
            }
            Outcome::Allowed(Allowed {
                tokens,
                rule_providers: requirement.providers(config.providers.len()),
            })
        }
        Status::Missing => Outcome::Denied(Reason::TokenMissing),
        Status::Failed(f) => {
            decision.failed_provider = f.provider;
            Outcome::Denied(f.reason)
        }
        Status::NeedKeys(p) => Outcome::NeedKeys(p),
    };
    decision
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    reason: Reason,
    provider: Option<usize>,
}

/// jwt_authn's statuses: `Ok`, `JwtMissed`, any other error (its `JwtUnknownIssuer` is our
/// `issuer_mismatch`), plus the wait for a key set.
#[derive(Debug)]
enum Status {
    Pass(Vec<UsedToken>),
    Missing,
    Failed(Failure),
    NeedKeys(usize),
}

fn failed(reason: Reason, provider: Option<usize>) -> Status {
    Status::Failed(Failure { reason, provider })
}

struct Evaluation<'c, 'a, 'h> {
    ctx: &'c mut Authenticator<'a>,
    headers: &'h Headers,
    refused: &'h [Refused],
    used: CacheUse,
}

impl Evaluation<'_, '_, '_> {
    fn requirement(&mut self, r: &Requirement) -> Status {
        match r {
            Requirement::Provider(p) => self.provider(*p),
            Requirement::Any { of, allow } => self.any(of, *allow),
            Requirement::All(of) => self.all(of),
            Requirement::Allow(allow) => self.allow(*allow),
        }
    }

    fn any(&mut self, of: &[Requirement], allow: Option<Allow>) -> Status {
        // `None` is jwt_authn's `JwtMissed`.
        let mut last: Option<Failure> = None;
        let mut need_keys = None;
        for child in of {
            match self.requirement(child) {
                Status::Pass(tokens) => return Status::Pass(tokens),
                Status::NeedKeys(p) => {
                    need_keys.get_or_insert(p);
                }
                Status::Missing => {}
                Status::Failed(f) => {
                    if f.reason != Reason::IssuerMismatch || last.is_none() {
                        last = Some(f);
                    }
                }
            }
        }
        if let Some(p) = need_keys {
            return Status::NeedKeys(p);
        }
        match (allow, last) {
            (Some(Allow::MissingOrFailed), _) | (Some(Allow::Missing), None) => {
                Status::Pass(Vec::new())
            }
            (_, None) => Status::Missing,
            (_, Some(f)) => Status::Failed(f),
        }
    }

    fn all(&mut self, of: &[Requirement]) -> Status {
        let mut tokens = Vec::new();
        let mut need_keys = None;
        for child in of {
            match self.requirement(child) {
                Status::Pass(t) => tokens.extend(t),
                Status::NeedKeys(p) => {
                    need_keys.get_or_insert(p);
                }
                other => return other,
            }
        }
        match need_keys {
            Some(p) => Status::NeedKeys(p),
            None => Status::Pass(tokens),
        }
    }

    fn refusal(&self, provider: usize, source: usize) -> Option<Reason> {
        self.refused
            .iter()
            .find(|r| r.provider == provider && r.source == source)
            .map(|r| r.reason)
    }

    fn provider(&mut self, p: usize) -> Status {
        let Some(provider) = self.ctx.config.providers.get(p) else {
            return failed(Reason::KeyNotFound, Some(p));
        };
        match extract::extract(&provider.sources, self.headers) {
            Extracted::Found(token, source) => {
                if let Some(reason) = self.refusal(p, source) {
                    return failed(reason, Some(p));
                }
                self.verify(p, token, source, true)
            }
            // Two copies of the token: the upstream might read the one not verified here.
            Extracted::Duplicate | Extracted::Empty => failed(Reason::TokenMalformed, Some(p)),
            Extracted::Missing => Status::Missing,
        }
    }

    /// `allow_missing` / `allow_missing_or_failed` on their own: every token in any provider's
    /// sources, each verified by the provider its issuer picks.
    fn allow(&mut self, allow: Allow) -> Status {
        let config = self.ctx.config;
        let mut tokens = Vec::new();
        let mut first_failure: Option<Failure> = None;
        let mut need_keys = None;
        let mut seen: Vec<&crate::config::TokenSource> = Vec::new();
        for provider in &config.providers {
            for source in &provider.sources {
                if seen.contains(&source) {
                    continue;
                }
                seen.push(source);
                let values = source.values(self.headers);
                let status = match values.as_slice() {
                    [] => continue,
                    [one] if !one.trim().is_empty() => self.by_issuer(source, one.trim()),
                    _ => failed(Reason::TokenMalformed, None),
                };
                match status {
                    Status::Pass(t) => tokens.extend(t),
                    Status::NeedKeys(p) => {
                        need_keys.get_or_insert(p);
                    }
                    Status::Failed(f) => {
                        first_failure.get_or_insert(f);
                    }
                    Status::Missing => {}
                }
            }
        }
        if let Some(p) = need_keys {
            return Status::NeedKeys(p);
        }
        match (allow, first_failure) {
            (Allow::Missing, Some(f)) => Status::Failed(f),
            _ => Status::Pass(tokens),
        }
    }

    /// jwt_authn's `findByIssuer`, limited to the providers that read `source`: the first with the
    /// token's issuer, else the first without an issuer.
    fn by_issuer(&mut self, source: &crate::config::TokenSource, token: &str) -> Status {
        let config = self.ctx.config;
        let issuer = token::unverified_issuer(token);
        let readers = config.providers.iter().enumerate().filter_map(|(i, p)| {
            let at = p.sources.iter().position(|s| s == source)?;
            Some((i, at, p.requirements.issuer.as_deref()))
        });
        let mut fallback = None;
        let mut chosen = None;
        for (i, at, want) in readers {
            match want {
                Some(want) if issuer.as_deref() == Some(want) => {
                    chosen = Some((i, at));
                    break;
                }
                None if fallback.is_none() => fallback = Some((i, at)),
                _ => {}
            }
        }
        let Some((p, at)) = chosen.or(fallback) else {
            return failed(Reason::IssuerMismatch, None);
        };
        if let Some(reason) = self.refusal(p, at) {
            return failed(reason, Some(p));
        }
        // The issuer picked the provider, so it need not be compared again before the keys.
        self.verify(p, token, at, false)
    }

    fn verify(&mut self, idx: usize, token: &str, source: usize, check_issuer: bool) -> Status {
        match verify_with(self.ctx, idx, token, source, &mut self.used, check_issuer) {
            Ok(t) => Status::Pass(vec![t]),
            Err(Some(reason)) => failed(reason, Some(idx)),
            Err(None) => Status::NeedKeys(idx),
        }
    }
}

/// One token against one provider: `Err(None)` when the provider's remote keys must be fetched
/// first.
fn verify_with(
    ctx: &mut Authenticator<'_>,
    idx: usize,
    token: &str,
    source: usize,
    used: &mut CacheUse,
    check_issuer: bool,
) -> Result<UsedToken, Option<Reason>> {
    let Some(provider) = ctx.config.providers.get(idx) else {
        return Err(Some(Reason::KeyNotFound));
    };
    let req = &provider.requirements;
    if token.len() > req.max_token_bytes {
        return Err(Some(Reason::TokenTooLarge));
    }
    let generation = ctx.keys.generation();
    if let Some(hit) = ctx.cache.get(idx, token, generation) {
        used.hits += 1;
        // The rest of `check_claims` passed when the token was cached and cannot change.
        return match token::check_dates(&hit.dates, req, ctx.now) {
            Ok(()) => Ok(UsedToken {
                provider: idx,
                claims: hit.claims,
                source,
            }),
            Err(reason) => Err(Some(reason)),
        };
    }
    used.misses += 1;
    let decoded = token::decode(token, req).map_err(Some)?;
    // jwt_authn refuses a token of another issuer before it looks for keys (`JwtUnknownIssuer`):
    // so `requires_any` does not report another provider's key error, nor fetch its keys, for a
    // token that was never its own. The claims checks compare the verified `iss` again.
    if let (true, Some(want)) = (check_issuer, req.issuer.as_deref()) {
        if token::unverified_issuer(token).is_some_and(|iss| iss != want) {
            return Err(Some(Reason::IssuerMismatch));
        }
    }
    let keys = ctx.keys.keys(ctx.config, idx);
    let kid_unknown = match (keys, decoded.kid.as_deref()) {
        (None, _) => true,
        (Some(set), Some(kid)) => !set.has_kid(kid),
        (Some(_), None) => false,
    };
    if kid_unknown && ctx.keys.is_remote(idx) && ctx.may_fetch_keys {
        return Err(None);
    }
    let Some(keys) = keys else {
        return Err(Some(Reason::KeyNotFound));
    };
    let claims = Rc::new(
        decoded
            .verify_signature_with(keys, ctx.keys.signature_backends())
            .map_err(Some)?,
    );
    token::check_claims(&claims, req, ctx.now).map_err(Some)?;
    // `check_claims` just read the dates, so this cannot fail; a token it would refuse is
    // refused anyway rather than cached without its dates.
    let Ok(dates) = token::claim_dates(&claims) else {
        return Err(Some(Reason::TokenMalformed));
    };
    let verified = Verified {
        claims: claims.clone(),
        dates,
    };
    ctx.cache.insert(idx, token, verified, generation);
    Ok(UsedToken {
        provider: idx,
        claims,
        source,
    })
}
