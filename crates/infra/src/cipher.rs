//! TOTP secrets sealed at rest with AES-256-GCM (aws-lc-rs).
//!
//! Stored form: `v1.` followed by base64url (no padding) of the 12-byte
//! random nonce, the ciphertext and the 16-byte tag. The user's id is the
//! additional authenticated data, so a sealed secret copied onto another
//! user's row does not open.

use anyhow::anyhow;
use auth_domain::mfa::{CipherError, SealedSecret, SecretCipher, TotpSecret};
use auth_domain::user::UserId;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret as _, SecretString};

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
const PREFIX: &str = "v1.";

/// [`SecretCipher`] with AES-256-GCM.
pub struct AesGcmSecretCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for AesGcmSecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmSecretCipher([redacted])")
    }
}

impl AesGcmSecretCipher {
    /// A cipher with the 32-byte `key`.
    ///
    /// # Errors
    /// When the key is not 32 bytes.
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        if key.len() != KEY_BYTES {
            anyhow::bail!("the key must be {KEY_BYTES} bytes, not {}", key.len());
        }
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow!("invalid AES key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A cipher with the key written in standard base64
    /// (`AUTH__MFA__ENCRYPTION_KEY`).
    ///
    /// # Errors
    /// When the text is not base64 of 32 bytes.
    pub fn from_base64(key: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| anyhow!("the key is not standard base64"))?;
        Self::new(&bytes)
    }

    /// A fresh random key, in standard base64.
    ///
    /// # Panics
    /// When the system's random generator fails (nothing safe can run then).
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn generate_key() -> SecretString {
        let mut key = [0_u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system random generator works");
        SecretString::from(STANDARD.encode(key))
    }
}

/// Checks that `key` is standard base64 of 32 bytes without keeping it.
///
/// # Errors
/// As [`AesGcmSecretCipher::from_base64`].
pub fn check_key(key: &SecretString) -> anyhow::Result<()> {
    AesGcmSecretCipher::from_base64(key.expose_secret()).map(|_| ())
}

impl SecretCipher for AesGcmSecretCipher {
    fn seal(&self, user: UserId, secret: &TotpSecret) -> Result<SealedSecret, CipherError> {
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CipherError(anyhow!("no randomness for a nonce")))?;
        let mut sealed = secret.expose().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user.0.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| CipherError(anyhow!("sealing failed")))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(SealedSecret::from_stored(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(stored)
        )))
    }

    fn open(&self, user: UserId, sealed: &SealedSecret) -> Result<TotpSecret, CipherError> {
        let refuse = |why: &str| CipherError(anyhow!("sealed secret does not open: {why}"));
        let encoded = sealed
            .as_str()
            .strip_prefix(PREFIX)
            .ok_or_else(|| refuse("unknown format"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| refuse("not base64url"))?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(refuse("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refuse("bad nonce"))?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(user.0.as_bytes()), &mut buffer)
            .map_err(|_| refuse("wrong key, wrong user or tampered"))?;
        Ok(TotpSecret::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const USER: UserId = UserId(Uuid::from_u128(1));

    fn cipher() -> AesGcmSecretCipher {
        AesGcmSecretCipher::new(&[7; KEY_BYTES]).expect("32 bytes")
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_user() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        let sealed = cipher().seal(USER, &secret).expect("sealed");
        assert!(!sealed.as_str().contains("12345678901234567890"));
        assert_eq!(
            cipher().open(USER, &sealed).expect("opens").expose(),
            secret.expose()
        );
        let other = AesGcmSecretCipher::new(&[8; KEY_BYTES]).expect("32 bytes");
        assert!(other.open(USER, &sealed).is_err(), "another key");
        assert!(
            cipher().open(UserId(Uuid::from_u128(2)), &sealed).is_err(),
            "another user"
        );
        let mut tampered = sealed.as_str().to_owned();
        let last = tampered.pop().expect("not empty");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(
            cipher()
                .open(USER, &SealedSecret::from_stored(tampered))
                .is_err()
        );
        assert!(
            cipher()
                .open(USER, &SealedSecret::from_stored("v1.".into()))
                .is_err()
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let secret = TotpSecret::new(vec![1; 20]);
        assert_ne!(
            cipher().seal(USER, &secret).expect("sealed"),
            cipher().seal(USER, &secret).expect("sealed")
        );
    }

    #[test]
    fn keys_are_32_bytes_of_standard_base64() {
        let key = AesGcmSecretCipher::generate_key();
        assert!(check_key(&key).is_ok());
        assert!(check_key(&SecretString::from("c2hvcnQ=")).is_err());
        assert!(check_key(&SecretString::from("not base64!")).is_err());
        assert!(AesGcmSecretCipher::new(&[0; 16]).is_err());
    }
}
