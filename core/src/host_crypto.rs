//! Signature checks done by the proxy itself, where it offers them: Envoy (≥ 1.30) exports the
//! foreign function `verify_signature` (BoringSSL's `EVP_DigestVerify`, what `jwt_authn` relies
//! on), far faster than any verifier compiled to wasm.
//!
//! Warden's own rules stay in front: the token is parsed, its `alg` allowed and the key's kind
//! matched by core as always; only the final signature check is handed over, with the key's DER
//! built when the key set loaded (`Jwk::spki`) and an ECDSA r ‖ s range-checked before it becomes
//! DER. A host error, an unexpected status or a malformed answer counts as a failed signature,
//! never as a pass.
//!
//! Whether the host is used is decided per algorithm, once per VM: [`SignatureBackends::detect`]
//! runs a built-in known-good signature and two known-bad ones for each algorithm of
//! [`HOST_ALGORITHMS`]. The host is used for an algorithm only if it accepts the good one and
//! refuses both bad ones; everything else keeps the in-wasm verifiers of `crypto` (through `KeyMaterial::verify`).
//!
//! The arguments and the answer are the protobuf messages of Envoy's
//! `source/extensions/common/wasm/ext/verify_signature.proto`, hand-encoded (a few bytes, no
//! protobuf runtime in the filter): `VerifySignatureArguments { string hash_function = 1;
//! bytes public_key = 2; bytes signature = 3; bytes text = 4 }` and
//! `VerifySignatureResult { bool result = 1; string error = 2 }`.

use crate::alg::Algorithm;
use crate::b64;
use crate::der::write as der;
use crate::jwk::{Jwk, KeySet};

/// The name of the foreign function.
pub const VERIFY_SIGNATURE: &str = "verify_signature";

/// The proxy's `verify_signature` foreign function.
pub trait HostCrypto {
    /// Calls the function with protobuf `arguments`; the raw answer, or `None` when the host has
    /// no such function or the call failed.
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>>;
}

