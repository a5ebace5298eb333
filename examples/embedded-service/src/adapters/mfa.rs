//! Log-in challenges in memory. This service never turns a second factor
//! on, so none is issued in practice; the port is still wired, as every
//! port is.

use std::sync::Mutex;

use async_trait::async_trait;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::mfa::{MfaChallenge, MfaChallengeRepository};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::poisoned;

/// [`MfaChallengeRepository`] in memory: each challenge with when it was
/// used.
#[derive(Debug, Default)]
pub struct InMemoryMfaChallenges {
    challenges: Mutex<Vec<(MfaChallenge, Option<DateTime<Utc>>)>>,
}

#[async_trait]
impl MfaChallengeRepository for InMemoryMfaChallenges {
    async fn insert(&self, challenge: &MfaChallenge) -> Result<(), StorageError> {
        self.challenges
            .lock()
            .map_err(poisoned)?
            .push((challenge.clone(), None));
        Ok(())
    }

    async fn find_valid(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<MfaChallenge>, StorageError> {
        Ok(self
            .challenges
            .lock()
            .map_err(poisoned)?
            .iter()
            .find(|(c, used)| &c.hash == hash && used.is_none() && now < c.expires_at)
            .map(|(c, _)| c.clone()))
    }

    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let mut challenges = self.challenges.lock().map_err(poisoned)?;
        match challenges
            .iter_mut()
            .find(|(c, used)| c.id == id && used.is_none() && now < c.expires_at)
        {
            Some((_, used)) => {
                *used = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn release(&self, id: Uuid) -> Result<(), StorageError> {
        let mut challenges = self.challenges.lock().map_err(poisoned)?;
        if let Some((_, used)) = challenges.iter_mut().find(|(c, _)| c.id == id) {
            *used = None;
        }
        Ok(())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut challenges = self.challenges.lock().map_err(poisoned)?;
        let count = challenges.len();
        challenges.retain(|(c, _)| c.expires_at >= before);
        Ok(u64::try_from(count - challenges.len()).unwrap_or(u64::MAX))
    }
}
