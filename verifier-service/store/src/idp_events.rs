//! The single use of identity providers' logout tokens and security event tokens: a token's
//! `jti` is claimed (`SET NX EXAT`) before the revocation it asks for, and released when that
//! revocation could not be stored (the provider retries the same token).

use super::keys::idp_event_jti_key;
use super::{Store, StoreError};

impl Store {
    /// Claims `jti` of `issuer` until `until` (unix seconds): `true` when this is its first use,
    /// `false` when it was claimed before (a replay).
    pub async fn claim_idp_event_jti(
        &self,
        issuer: &str,
        jti: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let key = idp_event_jti_key(issuer, jti);
        let reply: Option<String> = self
            .write(|_| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg("1").arg("NX").arg("EXAT").arg(until);
                cmd
            })
            .await?;
        Ok(reply.is_some())
    }

    /// Releases a claim whose revocation failed, so the provider's retry is not a replay.
    pub async fn release_idp_event_jti(&self, issuer: &str, jti: &str) -> Result<(), StoreError> {
        let key = idp_event_jti_key(issuer, jti);
        let _: i64 = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("DEL").arg(&key);
                pipe
            })
            .await
            .map(|(deleted,): (i64,)| deleted)?;
        Ok(())
    }
}
