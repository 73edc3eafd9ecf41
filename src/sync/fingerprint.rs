//! Digests of what a tenant's view of a whole-cloud listing holds: equal digests mean the view
//! would change nothing, so an idle sweep need not compare it (see [`super::listing::View`]).
use std::hash::{Hash, Hasher};

use sha2::{Digest as _, Sha256};

/// SHA-256 of a listed object's fields.
pub type Digest = [u8; 32];

/// What a fingerprint starts with. The crate's version is part of it: a release may record
/// an image differently, so its first sweep compares every view once.
pub const FINGERPRINT_SALT: &str = concat!("cloudcensus view ", env!("CARGO_PKG_VERSION"), " 2");

/// Feeds what `Hash` writes into SHA-256: a digest stable across processes and 256 bits
/// wide, where `DefaultHasher` is neither.
pub struct DigestWriter(Sha256);

impl DigestWriter {
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    pub fn finish_digest(self) -> Digest {
        self.0.finalize().into()
    }

    pub fn of(value: &impl Hash) -> Digest {
        let mut h = Self::new();
        value.hash(&mut h);
        h.finish_digest()
    }
}

impl Default for DigestWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher for DigestWriter {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Not used: the digest is read whole with `finish_digest`.
    fn finish(&self) -> u64 {
        let d: Digest = self.0.clone().finalize().into();
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }
}
