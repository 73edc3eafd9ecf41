//! Credentials at rest: XChaCha20-Poly1305 with a key derived from `CLOUDCENSUS_SECRET_KEY`.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Marks the sealing scheme so a future key rotation or algorithm change can tell blobs apart.
const PREFIX: &str = "xc1:";
const NONCE_LEN: usize = 24;
pub const MIN_KEY_LEN: usize = 16;

#[derive(Clone, Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("CLOUDCENSUS_SECRET_KEY must be at least {MIN_KEY_LEN} characters")]
    KeyTooShort,
    #[error(
        "stored credentials cannot be decrypted (wrong CLOUDCENSUS_SECRET_KEY or corrupt data)"
    )]
    Undecryptable,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_passphrase(passphrase: &str) -> Result<Self, CryptoError> {
        if passphrase.chars().count() < MIN_KEY_LEN {
            return Err(CryptoError::KeyTooShort);
        }
        let key = Sha256::new()
            .chain_update(b"cloudcensus credentials v1\0")
            .chain_update(passphrase.as_bytes())
            .finalize();
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key),
        })
    }

    /// A box with a random key: for demo runs whose credentials need not outlive the process.
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD.encode(blob))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let blob = sealed
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|blob| blob.len() > NONCE_LEN)
            .ok_or(CryptoError::Undecryptable)?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let sb = SecretBox::from_passphrase("a long enough passphrase").unwrap();
        let sealed = sb.seal(b"hunter2-password");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(sb.open(&sealed).unwrap(), b"hunter2-password");
        assert_ne!(sealed, sb.seal(b"hunter2-password"), "nonces must differ");

        let other = SecretBox::from_passphrase("another long passphrase").unwrap();
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(sb.open(&tampered).is_err() || tampered == sealed);
        assert!(sb.open("garbage").is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(
            SecretBox::from_passphrase("short"),
            Err(CryptoError::KeyTooShort)
        ));
    }
}
