//! `warden-verifier admin …`: what operators do by hand, as requests to a running verifier's
//! admin API. Exit codes: 0 done, 1 the API refused (4xx), 2 usage or local error, 3 the verifier
//! unreachable or answering 5xx.

pub mod output;

use crate::config::cli::{AdminAction, AdminArgs, AdminOutput, TokenSource};
use crate::outbound::{self, Call, Limits};
use output::{encode_component, error_message, table};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use warden_core::b64;

/// The API refused (4xx).
pub const EXIT_REFUSED: u8 = 1;
/// Usage or local error.
pub const EXIT_LOCAL: u8 = 2;
/// Unreachable, timed out, or 5xx.
pub const EXIT_UNAVAILABLE: u8 = 3;

/// Largest answer read (a feed snapshot lists every revocation).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Why a command did not complete: its exit code and message.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

fn local(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_LOCAL,
        message: message.into(),
    }
}

/// Runs `admin …`; returns the exit code (messages already printed).
pub fn main(args: AdminArgs) -> u8 {
    match run(args) {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("warden-verifier admin: {}", failure.message);
            failure.code
        }
    }
}

/// The connection settings every request shares.
struct Client {
    admin_url: String,
    admin_token: String,
    ca_pem: Option<Vec<u8>>,
    limits: Limits,
}

/// One request and how to read its answer.
struct Request {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    content_type: Option<&'static str>,
}

