//! Finding the token in a request (headers, query parameters, cookies) and removing it again
//! before the request is forwarded.

use crate::config::TokenSource;
use crate::percent;

/// Request headers as the proxy hands them over: lower-case names, pseudo-headers included.
pub type Headers = [(String, String)];

pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A CORS preflight as jwt_authn's `bypass_cors_preflight` defines it: `OPTIONS` with a
/// non-empty `Origin` and `Access-Control-Request-Method`.
pub fn is_cors_preflight(headers: &Headers) -> bool {
    let present = |name| header(headers, name).is_some_and(|v| !v.is_empty());
    header(headers, ":method") == Some("OPTIONS")
        && present("origin")
        && present("access-control-request-method")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Extracted<'a> {
    /// The token and the index of the source it came from.
    Found(&'a str, usize),
    /// A source was present but held no usable token (e.g. `Bearer ` with nothing after it).
    Empty,
    /// A source holds the token more than once (two headers, parameters or cookies, also in
    /// spellings an upstream reads as the same name).
    Duplicate,
    Missing,
}

/// The first source that holds a token. Every copy counts: an upstream may read the copy the
/// filter did not verify, so two copies in one source are refused.
pub fn extract<'a>(sources: &[TokenSource], headers: &'a Headers) -> Extracted<'a> {
    let mut empty = false;
    for (i, source) in sources.iter().enumerate() {
        let values = source.values(headers);
        if values.len() > 1 {
            return Extracted::Duplicate;
        }
        match values.first().map(|v| v.trim()) {
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

/// Changes to the request that the removals of several sources accumulate, so that two
/// parameters or two cookies taken out of one request compose.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removal {
    /// Header names to remove (every value).
    pub headers: Vec<String>,
    /// The new `:path`, when a query parameter was taken out.
    pub path: Option<String>,
    /// The new `cookie` header: `Some(None)` removes it, `Some(Some(v))` replaces it.
    pub cookie: Option<Option<String>>,
}

impl TokenSource {
    /// Every value this source holds in the request, in every spelling an upstream may read as
    /// this source's name.
    pub fn values<'a>(&self, headers: &'a Headers) -> Vec<&'a str> {
        match self {
            TokenSource::Header { name, prefix } => headers
                .iter()
                .filter(|(n, _)| same_header_name(n, name))
                .filter_map(|(_, v)| strip_prefix(v, prefix))
                .collect(),
            TokenSource::Param(name) => {
                let path = header(headers, ":path").unwrap_or("");
                query_params(path, name)
            }
            TokenSource::Cookie(name) => cookies(headers)
                .filter_map(|pair| match pair.split_once('=') {
                    Some((k, v)) if same_loose_name(k, name) => Some(v.trim().trim_matches('"')),
                    None if same_loose_name(pair, name) => Some(""),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Takes every copy of this source's token out of the request (as Envoy's extractor owns
    /// `removeJwt`). Nothing changes when the source holds nothing, so a header of another
    /// scheme (`Authorization: Basic`) survives a token found elsewhere.
    pub fn remove(&self, headers: &Headers, removal: &mut Removal) {
        if self.values(headers).is_empty() {
            return;
        }
        match self {
            TokenSource::Header { name, .. } => {
                for (n, _) in headers.iter().filter(|(n, _)| same_header_name(n, name)) {
                    if !removal.headers.contains(n) {
                        removal.headers.push(n.clone());
                    }
                }
            }
            TokenSource::Param(name) => {
                let current = removal
                    .path
                    .clone()
                    .or_else(|| header(headers, ":path").map(str::to_string))
                    .unwrap_or_default();
                removal.path = Some(path_without_param(&current, name));
            }
            TokenSource::Cookie(name) => {
                let current = match &removal.cookie {
                    Some(current) => current.clone(),
                    None => Some(cookies(headers).collect::<Vec<_>>().join("; ")),
                };
                removal.cookie = Some(current.and_then(|c| cookies_without(&c, name)));
            }
        }
    }
}

/// Header names an upstream reads as the same: CGI-style servers (WSGI, Rack, PHP) turn both
/// `x-jwt-sub` and `x_jwt_sub` into `HTTP_X_JWT_SUB`.
pub fn same_header_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let fold = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            fold(x) == fold(y)
        })
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
fn query_params<'a>(path: &'a str, name: &str) -> Vec<&'a str> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| match pair.split_once('=') {
            Some((k, v)) if same_loose_name(k, name) => Some(v),
            None if same_loose_name(pair, name) => Some(""),
            _ => None,
        })
        .collect()
}