/// How an algorithm's JWS signature is handed to the host.
#[derive(Debug, Clone, Copy)]
pub enum SignatureForm {
    /// As is (RSA: the integer of the modulus' length).
    Plain,
    /// r ‖ s, each of the order's length, checked to lie in [1, n − 1], then DER.
    Ecdsa { order: &'static [u8] },
}

/// A built-in signature by a known key: `signature` (base64url) of `input` under `jwk`.
#[derive(Debug)]
pub struct Probe {
    pub jwk: &'static str,
    pub input: &'static str,
    pub signature: &'static str,
}

#[derive(Debug)]
pub struct HostAlgorithm {
    pub alg: Algorithm,
    /// The host's name of the digest (`EVP_MD`), with `-pss` for RSASSA-PSS.
    pub hash: &'static str,
    pub form: SignatureForm,
    pub probe: Probe,
}

const RSA_JWK: &str = r#"{"e":"AQAB","kty":"RSA","n":"6xpkk90M1MiVKKOsrkZUGGkuhpuOe2Kte24P_kl7PZoLbqLZRGYhJBOlUdExe9CZQFmj6l8EJgvvfCMz02JM-8oJ_kuIy2y-XOVk-XSGDKbWyq0GlgpbGAKR_O0lHXPAjT-XGmU9FfjrnT_U_XxopIkqP9Zast0L2CQswMp9wZCopWNOpHMaI94KJqLxOWoSmdHaY0-Jp2SKjg41F7ol4saqjuHmqM5jr8F7BP2waNXydvyZ7nGNi4HiV6pf66mBzXFYw11h504CwSg6vC7njc7DcJFvp1ajwUrf-QwCWc604zbo9q7BeGE1wq9GWaYtwJRTLPQU-fDyyxte7LflmQ"}"#;

/// The order n of P-256 (SEC 2 §2.4.2), big-endian.
const P256_ORDER: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// The order n of P-384 (SEC 2 §2.5.1), big-endian.
const P384_ORDER: &[u8] = &[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];
/// The order n of P-521 (SEC 2 §2.6.1), big-endian, 66 bytes as in an ES512 r ‖ s half.
const P521_ORDER: &[u8] = &[
    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01, 0x48, 0xf7, 0x09,
    0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38,
    0x64, 0x09,
];

/// Every algorithm a host may verify, with the hash it is asked for and a known-good probe.
/// PS* and EdDSA are probed too. PS* name their padding in the hash (`sha256-pss`, …): an RSA key
/// with a bare `shaN` means PKCS#1 v1.5 and nothing else, so a host can never take a v1.5
/// signature for a PS256 token. Envoy's function does neither (it knows no such digest name, and
/// an Ed25519 key takes no digest), so the probe fails and they stay in wasm; a host that does
/// them right (the native module) is used.
pub const HOST_ALGORITHMS: &[HostAlgorithm] = &[
    HostAlgorithm {
        alg: Algorithm::RS256,
        hash: "sha256",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "Bp6Y3j66CPJ9bybNb9Qs15vd4M2mhgDgwi8iMC0M8tg0oZPaEHN6VbmhTinDAvV0nldq_f8z6YqZ55Y0B-lu7dlQmlNXa6w5Ba0fslJslyRjTVBTJq36rhridHIXvYq2CdcTsoc4rAWpeRw2su0hHvtdNhhkGHXhP5-gjr6XmmnMl5O1YfcAWrxfJjZfCfTTNm2Rud1-H8NvnjMR0UJU7lu6xbP30tM3TnBBwOiyEW87heESDw0ds4--RQ9E457M9H4slkfxB5LwYy-GRsoOfel9_B5wmDO5ivbpEBY-0aC0i1Y2EyIohup-7LrbZF81kFRGW3SBKShInp37XzIWSQ" },
    },
    HostAlgorithm {
        alg: Algorithm::RS384,
        hash: "sha384",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJSUzM4NCIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "Z0h5cYutT2qBEQ8ImSQTJnd0YLxEiVNylgnNCH9IlZLhQmyVawXt9WD7PyEmAXj5gSMdInAaS_YvqOPZcmI22abjNOicBCNRUOVJLK6C3H2Br8bMQ2LKB8DMOD29vsVBntUIF1zO-VqPLfMmdwxGz5FXYEGTUNbgpA7xZFw4mvDRkkYfgXw7BwWUyiabdaCsBfjX9TNWxRT-PlYd-cPFHbBRUeeEHcPcL7iuMoxp36oy04dYiMEmLMxHlergk_fadM6gjvCUvAmyq0dwSJWiH8xeXBNc7vsZqefU9HP9tFYCt1b3CPfITQckDfPxQ6I2yULL8A0JAyKqRRgBkESKHg" },
    },
    HostAlgorithm {
        alg: Algorithm::RS512,
        hash: "sha512",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJSUzUxMiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "5MxlcJLRisQz6aHcfr9tcLB6xBkBF0938THzZgLEJi8q_prEaw9eKzYoxlME0TXi9v9qCp05zsar7cazZ1AyskpyJwuvIiR_wUjUFmqib18FgZn_EXJsjkJy3n_4GAfQl7j48CckBmcy_uREVXBXVAOCa5tm8ZaWaq4wR8x5kF48r1OrG9p-INr27UTI-vF_2IlnAo_Cij94ZokRtkgA6C2vPdxeChqWpTUI_U35gQNxrKP7GzBqY5se-Du3XlxJ6JOeln2J4PB-_J6FAzquy9gV0-nAMcYze9WFK9xzufTJN_rcESbkGNkUUICTaKTEeLnumuGma6U9VWCWqJa8XQ" },
    },
    HostAlgorithm {
        alg: Algorithm::PS256,
        hash: "sha256-pss",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "57V5Lh4jAvHhWdtSX1SxKC-HV8UrPuaD5WQREGE8n3MnSKSzbnK178IfEuVcELfFp0-Jn9nFC7wh-IY5MoOyMyx1ZwSszEEjF6jWYo0kb-AqC7WCw4agud-hefI9dLb6JtUW3RmpGd3yvkDmQPFN0luuqmxkh_Ibu-7X42hfOea44DXNRc8lfPtjCfc-vppke5AfUUEpDWWeKJ61c-vQdJz5R3TUw5LfafbYLpzjiCbI82IJaSqpz-nNpsAiwbmCyRfnWWuak2GD6ZdAV56_gZ4Kaxlv_DRWzBBOvwxyFyfibImisqRmLKnjmCF-_PmKuYp_07F9aLdfMQekPr-tXA" },
    },
    HostAlgorithm {
        alg: Algorithm::PS384,
        hash: "sha384-pss",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJQUzM4NCIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "3I-ae1jALas_fkhU6oRheo9UABpuKiQzgT3PSCBFJylnO9BReGCq8hH9tUwichy-nm6Ik0f8h7j088BIEs5bFtQvDdCiaIV_lZk3ekddewCUNonPmX3j3tOqF7dIdEwaP5j9T0yuPanq5w0XmHtc6of_G5GQ1slAPxbp4h3QLyGfVIuH0Vz3mcdNG3jV0cJ8lc849Qc_I0gL87VUP7N8BpCnHk6Du54a2h3x3znhDxlUEMS3Gq-ldCylXyrGDFxz8WwefHGGpPv6wJ46YwM3tSj1txVpFsyEu-nRUU4tjLrdKk4qMW3K_86IrPZzUdnLCHKzGSWLkLwHpu2eV3I29g" },
    },
    HostAlgorithm {
        alg: Algorithm::PS512,
        hash: "sha512-pss",
        form: SignatureForm::Plain,
        probe: Probe { jwk: RSA_JWK, input: "eyJhbGciOiJQUzUxMiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "TxTvIhoO2fU6bDKpqBgwT2DtBPQSOi1lEZNgCn1RLAV0rL3ic8yHKQlc5cKFkMsXGB4_cp03zpSktGGom34bGk-AU80BCUwh7MdWSEYv7IC5C_H457cQBZgHsHu8fHGPdjzYgCy0-KWWWzR2aYfsjEW_i2juV970m6BvlKQNQINxGwi3XE90cpPr1NF2OhTOMW2YmOsfCueoi2C3all8AfX7tzo4csIuW998Jy8Qh9YQWqvhbdtm3ceIm290oVDLcG5ocpk6WyiQpoLSTHPDmCJoSJIbFil0Hwb0nXadSyyoxw_0S7veaq67ywUcTT0F6ppvkMJU6p-9MhMWX7X20Q" },
    },
    HostAlgorithm {
        alg: Algorithm::ES256,
        hash: "sha256",
        form: SignatureForm::Ecdsa { order: P256_ORDER },
        probe: Probe { jwk: r#"{"crv":"P-256","kty":"EC","x":"Ws10V1aHhhkUuA9Who7nnUMz_KtLL_nWPqzdDkpM2kA","y":"kA1jl3cy9AlUj_pqiqovr75zByffpXCpliJdySFHfZQ"}"#, input: "eyJhbGciOiJFUzI1NiIsImtpZCI6InAyNTYiLCJ0eXAiOiJKV1QifQ.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "z00FciLr3zD_dtv3l9IKNycgZaK-tQbKMTXOh-3f3K4Wc4qTLydx1sbGrWhv3_8rWY8cx6YHFAvYXCMHJnj_QA" },
    },
    HostAlgorithm {
        alg: Algorithm::ES384,
        hash: "sha384",
        form: SignatureForm::Ecdsa { order: P384_ORDER },
        probe: Probe { jwk: r#"{"crv":"P-384","kty":"EC","x":"gmlJXGosI0eNVIWD7od3EVJEx2_AeyQIUrcYTsTsninwSuVwtsWPUkxCR1bUCnbW","y":"TH2M3uYUB3HoHNP6adGFpl1dauHBH5gZDQ6xT6N2FYo24JGPJCwAV8ACh7GJdmsE"}"#, input: "eyJhbGciOiJFUzM4NCIsImtpZCI6InAzODQiLCJ0eXAiOiJKV1QifQ.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "ltTKOJSdtdXEzyxQMmDSgIWcFtgwOFj8669tawaJ-idNuj6iNILCRno6YNa8Rv4Hrot6N7yKlZQBj_dpRBpcR1bBfzmxRmgYn4SqSc6tudoXveDc7YxUGht7UQqvjN4q" },
    },
    HostAlgorithm {
        alg: Algorithm::ES512,
        hash: "sha512",
        form: SignatureForm::Ecdsa { order: P521_ORDER },
        probe: Probe { jwk: r#"{"crv":"P-521","kty":"EC","x":"ALYhfIVRaUBNiGyNLkDY6h83ff5FJpTboyHsjAhLi__wm5rDx5XZ5QAa6VvXSzRNIjeWgsABqvBFilHx8ej_GntS","y":"AfJI0sLJElYJTGakIES5dWL987p3ac_iePvTQXXR8rrtARpjjX0ifyfK1U6aL3Wb2qgZ2siKeWA4-2sp655iuDBR"}"#, input: "eyJhbGciOiJFUzUxMiIsImtpZCI6InA1MjEiLCJ0eXAiOiJKV1QifQ.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "AS9hYupfbbgVWcO_Ibaq_O1ao8GTwe6umqwGd9JPRKUKQfUfa-F1DBcmqCYfN-pZsrcej6R6yJU6Y4MOCecLiV48APNiqQ0onWXofzZ_lX_WcjLn613OGho71rmd-R3WdbXmW8D_cQj54bXDTa2IeUC2UMkIamshAYbNpqwLQ7O1yB0b" },
    },
    HostAlgorithm {
        alg: Algorithm::EdDSA,
        hash: "sha512",
        form: SignatureForm::Plain,
        probe: Probe { jwk: r#"{"crv":"Ed25519","kty":"OKP","x":"9mmg0mtJ0GMJMj4pfIGuwmLN6UJB46wCxFWPBTZCVoU"}"#, input: "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMjU1MTkiLCJ0eXAiOiJKV1QifQ.eyJwcm9iZSI6IndhcmRlbiJ9", signature: "XWJ7BbACIZpbDGL5xlrfEH3whJ6-Ox8a4OM0YxwnU9mBssTa80GWSMz3HpN99Eax32Cuz6WMcA2rht__hPGQDQ" },
    },
];

/// Where an algorithm's signatures are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Warden's own verifiers, compiled into the filter.
    Wasm,
    /// The proxy's `verify_signature`.
    Host,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Wasm => "wasm",
            Backend::Host => "host",
        }
    }
}

fn bit(alg: Algorithm) -> u32 {
    let index = Algorithm::ALL.iter().position(|&a| a == alg).unwrap_or(0);
    1u32 << index
}

fn row(alg: Algorithm) -> Option<&'static HostAlgorithm> {
    HOST_ALGORITHMS.iter().find(|r| r.alg == alg)
}

