//! The current user's own account: profile, password, deletion.

use std::sync::Arc;

use secrecy::SecretString;

use super::{
    AccessChanges, AccessUpdate, DisplayName, Password, PasswordChange, PasswordHasher,
    PasswordVerification, Role, User, UserRepository,
};
use crate::audit::{self, AuditDetails, AuditEventType, Auditor, Origin};
use crate::auth::{CheckRefused, PasswordGuard};
use crate::common::Clock;
use crate::session::{ClientInfo, SessionId};

/// Why a change to the caller's own account failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The confirming password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// Too many failed password checks for this account; no password was
    /// checked.
    #[error("too many failed password checks")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// The last active administrator cannot delete their account.
    #[error("the last active administrator cannot be deleted")]
    LastAdmin,
    /// The user vanished meanwhile.
    #[error("user not found")]
    NotFound,
    /// Storage or hashing capacity is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

crate::common::absorb_failures!(AccountError);
crate::common::absorb_hash_failures!(AccountError);

impl From<CheckRefused> for AccountError {
    fn from(refusal: CheckRefused) -> Self {
        match refusal {
            CheckRefused::RateLimited(retry_after_secs) => Self::RateLimited { retry_after_secs },
            CheckRefused::Storage(e) => e.into(),
            CheckRefused::Hash(e) => e.into(),
        }
    }
}

/// The ports [`AccountService`] works through.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct AccountPorts {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Hashes new passwords.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Checks confirming passwords within the log-in limits.
    pub guard: PasswordGuard,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The audit trail: password changes and deletions.
    pub audit: Auditor,
}

/// What the signed-in user does to their own account.
#[allow(missing_debug_implementations)]
pub struct AccountService {
    ports: AccountPorts,
}

impl AccountService {
    /// A service on `ports`.
    #[must_use]
    pub fn new(ports: AccountPorts) -> Self {
        Self { ports }
    }

    /// Sets or clears the caller's display name.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails; `NotFound` when the
    /// user vanished meanwhile.
    pub async fn update_profile(
        &self,
        mut user: User,
        display_name: Option<DisplayName>,
    ) -> Result<User, AccountError> {
        let now = self.ports.clock.now();
        if !self
            .ports
            .users
            .update_display_name(user.id, display_name.clone(), now)
            .await?
        {
            return Err(AccountError::NotFound);
        }
        user.display_name = display_name;
        user.updated_at = now;
        Ok(user)
    }

    /// Changes the caller's password after checking the current one,
    /// revokes every other session of the user (the caller's stays) and
    /// every outstanding password-reset link. Recorded as
    /// `password_changed`; all of it is one write.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`] when `current` does not match;
    /// [`AccountError::RateLimited`] past the per-account limits on failed
    /// password checks (the same as log-in's), with nothing checked.
    #[tracing::instrument(name = "change_password", skip_all, fields(user_id = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        keep: SessionId,
        client: &ClientInfo,
        current: &SecretString,
        new: &Password,
    ) -> Result<(), AccountError> {
        self.check_password(user, client.ip.as_deref(), current)
            .await?;
        let hash = self.ports.hasher.hash(new).await?;
        let now = self.ports.clock.now();
        let event = self.ports.audit.event(
            AuditEventType::PasswordChanged,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new(),
        );
        // The other sessions and the reset links end in the same write.
        let Some(revoked) = self
            .ports
            .users
            .update_password_hash(
                user.id,
                &hash,
                now,
                Some(event.clone()),
                PasswordChange::NewPassword { keep: Some(keep) },
            )
            .await?
        else {
            return Err(AccountError::NotFound);
        };
        audit::emit(&event);
        tracing::info!(revoked, "password changed; other sessions revoked");
        Ok(())
    }

    /// Deletes the caller's account, with their projects and sessions, after
    /// checking their password. Recorded as `account_deleted` (with the
    /// address it had), in the deletion's transaction.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`] when `password` does not match;
    /// [`AccountError::RateLimited`] past the limits on failed password
    /// checks; [`AccountError::LastAdmin`] when the user is the last active
    /// administrator.
    #[tracing::instrument(name = "delete_account", skip_all, fields(user_id = %user.id))]
    pub async fn delete_account(
        &self,
        user: &User,
        client: &ClientInfo,
        password: &SecretString,
    ) -> Result<(), AccountError> {
        self.check_password(user, client.ip.as_deref(), password)
            .await?;
        if user.is_active && user.role == Role::Admin {
            // Disabling first applies the last-admin rule atomically; the
            // deletion follows.
            match self
                .ports
                .users
                .update_access(
                    user.id,
                    AccessChanges {
                        is_active: Some(false),
                        role: None,
                    },
                    self.ports.clock.now(),
                    // Not an administrative change: the deletion's event
                    // tells the story.
                    None,
                )
                .await?
            {
                AccessUpdate::Updated { .. } => {}
                AccessUpdate::NotFound => return Err(AccountError::NotFound),
                AccessUpdate::LastAdmin => return Err(AccountError::LastAdmin),
            }
        }
        let event = self.ports.audit.event(
            AuditEventType::AccountDeleted,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new().with("email", user.email.as_str()),
        );
        if !self.ports.users.delete(user.id, &event).await? {
            return Err(AccountError::NotFound);
        }
        audit::emit(&event);
        tracing::info!("account deleted");
        Ok(())
    }

    /// Checks a confirming password, counted against the same limits as
    /// log-in.
    async fn check_password(
        &self,
        user: &User,
        client_ip: Option<&str>,
        candidate: &SecretString,
    ) -> Result<(), AccountError> {
        match self
            .ports
            .guard
            .check(
                user.email.as_str(),
                client_ip,
                candidate,
                &user.password_hash,
            )
            .await?
        {
            PasswordVerification::Match { .. } => Ok(()),
            PasswordVerification::Mismatch => Err(AccountError::WrongPassword),
        }
    }
}