/// Every `name=value` pair of every `cookie` header (HTTP/2 may split cookies over several).
fn cookies(headers: &Headers) -> impl Iterator<Item = &str> {
    headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
}

/// Whether a raw parameter or cookie name is `name` to some upstream: surrounding spaces
/// trimmed (`session =x`), percent-decoded (`access%5Ftoken`), and with PHP's folding of ` ` and
/// `.` into `_` (`access.token` is `$_GET['access_token']`).
fn same_loose_name(raw: &str, name: &str) -> bool {
    let raw = raw.trim();
    if raw == name {
        return true;
    }
    let fold = |b: u8| if b == b' ' || b == b'.' { b'_' } else { b };
    let decoded = percent::decode_lossy(raw.as_bytes());
    decoded.len() == name.len()
        && decoded
            .iter()
            .zip(name.bytes())
            .all(|(&x, y)| fold(x) == fold(y))
}

/// The `:path` with every spelling of the parameter `name` removed.
pub fn path_without_param(path: &str, name: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !same_loose_name(pair.split_once('=').map_or(*pair, |(k, _)| k), name))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A `cookie` header value with every spelling of the cookie `name` removed; `None` when
/// nothing is left.
pub fn cookies_without(value: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            !pair.is_empty()
                && !same_loose_name(pair.split_once('=').map_or(*pair, |(k, _)| k), name)
        })
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

    #[test]
    fn cookie_copies_in_any_spelling_are_duplicates() {
        let c = vec![TokenSource::Cookie("session".into())];
        for cookie in [
            "session=a; session=b",
            "session=a; session =b",
            "session =a; x=1; %73ession=b",
        ] {
            assert_eq!(
                extract(&c, &h(&[("cookie", cookie)])),
                Extracted::Duplicate,
                "{cookie}"
            );
        }
        assert_eq!(
            extract(&c, &h(&[("cookie", "session=a"), ("cookie", "session=b")])),
            Extracted::Duplicate
        );
        assert_eq!(
            extract(&c, &h(&[("cookie", " session = a ")])),
            Extracted::Found("a", 0)
        );
        assert_eq!(
            cookies_without("session =a; x=1; %73ession=b", "session").as_deref(),
            Some("x=1")
        );
    }

    #[test]
    fn loose_parameter_and_header_spellings() {
        let p = vec![TokenSource::Param("access_token".into())];
        assert_eq!(
            extract(&p, &h(&[(":path", "/a?access_token=1&access.token=2")])),
            Extracted::Duplicate
        );
        assert_eq!(
            path_without_param("/a?access.token=1&b=2", "access_token"),
            "/a?b=2"
        );
        let x = vec![TokenSource::Header {
            name: "x-token".into(),
            prefix: String::new(),
        }];
        assert_eq!(
            extract(&x, &h(&[("x-token", "a"), ("x_token", "b")])),
            Extracted::Duplicate
        );
        assert!(same_header_name("x_jwt_sub", "x-jwt-sub"));
        assert!(!same_header_name("x-jwt-sub2", "x-jwt-sub"));
    }

    #[test]
    fn removal_composes_and_spares_other_schemes() {
        let headers = h(&[
            (":path", "/a?t=1&u=2&k=3"),
            ("cookie", "a=1; s=2"),
            ("cookie", "b=3"),
            ("authorization", "Basic abc"),
        ]);
        let mut removal = Removal::default();
        TokenSource::Param("t".into()).remove(&headers, &mut removal);
        TokenSource::Param("u".into()).remove(&headers, &mut removal);
        TokenSource::Cookie("s".into()).remove(&headers, &mut removal);
        TokenSource::Cookie("b".into()).remove(&headers, &mut removal);
        TokenSource::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }
        .remove(&headers, &mut removal);
        assert_eq!(removal.path.as_deref(), Some("/a?k=3"));
        assert_eq!(removal.cookie, Some(Some("a=1".into())));
        assert!(removal.headers.is_empty());
    }
}