/// Which backend checks each algorithm's signatures in one VM.
pub struct SignatureBackends {
    host: Option<Box<dyn HostCrypto>>,
    /// One bit per `Algorithm::ALL` index: the host verifies it.
    on_host: u32,
}

impl Default for SignatureBackends {
    fn default() -> Self {
        SignatureBackends::in_wasm()
    }
}

impl std::fmt::Debug for SignatureBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureBackends")
            .field("on_host", &self.on_host)
            .finish()
    }
}

impl SignatureBackends {
    /// Every algorithm in wasm (no host function, or none wanted).
    pub fn in_wasm() -> Self {
        SignatureBackends {
            host: None,
            on_host: 0,
        }
    }

    /// Probes `host` for every algorithm of [`HOST_ALGORITHMS`] and keeps it for those it
    /// verifies correctly.
    pub fn detect(host: Box<dyn HostCrypto>) -> Self {
        let on_host = HOST_ALGORITHMS
            .iter()
            .filter(|row| probe(host.as_ref(), row))
            .fold(0, |bits, row| bits | bit(row.alg));
        SignatureBackends {
            host: Some(host),
            on_host,
        }
    }

    pub fn backend(&self, alg: Algorithm) -> Backend {
        if self.host.is_some() && self.on_host & bit(alg) != 0 {
            Backend::Host
        } else {
            Backend::Wasm
        }
    }

