#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Warden's RSA verifier against the `rsa` crate on modulus sizes that are not multiples of 8
//! or 32 bits, where PSS's encoded message is one byte shorter than the modulus.

use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use warden_core::crypto::rsa::{Hash, RsaPublicKey};

#[test]
fn rsa_verifier_handles_odd_modulus_sizes() {
    for bits in [2049usize, 2056, 2072, 3071] {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let public = key.to_public_key();
        let ours =
            RsaPublicKey::new(&public.n().to_bytes_be(), &public.e().to_bytes_be(), 8192).unwrap();
        assert_eq!(ours.bits(), bits);
        let msg = b"header.payload";
        let pss = rsa::pss::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign_with_rng(&mut rand_core::OsRng, msg)
            .to_vec();
        assert!(ours.verify_pss(Hash::Sha256, msg, &pss), "PSS {bits}");
        assert!(!ours.verify_pss(Hash::Sha256, b"other", &pss));
        let pss512 = rsa::pss::SigningKey::<sha2::Sha512>::new(key.clone())
            .sign_with_rng(&mut rand_core::OsRng, msg)
            .to_vec();
        assert!(ours.verify_pss(Hash::Sha512, msg, &pss512), "PSS512 {bits}");
        let pkcs = rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(key.clone())
            .sign(msg)
            .to_vec();
        assert!(
            ours.verify_pkcs1v15(Hash::Sha384, msg, &pkcs),
            "PKCS1 {bits}"
        );
        // The signature with a leading zero byte added is refused, not re-padded.
        let mut longer = vec![0u8];
        longer.extend_from_slice(&pkcs);
        assert!(!ours.verify_pkcs1v15(Hash::Sha384, msg, &longer));
        // s = n is refused.
        let n = public.n().to_bytes_be();
        assert!(!ours.verify_pkcs1v15(Hash::Sha384, msg, &n));
    }
}