fn run(args: AdminArgs) -> Result<(), Failure> {
    let AdminArgs {
        admin_url,
        admin_token_file,
        ca_file,
        output,
        timeout_seconds,
        action,
    } = args;
    let admin_url = admin_url.trim_end_matches('/').to_owned();
    // Checked before anything is read or sent.
    if let AdminAction::RevokeAll { yes: false } = action {
        return Err(local(
            "revoke-all refuses every token issued up to now and ends every session: \
             add --yes to do it",
        ));
    }
    let Some(admin_token_file) = admin_token_file else {
        return Err(local(
            "--admin-token-file PATH (or WARDEN_ADMIN_TOKEN_FILE) is required",
        ));
    };
    let admin_token = read_trimmed("--admin-token-file", &admin_token_file)?;
    let ca_pem = match &ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| local(format!("--ca-file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    warn_if_clear(&admin_url, "the admin token");
    let client = Client {
        admin_url,
        admin_token,
        ca_pem,
        limits: Limits {
            timeout: Duration::from_secs(timeout_seconds.max(1)),
            max_body_bytes: MAX_ANSWER_BYTES,
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| local(format!("runtime: {e}")))?;
    // The API's answer as it came, for `--output json`, when there is one.
    let mut raw = None;
    let answer = match action {
        AdminAction::Feed {
            check_url,
            feed_token_file,
        } => runtime.block_on(feed(&client, &check_url, feed_token_file.as_deref()))?,
        action => {
            let request = request_for(action)?;
            let is_delete = request.method == "DELETE";
            let body = runtime.block_on(send(&client, &request))?;
            if is_delete {
                // `204`, no body: the command says what it did.
                let sid = request.path.rsplit('/').next().unwrap_or_default();
                json!({ "sid": percent_decoded(sid), "ended": true })
            } else {
                let answer = serde_json::from_slice(&body).map_err(|e| Failure {
                    code: EXIT_UNAVAILABLE,
                    message: format!("the answer is not JSON: {e}"),
                })?;
                raw = Some(body);
                answer
            }
        }
    };
    match output {
        AdminOutput::Json => match raw {
            Some(body) => println!("{}", String::from_utf8_lossy(&body).trim_end()),
            None => println!("{answer}"),
        },
        AdminOutput::Table => print!("{}", table(&answer)),
    }
    Ok(())
}

/// The request an action makes (every action but `feed`).
fn request_for(action: AdminAction) -> Result<Request, Failure> {
    let post_json = |path: &str, body: Value| Request {
        method: "POST",
        path: path.to_owned(),
        body: body.to_string().into_bytes(),
        content_type: Some("application/json"),
    };
    Ok(match action {
        AdminAction::RevokeToken {
            token,
            token_file,
            sub,
            jti,
            exp,
        } => {
            let (sub, jti, exp) = match (sub, jti) {
                (Some(sub), Some(jti)) => (sub, jti, exp),
                _ if token.is_none() && token_file.is_none() => {
                    return Err(local(
                        "revoke-token needs --token, --token-file, or --sub and --jti",
                    ))
                }
                _ => {
                    let token = token_text(TokenSource { token, token_file })?;
                    names_of(&token)?
                }
            };
            let mut body = json!({ "sub": sub, "jti": jti });
            if let (Some(exp), Value::Object(fields)) = (exp, &mut body) {
                fields.insert("exp".into(), json!(exp));
            }
            post_json("/v1/admin/revoke/token", body)
        }
        AdminAction::RevokeUser { sub } => {
            post_json("/v1/admin/revoke/user", json!({ "sub": sub }))
        }
        AdminAction::RevokeSession {
            sid,
            iss: None,
            exp: _,
        } => Request {
            method: "DELETE",
            path: format!("/v1/admin/sessions/{}", encode_component(&sid)),
            body: Vec::new(),
            content_type: None,
        },
        AdminAction::RevokeSession {
            sid,
            iss: Some(iss),
            exp,
        } => {
            let mut body = json!({ "iss": iss, "sid": sid });
            if let (Some(exp), Value::Object(fields)) = (exp, &mut body) {
                fields.insert("exp".into(), json!(exp));
            }
            post_json("/v1/admin/revoke/session", body)
        }
        AdminAction::RevokeAll { .. } => post_json("/v1/admin/revoke/all", json!({})),
        AdminAction::Sessions { sub } => Request {
            method: "GET",
            path: format!("/v1/admin/users/{}/sessions", encode_component(&sub)),
            body: Vec::new(),
            content_type: None,
        },
        AdminAction::Introspect { token } => {
            let token = token_text(token)?;
            Request {
                method: "POST",
                path: "/v1/admin/introspect".into(),
                body: format!("token={}", encode_component(&token)).into_bytes(),
                content_type: Some("application/x-www-form-urlencoded"),
            }
        }
        AdminAction::Feed { .. } => return Err(local("feed makes no single request")),
    })
}

/// Sends `request` to the admin listener; the body of a 2xx answer.
async fn send(client: &Client, request: &Request) -> Result<bytes::Bytes, Failure> {
    let bearer = format!("Bearer {}", client.admin_token);
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(content_type) = request.content_type {
        headers.push(("content-type", content_type));
    }
    let url = format!("{}{}", client.admin_url, request.path);
    exchange(client, &url, request.method, &headers, &request.body).await
}

async fn exchange(
    client: &Client,
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<bytes::Bytes, Failure> {
    let answered = outbound::call(Call {
        method,
        url,
        headers,
        body,
        ca_pem: client.ca_pem.as_deref(),
        limits: client.limits,
    })
    .await
    .map_err(|e| Failure {
        code: match e {
            outbound::FetchError::UrlNotAllowed | outbound::FetchError::TlsNotBuilt => EXIT_LOCAL,
            _ => EXIT_UNAVAILABLE,
        },
        message: format!("{method} {url}: {e}"),
    })?;
    match answered.status {
        200..=299 => Ok(answered.body),
        status @ 400..=499 => Err(Failure {
            code: EXIT_REFUSED,
            message: format!("refused ({status}): {}", error_message(&answered.body)),
        }),
        status => Err(Failure {
            code: EXIT_UNAVAILABLE,
            message: format!(
                "{method} {url} answered {status}: {}",
                error_message(&answered.body)
            ),
        }),
    }
}

/// `admin feed`: the head from a snapshot of the feed (check listener), the lag from the admin
/// listener's `warden_verifier_feed_outbox_pending`.
async fn feed(
    client: &Client,
    check_url: &str,
    feed_token_file: Option<&Path>,
) -> Result<Value, Failure> {
    let check_url = check_url.trim_end_matches('/');
    let feed_token = match feed_token_file {
        Some(path) => Some(format!(
            "Bearer {}",
            read_trimmed("--feed-token-file", path)?
        )),
        None => None,
    };
    if feed_token.is_some() {
        warn_if_clear(check_url, "the feed token");
    }
    let headers: Vec<(&str, &str)> = feed_token
        .as_deref()
        .map(|bearer| ("authorization", bearer))
        .into_iter()
        .collect();
    let url = format!("{check_url}/v1/revocations?ids=1");
    let snapshot = exchange(client, &url, "GET", &headers, b"").await?;
    let snapshot: Value = serde_json::from_slice(&snapshot).map_err(|e| Failure {
        code: EXIT_UNAVAILABLE,
        message: format!("the feed's answer is not JSON: {e}"),
    })?;
    let bearer = format!("Bearer {}", client.admin_token);
    let url = format!("{}/metrics", client.admin_url);
    let metrics = exchange(client, &url, "GET", &[("authorization", &bearer)], b"").await?;
    let pending = String::from_utf8_lossy(&metrics)
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("warden_verifier_feed_outbox_pending ")?;
            value.trim().parse::<f64>().ok()
        })
        .map(|value| json!(value as u64));
    Ok(json!({
        "seq": snapshot.get("seq").cloned().unwrap_or(Value::Null),
        "id": snapshot.get("id").cloned().unwrap_or(Value::Null),
        "not_before": snapshot.get("not_before").cloned().unwrap_or(Value::Null),
        "outbox_pending": pending.unwrap_or(Value::Null),
    }))
}

/// Warns on stderr when `what` would go in clear to a host that is not loopback.
fn warn_if_clear(url: &str, what: &str) {
    if url.to_ascii_lowercase().starts_with("http://") && !outbound::is_fetchable_url(url) {
        eprintln!(
            "warden-verifier admin: warning: {what} goes over plain http to {url}, not a \
             loopback host; use https:// (with --ca-file for a private CA)"
        );
    }
}

fn read_trimmed(flag: &str, path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| local(format!("{flag} {}: {e}", path.display())))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(local(format!("{flag} {}: empty", path.display())));
    }
    Ok(text.to_owned())
}

