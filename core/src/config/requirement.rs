//! `requires` trees (jwt_authn's `JwtRequirement`): a provider, `requires_any`, `requires_all`,
//! `allow_missing`, `allow_missing_or_failed`, nested. Read from JSON by hand so that every error
//! names the exact node (`rules[2].requires.requires_all[1].requires_any[0]`).

use super::{err, ConfigError, Provider};
use serde_json::Value;

/// Deepest nesting accepted (the top node is depth 1).
pub const MAX_REQUIREMENT_DEPTH: usize = 8;
/// Most nodes accepted in one requirement (every object or bare name counts).
pub const MAX_REQUIREMENT_NODES: usize = 64;

/// What a token-less or token-failing request is still allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// No token at all passes; a token present must verify.
    Missing,
    /// Any token that fails is treated as absent (taken out, its claims unused).
    MissingOrFailed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Index into `Config::providers`: a token of that provider, in one of its sources.
    Provider(usize),
    /// One of `of` (evaluated in order, the first that passes wins). `allow` comes from
    /// `allow_missing` / `allow_missing_or_failed` members of the list, which jwt_authn turns into
    /// a property of the list rather than a member.
    Any {
        of: Vec<Requirement>,
        allow: Option<Allow>,
    },
    /// Every one of these.
    All(Vec<Requirement>),
    /// Tokens of every configured provider, each verified by the provider its `iss` names.
    Allow(Allow),
}

impl Requirement {
    /// Whether `allow_*` reads tokens of every provider somewhere in this tree.
    fn reads_all(&self) -> bool {
        match self {
            Requirement::Provider(_) => false,
            Requirement::Allow(_) => true,
            Requirement::Any { of, .. } | Requirement::All(of) => of.iter().any(Self::reads_all),
        }
    }

    /// Every provider whose token sources this requirement reads (`allow_*`: all of them), in
    /// index order without repeats. A token in one of these sources that the decision did not
    /// use and leave in place is taken out before forwarding.
    pub fn providers(&self, provider_count: usize) -> Vec<usize> {
        if self.reads_all() {
            return (0..provider_count).collect();
        }
        self.named_providers()
    }

    /// The providers the tree names (`provider_name` and bare names), sorted, without repeats.
    pub fn named_providers(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect(&self, out: &mut Vec<usize>) {
        match self {
            Requirement::Provider(i) => out.push(*i),
            Requirement::Allow(_) => {}
            Requirement::Any { of, .. } | Requirement::All(of) => {
                for r in of {
                    r.collect(out);
                }
            }
        }
    }
}

/// Compiles one requirement written at `at` (e.g. `rules[0].requires`).
pub(super) fn compile_requirement(
    at: &str,
    value: &Value,
    providers: &[Provider],
) -> Result<Requirement, ConfigError> {
    let mut nodes = 0;
    let r = node(at, value, providers, 1, &mut nodes, false)?;
    Ok(r)
}

fn node(
    at: &str,
    value: &Value,
    providers: &[Provider],
    depth: usize,
    nodes: &mut usize,
    in_list: bool,
) -> Result<Requirement, ConfigError> {
    *nodes += 1;
    if *nodes > MAX_REQUIREMENT_NODES {
        return Err(err(
            at,
            format!("a requirement has at most {MAX_REQUIREMENT_NODES} nodes"),
        ));
    }
    if depth > MAX_REQUIREMENT_DEPTH {
        return Err(err(
            at,
            format!("requirements nest at most {MAX_REQUIREMENT_DEPTH} deep"),
        ));
    }
    let provider = |path: &str, name: &str| {
        providers
            .iter()
            .position(|p| p.name == name)
            .map(Requirement::Provider)
            .ok_or_else(|| err(path, format!("unknown provider {name:?}")))
    };
    let object = match value {
        Value::String(name) if in_list => return provider(at, name),
        Value::Object(o) => o,
        _ if in_list => {
            return Err(err(
                at,
                "must be a provider name or an object with one member",
            ))
        }
        _ => return Err(err(at, "must be an object with one member")),
    };
    let mut members = object.iter();
    let (Some((key, inner)), None) = (members.next(), members.next()) else {
        return Err(err(
            at,
            "set exactly one of provider_name, requires_any, requires_all, allow_missing, \
             allow_missing_or_failed",
        ));
    };
    let here = format!("{at}.{key}");
    match key.as_str() {
        "provider_name" => match inner {
            Value::String(name) => provider(&here, name),
            _ => Err(err(here, "must be a provider name")),
        },
        "allow_missing" | "allow_missing_or_failed" => {
            if !inner.as_object().is_some_and(|o| o.is_empty()) {
                return Err(err(here, "must be {}"));
            }
            Ok(Requirement::Allow(if key == "allow_missing" {
                Allow::Missing
            } else {
                Allow::MissingOrFailed
            }))
        }
        "requires_any" | "requires_all" => {
            let Some(items) = inner.as_array() else {
                return Err(err(here, "must be a list"));
            };
            if items.is_empty() {
                return Err(err(here, "must not be empty"));
            }
            let mut of = Vec::with_capacity(items.len());
            for (j, item) in items.iter().enumerate() {
                let path = format!("{here}[{j}]");
                of.push(node(&path, item, providers, depth + 1, nodes, true)?);
            }
            Ok(if key == "requires_all" {
                Requirement::All(of)
            } else {
                any(of)
            })
        }
        other => Err(err(
            at,
            format!(
                "unknown member {other:?} (expected provider_name, requires_any, requires_all, \
                 allow_missing or allow_missing_or_failed)"
            ),
        )),
    }
}

/// jwt_authn's `requires_any`: `allow_*` members become a property of the list (the more lenient
/// wins); a list of nothing else is that `allow_*` alone.
fn any(members: Vec<Requirement>) -> Requirement {
    let mut allow = None;
    let mut of = Vec::with_capacity(members.len());
    for m in members {
        match m {
            Requirement::Allow(a) => {
                if allow != Some(Allow::MissingOrFailed) {
                    allow = Some(a);
                }
            }
            other => of.push(other),
        }
    }
    match (of.is_empty(), allow) {
        (true, Some(a)) => Requirement::Allow(a),
        _ => Requirement::Any { of, allow },
    }
}
