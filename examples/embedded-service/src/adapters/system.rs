//! The time, ids and secrets.

use std::sync::Mutex;

use auth_domain::common::{Clock, IdGenerator, SecretGenerator};
use base64::Engine as _;
use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};
use rand::Rng as _;
use uuid::Uuid;

/// The system clock, to the microsecond: page cursors carry microseconds,
/// so an instant finer than that would not survive a round trip through
/// one (auth-infra's clock truncates for the same reason, and because both
/// databases keep microseconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until told to move: tests inject it to reach
/// an expiry without sleeping.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// 256-bit secrets from `rand`'s thread-local generator (ChaCha, seeded from
/// the operating system), base64url without padding: 43 characters of
/// `[A-Za-z0-9_-]`, as the port asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecretGenerator;

impl SecretGenerator for RandomSecretGenerator {
    fn generate(&self) -> String {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
