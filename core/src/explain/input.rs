//! The request to explain, as a person writes it: method, path, headers, cookies, query
//! parameters, the clock, pasted remote key sets and the verifier's assumed answer.

use crate::flow::Reply;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `{"method", "path", "headers": {...}, "cookies": {...}, "query": {...}, "now"?, "jwks"?,
/// "verifier"?}`. Header values may be a string or a list of strings (several copies).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default = "get")]
    pub method: String,
    #[serde(default = "root")]
    pub path: String,
    /// `:authority`; `localhost` when not given.
    #[serde(default)]
    pub authority: Option<String>,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default)]
    pub cookies: BTreeMap<String, String>,
    /// Added to the path's query string, percent-encoded.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Unix seconds; the caller's clock when absent.
    #[serde(default)]
    pub now: Option<i64>,
    /// Remote providers' key sets by provider name: the document (text or JSON) a fetch of
    /// their `remote_jwks` would return.
    #[serde(default)]
    pub jwks: BTreeMap<String, Value>,
    #[serde(default)]
    pub verifier: Option<VerifierAnswer>,
}

fn get() -> String {
    "GET".to_string()
}

fn root() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Headers {
    #[default]
    None,
    Map(BTreeMap<String, OneOrMany>),
    List(Vec<(String, String)>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The verifier's answer to assume: `"allow"` (the default), `"unavailable"` (timeout or
/// connection failure), a check response such as `{"allow": false, "reason": "revoked"}`, or a
/// raw `{"status": 500, "body": "..."}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum VerifierAnswer {
    Named(String),
    Raw { status: u32, body: Value },
    Response(Value),
}

impl Default for VerifierAnswer {
    fn default() -> Self {
        VerifierAnswer::Named("allow".to_string())
    }
}

impl VerifierAnswer {
    /// The reply the flow is fed.
    pub fn reply(&self) -> Reply {
        match self {
            VerifierAnswer::Named(name) if name == "allow" => {
                Reply::answered(200, br#"{"allow":true}"#)
            }
            VerifierAnswer::Named(_) => Reply::Failed,
            VerifierAnswer::Raw { status, body } => {
                let text = match body {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Reply::answered(*status, text.as_bytes())
            }
            VerifierAnswer::Response(body) => Reply::answered(200, body.to_string().as_bytes()),
        }
    }

    pub fn describe(&self) -> Value {
        match self {
            VerifierAnswer::Named(name) if name == "allow" => {
                serde_json::json!({"status": 200, "body": {"allow": true}})
            }
            VerifierAnswer::Named(name) => Value::String(format!("{name}: no answer")),
            VerifierAnswer::Raw { status, body } => {
                serde_json::json!({"status": status, "body": body})
            }
            VerifierAnswer::Response(body) => serde_json::json!({"status": 200, "body": body}),
        }
    }
}

impl Request {
    /// The headers the proxy hands the filter: pseudo-headers first, names in lower case, the
    /// query and cookies folded into `:path` and `cookie`.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut path = self.path.clone();
        for (name, value) in &self.query {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&encode(name));
            path.push('=');
            path.push_str(&encode(value));
        }
        let mut out = vec![
            (":method".to_string(), self.method.clone()),
            (":path".to_string(), path),
            (
                ":authority".to_string(),
                self.authority
                    .clone()
                    .unwrap_or_else(|| "localhost".to_string()),
            ),
        ];
        let mut push = |name: &str, value: &str| {
            let name = name.to_ascii_lowercase();
            // Pseudo-headers come from the fields above; a pasted one replaces them.
            if let Some(slot) = out
                .iter_mut()
                .find(|(n, _)| n.starts_with(':') && *n == name)
            {
                slot.1 = value.to_string();
            } else {
                out.push((name, value.to_string()));
            }
        };
        match &self.headers {
            Headers::None => {}
            Headers::Map(map) => {
                for (name, values) in map {
                    match values {
                        OneOrMany::One(v) => push(name, v),
                        OneOrMany::Many(vs) => vs.iter().for_each(|v| push(name, v)),
                    }
                }
            }
            Headers::List(list) => list.iter().for_each(|(n, v)| push(n, v)),
        }
        if !self.cookies.is_empty() {
            let pairs: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let joined = pairs.join("; ");
            match out.iter_mut().find(|(n, _)| n == "cookie") {
                Some(slot) => slot.1 = format!("{}; {joined}", slot.1),
                None => out.push(("cookie".to_string(), joined)),
            }
        }
        out
    }

    /// The pasted key set of provider `name`, as text.
    pub fn jwks_document(&self, name: &str) -> Option<String> {
        match self.jwks.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
