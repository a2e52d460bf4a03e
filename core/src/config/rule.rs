//! `rules[i]`: a path match, the requirement it applies (inline `requires` or a named one) and
//! whether it is enforced.

use super::raw::RawRule;
use super::requirement::compile_requirement;
use super::{err, ConfigError, NamedRequirement, PathMatch, Provider, Rule};

pub(super) fn compile_rule(
    i: usize,
    r: RawRule,
    providers: &[Provider],
    requirements: &[NamedRequirement],
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
    let requires = match (r.requires, r.requirement_name) {
        (None, None) => None,
        (Some(value), None) => Some(compile_requirement(
            &format!("{at}.requires"),
            &value,
            providers,
        )?),
        (None, Some(name)) => Some(
            requirements
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.requires.clone())
                .ok_or_else(|| {
                    err(
                        format!("{at}.requirement_name"),
                        format!("unknown requirement {name:?} (not in requirements)"),
                    )
                })?,
        ),
        (Some(_), Some(_)) => {
            return Err(err(
                format!("{at}"),
                "set requires or requirement_name, not both",
            ))
        }
    };
    Ok(Rule {
        matcher,
        requires,
        enforce: r.enforce.unwrap_or(true),
    })
}
