//! ECDSA verification (FIPS 186-5 §6.4.2) for JWS ES256 (P-256), ES384 (P-384) and ES512
//! (P-521), on 32-bit limbs: one implementation generic over the curve (`Curve`) and its limb
//! count `L` (8 for P-256, 12 for P-384, 17 for P-521); only sizes and constants differ between
//! the curves.
//!
//! - `field`: arithmetic mod p and mod n in Montgomery form, on the shared `crypto::limbs`;
//! - `curve`: the curve constants (SEC 2 §2.4.2, §2.5.1) and field operations per curve;
//! - `point`: Jacobian coordinates, the a = −3 doubling and mixed addition;
//! - `table`: precomputed multiples of G (once per process) and of each key, and u1·G + u2·Q;
//! - `key`: key validation and the verification itself.
//!
//! Why not the RustCrypto `p256` / `p384` crates (about 2 ms per ES256 check and 9 ms per
//! ES384 check in wasmtime, against ~0.2 ms and ~0.9 ms here): on wasm32 they also use 32-bit
//! limbs, but they are written for secret scalars. Each check computes `u1·G` and `u2·Q` as
//! two separate constant-time 4-bit-window multiplications, each building its 15-point table
//! anew and reading every table entry at every window, with the complete (exception-free)
//! projective formulas of Renes, Costello and Batina (eprint 2015/1060), which cost more field
//! multiplications than Jacobian ones. Verification has no secret, so here the additions are
//! variable-time Jacobian a = −3 formulas with the exceptional cases (infinity, P + P, P − P)
//! handled by explicit branches, the two multiplications share their doublings, G's multiples
//! are computed once per process and each key's multiples once when the JWK is parsed.
//!
//! Edge cases handled explicitly: r, s ∈ [1, n−1] (CVE-2022-21449), an addition of a point to
//! itself (falls back to doubling) or to its negation (gives infinity), a sum at infinity
//! (rejected), u1 = 0 (no G terms). A wrong computation can only make a signature fail, never
//! pass: the result is compared with r, which the signer cannot choose after the fact.

mod curve;
mod field;
mod key;
mod point;
mod table;
#[cfg(test)]
mod tests;

pub use curve::{P256, P384, P521};
pub use key::{EcKeyError, EcdsaPublicKey};

/// An ES256 public key.
pub type P256PublicKey = EcdsaPublicKey<P256, 8>;
/// An ES384 public key.
pub type P384PublicKey = EcdsaPublicKey<P384, 12>;
/// An ES512 public key.
pub type P521PublicKey = EcdsaPublicKey<P521, 17>;