    /// The backend of every algorithm, in `Algorithm::ALL` order (for the start-up log and the
    /// metrics).
    pub fn table(&self) -> Vec<(Algorithm, Backend)> {
        Algorithm::ALL
            .into_iter()
            .map(|alg| (alg, self.backend(alg)))
            .collect()
    }

    /// Whether `signature` is `alg`'s signature of `input` under `key` (which the caller has
    /// already matched to `alg`, `Jwk::fits`).
    pub fn verify(&self, key: &Jwk, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        if let (Some(host), Some(row)) = (self.host.as_deref(), row(alg)) {
            if self.on_host & bit(alg) != 0 && !key.spki.is_empty() {
                return host_verify(host, row, &key.spki, input, signature);
            }
        }
        key.material.verify(alg, input, signature)
    }
}

/// One check on the host: true only for an answer that says so, nothing else.
fn host_verify(
    host: &dyn HostCrypto,
    row: &HostAlgorithm,
    spki: &[u8],
    input: &[u8],
    signature: &[u8],
) -> bool {
    let converted;
    let signature = match row.form {
        SignatureForm::Plain => signature,
        SignatureForm::Ecdsa { order } => match der::ecdsa_signature(signature, order) {
            Some(der) => {
                converted = der;
                converted.as_slice()
            }
            None => return false,
        },
    };
    let arguments = encode_arguments(row.hash, spki, signature, input);
    match host.verify_signature(&arguments) {
        Some(answer) => decode_result(&answer) == Ok(true),
        None => false,
    }
}