fn token_text(source: TokenSource) -> Result<String, Failure> {
    match source {
        TokenSource {
            token: Some(token), ..
        } => Ok(token.trim().to_owned()),
        TokenSource {
            token_file: Some(path),
            ..
        } => read_trimmed("--token-file", &path),
        _ => Err(local("give --token or --token-file")),
    }
}

/// `sub`, `jti` and `exp` of a JWT's payload, decoded WITHOUT verifying it: it only names what
/// to revoke.
fn names_of(token: &str) -> Result<(String, String, Option<i64>), Failure> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| local("the token is not a JWT (header.payload.signature)"))?;
    let bytes = b64::decode(payload.trim_end_matches('='))
        .ok_or_else(|| local("the token's payload is not base64url"))?;
    let claims: Value = serde_json::from_slice(&bytes)
        .map_err(|_| local("the token's payload is not a JSON object"))?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    match (text("sub"), text("jti")) {
        (Some(sub), Some(jti)) => Ok((sub, jti, claims.get("exp").and_then(Value::as_i64))),
        _ => Err(local(
            "the token has no `sub` or no `jti`: it cannot be revoked by jti (revoke its user \
             with revoke-user, or its session with revoke-session)",
        )),
    }
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes.get(i), hex) {
            (Some(b'%'), Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (Some(&byte), _) => {
                out.push(byte);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.sig",
            b64::encode(br#"{"alg":"none"}"#),
            b64::encode(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn a_tokens_names_are_read_without_verifying() {
        let (sub, jti, exp) = names_of(&jwt(json!({"sub": "a", "jti": "j", "exp": 9}))).unwrap();
        assert_eq!((sub.as_str(), jti.as_str(), exp), ("a", "j", Some(9)));
        let (_, _, exp) = names_of(&jwt(json!({"sub": "a", "jti": "j"}))).unwrap();
        assert_eq!(exp, None);
        let refused = names_of(&jwt(json!({"sub": "a"}))).unwrap_err();
        assert_eq!(refused.code, EXIT_LOCAL);
        assert!(refused.message.contains("no `sub` or no `jti`"));
        assert!(names_of("opaque").is_err());
    }

    #[test]
    fn percent_decoding_undoes_encoding() {
        assert_eq!(percent_decoded(&encode_component("a|b c%")), "a|b c%");
    }
}
