//! One vocabulary of reason codes: the verifier's `reason`, the filter's `error_description`,
//! metric labels and the docs all use these strings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    TokenMissing,
    TokenMalformed,
    TokenTooLarge,
    AlgorithmNotAllowed,
    KeyNotFound,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    IssuerMismatch,
    AudienceMismatch,
    CritUnsupported,
    ClaimMissing,
    Revoked,
    StaleVersion,
    SessionMissing,
    SessionMismatch,
    RevokedAll,
    /// A token without `ver` issued (`iat`) at or before its user's revocation.
    UserRevoked,
    /// A token of a configured identity provider whose session (`iss`, `sid`) was revoked.
    SessionRevoked,
    VerifierUnavailable,
    /// The request path reads differently to different upstreams (answered 400, not 401).
    PathRejected,
    /// The route's metadata names a requirement the configuration does not have (answered 403:
    /// a configuration error, no token could help).
    RequirementUnknown,
}

impl Reason {
    pub const ALL: [Reason; 22] = [
        Reason::TokenMissing,
        Reason::TokenMalformed,
        Reason::TokenTooLarge,
        Reason::AlgorithmNotAllowed,
        Reason::KeyNotFound,
        Reason::SignatureInvalid,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::IssuerMismatch,
        Reason::AudienceMismatch,
        Reason::CritUnsupported,
        Reason::ClaimMissing,
        Reason::Revoked,
        Reason::StaleVersion,
        Reason::SessionMissing,
        Reason::SessionMismatch,
        Reason::RevokedAll,
        Reason::UserRevoked,
        Reason::SessionRevoked,
        Reason::VerifierUnavailable,
        Reason::PathRejected,
        Reason::RequirementUnknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenMissing => "token_missing",
            Reason::TokenMalformed => "token_malformed",
            Reason::TokenTooLarge => "token_too_large",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::KeyNotFound => "key_not_found",
            Reason::SignatureInvalid => "signature_invalid",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::IssuerMismatch => "issuer_mismatch",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::CritUnsupported => "crit_unsupported",
            Reason::ClaimMissing => "claim_missing",
            Reason::Revoked => "revoked",
            Reason::StaleVersion => "stale_version",
            Reason::SessionMissing => "session_missing",
            Reason::SessionMismatch => "session_mismatch",
            Reason::RevokedAll => "revoked_all",
            Reason::UserRevoked => "user_revoked",
            Reason::SessionRevoked => "session_revoked",
            Reason::VerifierUnavailable => "verifier_unavailable",
            Reason::PathRejected => "path_rejected",
            Reason::RequirementUnknown => "requirement_unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for r in Reason::ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::parse("nope"), None);
    }
}
