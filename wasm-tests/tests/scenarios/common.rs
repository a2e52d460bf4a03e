//! Shared helpers for the scenarios: the compiled plugin (once per test binary), test keys for
//! every algorithm (RSA generated once), token signing, JWKS, configurations and assertions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::sync::OnceLock;
use warden_wasm_tests::{HeaderMap, Host, HostOptions, LocalResponse, Outcome, Plugin, RequestId};

/// The clock every scenario starts at (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api.example";

/// The real plugin, compiled once per test binary. Fails with the build command when missing.
pub fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| match Plugin::load_default() {
        Ok(plugin) => {
            warn_if_stale(plugin.path());
            plugin
        }
        Err(error) => panic!("{error}"),
    })
}

/// Says so when `plugin/` or `core/` sources are newer than the `.wasm` under test.
fn warn_if_stale(wasm: &std::path::Path) {
    fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
        let mut latest = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let time = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok()?.modified().ok()
            };
            latest = latest.max(time);
        }
        latest
    }
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["plugin/src", "core/src"] {
        if newest(&root.join(dir)).is_some_and(|t| t > built) {
            // Straight to stderr: the test harness captures `eprintln!`.
            let warning = format!(
                "warning: {dir} changed after {} was built; rebuild it with \
                 `cargo build --release --target wasm32-wasip1 -p warden-plugin`\n",
                wasm.display()
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), warning.as_bytes());
        }
    }
}

/// A fresh VM at [`NOW`], configured with `config` (which must be accepted).
pub fn start(config: &Value) -> Host {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            ..HostOptions::default()
        })
        .expect("start the plugin");
    let accepted = host.configure(&config.to_string()).expect("configure");
    assert!(accepted, "configuration rejected: {:?}", host.logs());
    host
}

pub fn at(unix: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)
}

/// The algorithms are core's; the tests only add which test key signs each.
pub use warden_core::Algorithm as Alg;

pub trait TestKey {
    fn kid(self) -> &'static str;
}

impl TestKey for Alg {
    /// The `kid` of the test key for this algorithm.
    fn kid(self) -> &'static str {
        match self {
            Alg::HS256 => "hs256",
            Alg::HS384 => "hs384",
            Alg::HS512 => "hs512",
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => "rsa",
            Alg::ES256 => "p256",
            Alg::ES384 => "p384",
            Alg::EdDSA => "ed25519",
        }
    }
}

/// One key of every kind. RSA keygen is slow, so a binary makes these once.
pub struct Keys {
    pub hs256: Vec<u8>,
    pub hs384: Vec<u8>,
    pub hs512: Vec<u8>,
    pub rsa: rsa::RsaPrivateKey,
    pub p256: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub ed25519: ed25519_dalek::SigningKey,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(Keys::generate)
}

fn random_bytes(n: usize) -> Vec<u8> {
    use rand_core::RngCore;
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Keys {
    pub fn generate() -> Keys {
        Keys {
            hs256: random_bytes(32),
            hs384: random_bytes(48),
            hs512: random_bytes(64),
            rsa: rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA keygen"),
            p256: p256::ecdsa::SigningKey::random(&mut OsRng),
            p384: p384::ecdsa::SigningKey::random(&mut OsRng),
            ed25519: ed25519_dalek::SigningKey::generate(&mut OsRng),
        }
    }

    /// The public JWK of the key for `alg` (secret for HMAC), with its kid.
    pub fn jwk(&self, alg: Alg) -> Value {
        match alg {
            Alg::HS256 => {
                json!({"kty": "oct", "kid": "hs256", "alg": "HS256", "k": b64(&self.hs256)})
            }
            Alg::HS384 => {
                json!({"kty": "oct", "kid": "hs384", "alg": "HS384", "k": b64(&self.hs384)})
            }
            Alg::HS512 => {
                json!({"kty": "oct", "kid": "hs512", "alg": "HS512", "k": b64(&self.hs512)})
            }
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                let public = self.rsa.to_public_key();
                json!({"kty": "RSA", "kid": "rsa", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
            }
            Alg::ES256 => {
                let point = self.p256.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "kid": "p256", "crv": "P-256",
                       "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
            }
            Alg::ES384 => {
                let point = self.p384.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "kid": "p384", "crv": "P-384",
                       "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
            }
            Alg::EdDSA => json!({"kty": "OKP", "kid": "ed25519", "crv": "Ed25519",
                                 "x": b64(self.ed25519.verifying_key().as_bytes())}),
        }
    }

    /// A JWKS with one key per kind.
    pub fn jwks(&self) -> Value {
        let algs = [
            Alg::HS256,
            Alg::HS384,
            Alg::HS512,
            Alg::RS256,
            Alg::ES256,
            Alg::ES384,
            Alg::EdDSA,
        ];
        json!({"keys": algs.iter().map(|a| self.jwk(*a)).collect::<Vec<_>>()})
    }

    /// The JWS signature of `input` with the key for `alg`.
    pub fn signature(&self, alg: Alg, input: &[u8]) -> Vec<u8> {
        fn hmac<D: Mac + hmac::digest::KeyInit>(key: &[u8], input: &[u8]) -> Vec<u8> {
            let mut mac = <D as hmac::digest::KeyInit>::new_from_slice(key).expect("hmac key");
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        use sha2::{Sha256, Sha384, Sha512};
        let rsa = self.rsa.clone();
        match alg {
            Alg::HS256 => hmac::<Hmac<Sha256>>(&self.hs256, input),
            Alg::HS384 => hmac::<Hmac<Sha384>>(&self.hs384, input),
            Alg::HS512 => hmac::<Hmac<Sha512>>(&self.hs512, input),
            Alg::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa)
                .sign(input)
                .to_vec(),
            Alg::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(rsa)
                .sign(input)
                .to_vec(),
            Alg::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(rsa)
                .sign(input)
                .to_vec(),
            Alg::PS256 => rsa::pss::BlindedSigningKey::<Sha256>::new(rsa)
                .sign_with_rng(&mut OsRng, input)
                .to_vec(),
            Alg::PS384 => rsa::pss::BlindedSigningKey::<Sha384>::new(rsa)
                .sign_with_rng(&mut OsRng, input)
                .to_vec(),
            Alg::PS512 => rsa::pss::BlindedSigningKey::<Sha512>::new(rsa)
                .sign_with_rng(&mut OsRng, input)
                .to_vec(),
            Alg::ES256 => {
                let signature: p256::ecdsa::Signature = self.p256.sign(input);
                signature.to_bytes().to_vec()
            }
            Alg::ES384 => {
                let signature: p384::ecdsa::Signature = self.p384.sign(input);
                signature.to_bytes().to_vec()
            }
            Alg::EdDSA => {
                use ed25519_dalek::Signer as _;
                self.ed25519.sign(input).to_bytes().to_vec()
            }
        }
    }

    /// A compact JWS with this header and these claims, signed with the key for `alg`.
    pub fn sign_with_header(&self, alg: Alg, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.signature(alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    /// A token for `alg` with the usual header (`typ`, `kid`).
    pub fn sign(&self, alg: Alg, claims: &Value) -> String {
        self.sign_with_header(
            alg,
            &json!({"alg": alg.name(), "typ": "JWT", "kid": alg.kid()}),
            claims,
        )
    }
}

/// Claims that pass every check of [`config`] at [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "jti": "jti-1",
        "sid": "sid-1",
        "ver": 3,
        "iat": NOW - 10,
        "exp": NOW + 600,
        "email": "alice@example.com",
        "roles": ["admin", "dev"],
    })
}

/// `claims()` with some fields replaced (or removed when the value is null).
pub fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    if let (Some(target), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
    claims
}

/// The provider `main` with local keys; `extra` fields are merged in.
pub fn provider(jwks: &Value, extra: Value) -> Value {
    let mut provider = json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": jwks.to_string()},
        "claim_to_headers": [
            {"header_name": "x-jwt-sub", "claim_name": "sub"},
            {"header_name": "x-jwt-email", "claim_name": "email"},
            {"header_name": "x-jwt-roles", "claim_name": "roles"},
        ],
    });
    merge(&mut provider, extra);
    provider
}

pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        for (name, value) in extra {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
}

/// `/healthz` open, everything else needs `main`; `verifier` optional.
pub fn config_with(provider: Value, verifier: Option<Value>) -> Value {
    let mut config = json!({
        "providers": {"main": provider},
        "rules": [
            {"match": {"prefix": "/healthz"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
    });
    if let (Some(verifier), Some(object)) = (verifier, config.as_object_mut()) {
        object.insert("verifier".into(), verifier);
    }
    config
}

/// Local keys for every algorithm, no verifier.
pub fn config() -> Value {
    config_with(provider(&keys().jwks(), json!({})), None)
}

pub fn verifier(failure_mode: &str) -> Value {
    json!({"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
           "timeout_ms": 200, "failure_mode": failure_mode})
}

/// `GET path` with `Authorization: Bearer <token>` (when given) and `extra` headers.
pub fn get(host: &mut Host, path: &str, token: Option<&str>, extra: &[(&str, &str)]) -> RequestId {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", "api.example"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    headers.extend_from_slice(extra);
    host.request(&headers).expect("request")
}

/// The request went through; returns the forwarded headers.
#[track_caller]
pub fn forwarded(host: &Host, request: RequestId) -> HeaderMap {
    match host.outcome(request) {
        Outcome::Continue { headers } => headers,
        other => panic!(
            "expected the request to be forwarded, got {other:?}; logs: {:?}",
            host.logs()
        ),
    }
}

/// The filter answered; returns its local response.
#[track_caller]
pub fn answered(host: &Host, request: RequestId) -> LocalResponse {
    match host.outcome(request) {
        Outcome::LocalResponse(response) => response,
        other => panic!(
            "expected a local response, got {other:?}; logs: {:?}",
            host.logs()
        ),
    }
}

/// The filter answered 401 `invalid_token` with this reason, in the header and the JSON body.
#[track_caller]
pub fn assert_denied(host: &Host, request: RequestId, reason: &str) {
    let response = answered(host, request);
    assert_eq!(response.status, 401, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json().expect("JSON body");
    if reason == "token_missing" {
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"warden\"")
        );
        assert_eq!(
            body,
            json!({"error": "unauthorized", "error_description": "token_missing"})
        );
    } else {
        assert_eq!(
            response.header("www-authenticate"),
            Some(format!("Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"{reason}\"").as_str()),
            "{response:?}"
        );
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": reason})
        );
    }
}

/// The filter answered 503 because the verifier could not answer.
#[track_caller]
pub fn assert_unavailable(host: &Host, request: RequestId) {
    let response = answered(host, request);
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json().expect("JSON body"),
        json!({"error": "temporarily_unavailable", "error_description": "verifier_unavailable"})
    );
}

impl Keys {
    /// New symmetric and elliptic keys, reusing `base`'s RSA key (RSA keygen is slow).
    pub fn generate_without_rsa(base: &Keys) -> Keys {
        Keys {
            hs256: random_bytes(32),
            hs384: random_bytes(48),
            hs512: random_bytes(64),
            rsa: base.rsa.clone(),
            p256: p256::ecdsa::SigningKey::random(&mut OsRng),
            p384: p384::ecdsa::SigningKey::random(&mut OsRng),
            ed25519: ed25519_dalek::SigningKey::generate(&mut OsRng),
        }
    }
}
