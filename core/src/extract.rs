//! Finding the token in a request (headers, query parameters, cookies) and removing it again
//! before the request is forwarded.

use crate::config::TokenSource;

/// Request headers as the proxy hands them over: lower-case names, pseudo-headers included.
pub type Headers = [(String, String)];

pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Extracted<'a> {
    /// The token and the index of the source it came from.
    Found(&'a str, usize),
    /// A source was present but held no usable token (e.g. `Bearer ` with nothing after it).
    Empty,
    /// The header or query parameter that holds the token appears more than once.
    Duplicate,
    Missing,
}

pub fn extract<'a>(sources: &[TokenSource], headers: &'a Headers) -> Extracted<'a> {
    let mut empty = false;
    for (i, source) in sources.iter().enumerate() {
        let value = match source {
            TokenSource::Header { name, prefix } => {
                let mut values = headers
                    .iter()
                    .filter(|(n, _)| n == name)
                    .filter_map(|(_, v)| strip_prefix(v, prefix));
                let first = values.next();
                if values.next().is_some() {
                    return Extracted::Duplicate;
                }
                first
            }
            TokenSource::Param(name) => {
                let path = header(headers, ":path").unwrap_or("");
                let mut values = query_params(path, name);
                let first = values.next();
                if values.next().is_some() {
                    return Extracted::Duplicate;
                }
                first
            }
            TokenSource::Cookie(name) => cookie(headers, name),
        };
        match value.map(str::trim) {
            Some("") => empty = true,
            Some(token) => return Extracted::Found(token, i),
            None => {}
        }
    }
    if empty {
        Extracted::Empty
    } else {
        Extracted::Missing
    }
}

/// The auth scheme in a prefix such as `Bearer ` is compared case-insensitively (RFC 7235 §2.1).
fn strip_prefix<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len());
    if head.is_some_and(|h| h.eq_ignore_ascii_case(prefix)) {
        value.get(prefix.len()..)
    } else if prefix.ends_with(' ') && value.eq_ignore_ascii_case(prefix.trim_end()) {
        Some("")
    } else {
        None
    }
}

/// Every value of the query parameter `name` in `path`.
fn query_params<'a>(path: &'a str, name: &str) -> std::vec::IntoIter<&'a str> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let values: Vec<&'a str> = query
        .split('&')
        .filter_map(|pair| match pair.split_once('=') {
            Some((k, v)) if is_param_name(k, name) => Some(v),
            None if is_param_name(pair, name) => Some(""),
            _ => None,
        })
        .collect();
    values.into_iter()
}

fn cookie<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|pair| match pair.trim().split_once('=') {
            Some((k, v)) if k == name => Some(v.trim_matches('"')),
            _ => None,
        })
}

/// Whether a raw query key is `name` once percent-decoded (`access%5Ftoken` is `access_token`
/// to an upstream that decodes names, so it is to the filter too).
fn is_param_name(raw: &str, name: &str) -> bool {
    if !raw.contains('%') {
        return raw == name;
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            decoded.push(b);
            continue;
        }
        let mut hex = bytes.clone();
        let value = match (hex.next(), hex.next()) {
            (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                std::str::from_utf8(&[h, l])
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            }
            _ => None,
        };
        match value {
            Some(v) => {
                decoded.push(v);
                bytes = hex;
            }
            None => decoded.push(b),
        }
    }
    decoded == name.as_bytes()
}

/// The `:path` with the parameter `name` removed.
pub fn path_without_param(path: &str, name: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !is_param_name(pair.split_once('=').map_or(*pair, |(k, _)| k), name))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A `cookie` header value with the cookie `name` removed; `None` when nothing is left.
pub fn cookies_without(value: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').map_or(*pair, |(k, _)| k) != name)
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bearer() -> Vec<TokenSource> {
        vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }]
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc "] {
            assert_eq!(
                extract(&bearer(), &h(&[("authorization", v)])),
                Extracted::Found("abc", 0),
                "{v}"
            );
        }
        assert_eq!(
            extract(&bearer(), &h(&[("authorization", "Basic abc")])),
            Extracted::Missing
        );
        assert_eq!(
            extract(&bearer(), &h(&[("authorization", "Bearer ")])),
            Extracted::Empty
        );
        assert_eq!(
            extract(&bearer(), &h(&[("authorization", "Bearer")])),
            Extracted::Empty
        );
        assert_eq!(extract(&bearer(), &h(&[])), Extracted::Missing);
    }

    #[test]
    fn a_second_copy_of_the_token_is_a_duplicate() {
        let two = h(&[("authorization", "Bearer a"), ("authorization", "bearer b")]);
        assert_eq!(extract(&bearer(), &two), Extracted::Duplicate);
        // Another scheme in a second authorization header is not a second token.
        let basic = h(&[("authorization", "Basic x"), ("authorization", "Bearer a")]);
        assert_eq!(extract(&bearer(), &basic), Extracted::Found("a", 0));
        let param = vec![TokenSource::Param("t".into())];
        assert_eq!(
            extract(&param, &h(&[(":path", "/a?t=1&x=2&t=1")])),
            Extracted::Duplicate
        );
        assert_eq!(
            extract(&param, &h(&[(":path", "/a?t=1&tt=2")])),
            Extracted::Found("1", 0)
        );
    }

    #[test]
    fn params_and_cookies() {
        let sources = vec![
            TokenSource::Param("access_token".into()),
            TokenSource::Cookie("session".into()),
        ];
        assert_eq!(
            extract(&sources, &h(&[(":path", "/a?x=1&access_token=tok&y=2")])),
            Extracted::Found("tok", 0)
        );
        assert_eq!(
            extract(
                &sources,
                &h(&[(":path", "/a"), ("cookie", "a=b; session=ck; c=d")])
            ),
            Extracted::Found("ck", 1)
        );
        assert_eq!(
            extract(&sources, &h(&[(":path", "/a?access_token_x=1")])),
            Extracted::Missing
        );
    }

    #[test]
    fn removal_helpers() {
        assert_eq!(
            path_without_param("/a?x=1&access_token=t&y=2", "access_token"),
            "/a?x=1&y=2"
        );
        assert_eq!(
            path_without_param("/a?access_token=t", "access_token"),
            "/a"
        );
        assert_eq!(path_without_param("/a", "access_token"), "/a");
        assert_eq!(
            cookies_without("a=b; session=x; c=d", "session").as_deref(),
            Some("a=b; c=d")
        );
        assert_eq!(cookies_without("session=x", "session"), None);
    }
}