/// The host passes for `row` only if it accepts the probe and refuses the probe's signature
/// over another text and a signature with one bit flipped.
fn probe(host: &dyn HostCrypto, row: &HostAlgorithm) -> bool {
    let Some(key) = KeySet::parse(row.probe.jwk)
        .ok()
        .and_then(|set| set.keys.into_iter().next())
    else {
        return false;
    };
    let Some(signature) = b64::decode(row.probe.signature) else {
        return false;
    };
    let input = row.probe.input.as_bytes();
    let other_input = [input, b"."].concat();
    let mut flipped = signature.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    host_verify(host, row, &key.spki, input, &signature)
        && !host_verify(host, row, &key.spki, &other_input, &signature)
        && !host_verify(host, row, &key.spki, input, &flipped)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `VerifySignatureArguments`.
pub fn encode_arguments(hash: &str, public_key: &[u8], signature: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(hash.len() + public_key.len() + signature.len() + text.len() + 16);
    push_bytes_field(&mut out, 1, hash.as_bytes());
    push_bytes_field(&mut out, 2, public_key);
    push_bytes_field(&mut out, 3, signature);
    push_bytes_field(&mut out, 4, text);
    out
}

/// A `VerifySignatureArguments` read back ([`decode_arguments`]), borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignatureArguments<'a> {
    pub hash_function: &'a str,
    pub public_key: &'a [u8],
    pub signature: &'a [u8],
    pub text: &'a [u8],
}

/// The inverse of [`encode_arguments`], for a host that implements the function itself (the
/// native module): fields 1–4 length-delimited, an absent one empty, a repeated one the last
/// (as protobuf reads it), any other field skipped by its wire type. `None` for anything that is
/// not such a message: a truncated field, a field 1–4 of another wire type, field number 0, a
/// group, a `hash_function` that is not UTF-8.
pub fn decode_arguments(bytes: &[u8]) -> Option<SignatureArguments<'_>> {
    let mut arguments = SignatureArguments::default();
    let mut at = 0;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at).ok()?;
        let (field, wire_type) = (key >> 3, key & 7);
        // Field numbers are 1 to 2²⁹ − 1: the key is a 32-bit varint.
        if field == 0 || key > u64::from(u32::MAX) {
            return None;
        }
        match (field, wire_type) {
            (_, 2) => {
                let len = usize::try_from(read_varint(bytes, &mut at).ok()?).ok()?;
                let end = at.checked_add(len)?;
                let value = bytes.get(at..end)?;
                at = end;
                match field {
                    1 => arguments.hash_function = std::str::from_utf8(value).ok()?,
                    2 => arguments.public_key = value,
                    3 => arguments.signature = value,
                    4 => arguments.text = value,
                    _ => {}
                }
            }
            (1..=4, _) => return None,
            (_, 0) => {
                read_varint(bytes, &mut at).ok()?;
            }
            (_, 1) | (_, 5) => {
                let width = if wire_type == 1 { 8 } else { 4 };
                at = at.checked_add(width).filter(|&end| end <= bytes.len())?;
            }
            _ => return None,
        }
    }
    Some(arguments)
}

/// `VerifySignatureResult` as protobuf writes it (proto3 leaves a false `result` out), the
/// inverse of [`decode_result`]; no `error` is ever written.
pub fn encode_result(ok: bool) -> Vec<u8> {
    if ok {
        vec![0x08, 0x01]
    } else {
        Vec::new()
    }
}

/// Why a host's answer is not a `VerifySignatureResult` we trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    Truncated,
    /// A field or wire type the message does not have, or a field twice.
    Unexpected,
    /// `result` neither 0 nor 1.
    NotABool,
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, AnswerError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or(AnswerError::Truncated)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(AnswerError::Unexpected)
}

