//! `rules[i]`: a path match and the providers any one of which it requires.

use super::raw::{RawRequires, RawRule};
use super::{err, ConfigError, PathMatch, Provider, Rule};

pub(super) fn compile_rule(
    i: usize,
    r: RawRule,
    providers: &[Provider],
) -> Result<Rule, ConfigError> {
    let at = format!("rules[{i}]");
    let matcher = match (r.matcher.prefix, r.matcher.path) {
        (Some(p), None) if p.starts_with('/') => PathMatch::Prefix(p),
        (None, Some(p)) if p.starts_with('/') => PathMatch::Exact(p),
        (Some(_), None) => return Err(err(format!("{at}.match.prefix"), "must start with '/'")),
        (None, Some(_)) => return Err(err(format!("{at}.match.path"), "must start with '/'")),
        _ => {
            return Err(err(
                format!("{at}.match"),
                "set exactly one of prefix or path",
            ))
        }
    };
    let find = |path: String, name: &str| {
        providers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| err(path, format!("unknown provider {name:?}")))
    };
    let requires_any = match r.requires {
        None => Vec::new(),
        Some(RawRequires {
            provider_name: Some(name),
            requires_any: None,
        }) => {
            vec![find(format!("{at}.requires.provider_name"), &name)?]
        }
        Some(RawRequires {
            provider_name: None,
            requires_any: Some(names),
        }) => {
            if names.is_empty() {
                return Err(err(
                    format!("{at}.requires.requires_any"),
                    "must name at least one provider",
                ));
            }
            let mut ids = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                ids.push(find(format!("{at}.requires.requires_any[{j}]"), name)?);
            }
            ids
        }
        Some(_) => {
            return Err(err(
                format!("{at}.requires"),
                "set exactly one of provider_name or requires_any",
            ))
        }
    };
    Ok(Rule {
        matcher,
        requires_any,
    })
}
