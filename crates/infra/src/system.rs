//! Adapters for the time, ids and secrets.

use auth_domain::common::{Clock, IdGenerator, SecretGenerator};
use base64::Engine as _;
use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng as _;
use uuid::Uuid;

/// The system clock, to the microsecond (the precision both databases keep,
/// so a value read back equals the value written).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// UUIDv7 ids: unique, and sorted by creation time.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Generator;

impl IdGenerator for UuidV7Generator {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// 256-bit secrets from the operating system's CSPRNG (through `rand`'s
/// thread-local ChaCha generator, seeded and reseeded from it), base64url
/// without padding: 43 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecretGenerator;

impl SecretGenerator for RandomSecretGenerator {
    fn generate(&self) -> String {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_url_safe_and_distinct() {
        let generator = RandomSecretGenerator;
        let a = generator.generate();
        let b = generator.generate();
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn ids_are_version_7_and_increasing() {
        let a = UuidV7Generator.new_id();
        let b = UuidV7Generator.new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(a < b);
    }
}