/// `VerifySignatureResult`: whether `result` is true (proto3 leaves a false `result` and an empty
/// `error` out). A non-empty `error` with `result` true is contradictory: not trusted.
pub fn decode_result(bytes: &[u8]) -> Result<bool, AnswerError> {
    let mut at = 0;
    let mut result: Option<bool> = None;
    let mut error: Option<bool> = None;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at)?;
        match key {
            0x08 if result.is_none() => {
                result = Some(match read_varint(bytes, &mut at)? {
                    0 => false,
                    1 => true,
                    _ => return Err(AnswerError::NotABool),
                });
            }
            0x12 if error.is_none() => {
                let len = usize::try_from(read_varint(bytes, &mut at)?)
                    .map_err(|_| AnswerError::Truncated)?;
                let end = at.checked_add(len).ok_or(AnswerError::Truncated)?;
                if end > bytes.len() {
                    return Err(AnswerError::Truncated);
                }
                error = Some(len > 0);
                at = end;
            }
            _ => return Err(AnswerError::Unexpected),
        }
    }
    match (result, error) {
        (Some(true), Some(true)) => Err(AnswerError::Unexpected),
        (Some(true), _) => Ok(true),
        _ => Ok(false),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        encode_arguments("sha256", &[0x30; 300], &[7; 256], b"header.payload")
    }

    #[test]
    fn arguments_round_trip() {
        let bytes = sample();
        let decoded = decode_arguments(&bytes).unwrap();
        assert_eq!(
            decoded,
            SignatureArguments {
                hash_function: "sha256",
                public_key: &[0x30; 300],
                signature: &[7; 256],
                text: b"header.payload",
            }
        );
        let empty = encode_arguments("", &[], &[], &[]);
        assert_eq!(
            decode_arguments(&empty).unwrap(),
            SignatureArguments::default()
        );
        // proto3 may leave empty fields out altogether.
        assert_eq!(
            decode_arguments(&[]).unwrap(),
            SignatureArguments::default()
        );
    }

    #[test]
    fn truncated_arguments_are_refused_at_every_length() {
        let bytes = sample();
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            // A prefix that ends exactly between two fields is a well-formed shorter message.
            let ends_between_fields = [0, 8, 8 + 3 + 300, 8 + 3 + 300 + 3 + 256].contains(&len);
            assert_eq!(
                decode_arguments(prefix).is_some(),
                ends_between_fields,
                "prefix of {len} bytes"
            );
        }
        // A length running past the end, and one that overflows.
        assert!(decode_arguments(&[0x12, 0x05, 1, 2]).is_none());
        assert!(decode_arguments(&[
            0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ])
        .is_none());
        // A varint that never ends.
        assert!(decode_arguments(&[0x80; 11]).is_none());
    }

    #[test]
    fn wrong_wire_types_are_refused() {
        for field in 1u8..=4 {
            for wire_type in [0u8, 1, 3, 4, 5] {
                let mut bytes = vec![field << 3 | wire_type];
                bytes.extend_from_slice(&[1; 8]);
                assert!(
                    decode_arguments(&bytes).is_none(),
                    "field {field}, wire type {wire_type}"
                );
            }
        }
        // Field number 0, groups and the unused wire types 6 and 7, on any field.
        for key in [0x02u8, 0x2b, 0x2c, 0x2e, 0x2f] {
            assert!(decode_arguments(&[key, 0]).is_none(), "key {key:#x}");
        }
        // A key beyond 32 bits.
        assert!(decode_arguments(&[0x82, 0x80, 0x80, 0x80, 0x80, 0x01, 0]).is_none());
        // hash_function is a protobuf string: UTF-8 only.
        assert!(decode_arguments(&[0x0a, 0x01, 0xff]).is_none());
    }

    #[test]
    fn unknown_fields_are_skipped_and_the_last_value_wins() {
        let mut bytes = vec![
            0x28, 0x96, 0x01, // field 5, varint 150
            0x31, 1, 2, 3, 4, 5, 6, 7, 8, // field 6, 64-bit
            0x3d, 1, 2, 3, 4, // field 7, 32-bit
            0x2a, 0x02, b'p', b'k', // field 5, bytes (public_key_pem in newer Envoys)
            0x0a, 0x04, b's', b'h', b'a', b'1', // hash_function, replaced below
        ];
        bytes.extend(sample());
        let decoded = decode_arguments(&bytes).unwrap();
        assert_eq!(decoded.hash_function, "sha256");
        assert_eq!(decoded.text, b"header.payload");
        // A skipped fixed-width field that runs past the end.
        assert!(decode_arguments(&[0x31, 1, 2, 3]).is_none());
        assert!(decode_arguments(&[0x3d, 1, 2, 3]).is_none());
    }

    #[test]
    fn results_round_trip() {
        assert_eq!(decode_result(&encode_result(true)), Ok(true));
        assert_eq!(decode_result(&encode_result(false)), Ok(false));
    }
}
