//! Cookie mode (`--refresh-cookie __Host-NAME`, checked by `issuer::check_cookie_name`): the
//! refresh token travels in a `__Host-` cookie (`HttpOnly; Secure; SameSite=Strict; Path=/`), out
//! of reach of page scripts.

use axum::http::HeaderMap;

/// Two copies of the cookie: which one the browser meant is unknowable, so neither is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateCookie;

/// The value of cookie `name` in the request (`Ok(None)` when absent).
pub fn read(headers: &HeaderMap, name: &str) -> Result<Option<String>, DuplicateCookie> {
    let mut found = None;
    for header in headers.get_all(axum::http::header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((n, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if n.trim() == name {
                if found.is_some() {
                    return Err(DuplicateCookie);
                }
                found = Some(v.trim().trim_matches('"').to_owned());
            }
        }
    }
    Ok(found)
}

/// `Set-Cookie` carrying `value` for `max_age` seconds.
pub fn set(name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Strict",
        max_age.max(0)
    )
}

/// `Set-Cookie` that removes the cookie.
pub fn clear(name: &str) -> String {
    format!("{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exactly_one_copy() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", "a=1; __Host-rt=tok; b=2".parse().unwrap());
        assert_eq!(read(&headers, "__Host-rt"), Ok(Some("tok".into())));
        assert_eq!(read(&headers, "__Host-x"), Ok(None));
        headers.append("cookie", "__Host-rt=other".parse().unwrap());
        assert_eq!(read(&headers, "__Host-rt"), Err(DuplicateCookie));
        let value = set("__Host-rt", "v", 60);
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(value.contains(part), "{value}");
        }
    }
}
