//! Verifies one valid Project Wycheproof signature N times through the filter's path
//! (`KeySet::parse` → `KeyMaterial::verify`), to count the instructions of a signature check:
//!
//! ```sh
//! cargo build --release -p warden-core --example verify_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/verify_cost ES256 1
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/verify_cost ES256 101
//! ```
//!
//! The difference of the two totals divided by 100 is the cost of one check; key parsing and
//! the one-time generator tables are the same in both runs and cancel out.

use serde_json::Value;
use std::process::ExitCode;
use warden_core::jwk::KeySet;
use warden_core::Algorithm;

fn vector_file(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::RS256 => "rsa_signature_2048_sha256_test.json",
        Algorithm::PS256 => "rsa_pss_2048_sha256_mgf1_32_test.json",
        Algorithm::ES256 => "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES384 => "ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::ES512 => "ecdsa_secp521r1_sha512_p1363_test.json",
        Algorithm::EdDSA => "ed25519_test.json",
        _ => return None,
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn run(alg_name: &str, count: &str) -> Result<usize, String> {
    let alg = Algorithm::from_name(alg_name).ok_or("unknown algorithm")?;
    let count: usize = count.parse().map_err(|_| "count must be a number")?;
    let file = vector_file(alg).ok_or("no vectors for this algorithm")?;
    let path = format!(
        "{}/tests/data/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let jwk_of = |g: &Value| g.get("publicKeyJwk").or_else(|| g.get("keyJwk")).cloned();
    let (group, jwk) = doc
        .get("testGroups")
        .and_then(Value::as_array)
        .and_then(|groups| groups.iter().find_map(|g| Some((g, jwk_of(g)?))))
        .ok_or("no group with a JWK")?;
    let set = KeySet::parse(&jwk.to_string()).map_err(|e| e.to_string())?;
    let key = &set.keys.first().ok_or("no key")?.material;
    let field = |t: &Value, name: &str| t.get(name).and_then(Value::as_str).map(str::to_owned);
    let test = group
        .get("tests")
        .and_then(Value::as_array)
        .and_then(|tests| {
            tests
                .iter()
                .find(|t| field(t, "result").as_deref() == Some("valid"))
        })
        .ok_or("no valid test")?;
    let msg = field(test, "msg").and_then(|m| hex(&m)).ok_or("bad msg")?;
    let sig = field(test, "sig").and_then(|s| hex(&s)).ok_or("bad sig")?;
    let mut ok = 0;
    for _ in 0..count {
        ok += usize::from(key.verify(alg, &msg, &sig));
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(alg), Some(count)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: verify_cost ALG COUNT");
        return ExitCode::FAILURE;
    };
    match run(alg, count) {
        Ok(ok) => {
            println!("{alg}: {ok} of {count} verified");
            if ok.to_string() == *count {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("verify_cost: {e}");
            ExitCode::FAILURE
        }
    }
}
