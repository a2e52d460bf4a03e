//! `warden-verifier keygen`: writes a fresh key's private JWK and public JWKS files.

use crate::config::cli::KeygenArgs;
use crate::issuer::jose::keygen::{generate, jwks_of};
use crate::issuer::jose::JoseError;
use std::path::Path;

fn write_file(path: &Path, content: &str, private: bool) -> Result<(), JoseError> {
    let error = |e: std::io::Error| JoseError(format!("cannot write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if private {
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(error)?;
        file.write_all(content.as_bytes()).map_err(error)
    }
    #[cfg(not(unix))]
    {
        let _ = private;
        std::fs::write(path, content).map_err(error)
    }
}

/// `warden-verifier keygen`: a fresh key as a private JWK file and a public JWKS file.
pub fn main(args: &KeygenArgs) -> Result<(), String> {
    let jwk = generate(args.alg, args.kid.as_deref()).map_err(|e| e.to_string())?;
    let private = serde_json::to_string_pretty(&jwk).map_err(|e| e.to_string())?;
    let jwks = serde_json::to_string_pretty(&jwks_of(&jwk)).map_err(|e| e.to_string())?;
    write_file(&args.private_out, &format!("{private}\n"), true).map_err(|e| e.to_string())?;
    write_file(&args.jwks_out, &format!("{jwks}\n"), false).map_err(|e| e.to_string())?;
    Ok(())
}
