//! The current user's own account: profile, password, deletion.

use secrecy::SecretString;

use super::{AccountError, AuthService};
use crate::session::SessionId;
use crate::user::{
    AccessChanges, AccessUpdate, DisplayName, Password, PasswordVerification, Role, User,
};

impl AuthService {
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

    /// Changes the caller's password after checking the current one, and
    /// revokes every other session of the user (the caller's stays).
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`] when `current` does not match.
    #[tracing::instrument(name = "change_password", skip_all, fields(user_id = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        keep: SessionId,
        current: &SecretString,
        new: &Password,
    ) -> Result<(), AccountError> {
        self.check_password(user, current).await?;
        let hash = self.ports.hasher.hash(new).await?;
        let now = self.ports.clock.now();
        if !self
            .ports
            .users
            .update_password_hash(user.id, &hash, now)
            .await?
        {
            return Err(AccountError::NotFound);
        }
        let revoked = self
            .ports
            .sessions
            .revoke_all_except(user.id, keep, now)
            .await?;
        tracing::info!(revoked, "password changed; other sessions revoked");
        Ok(())
    }

    /// Deletes the caller's account, with their projects and sessions, after
    /// checking their password.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`] when `password` does not match;
    /// [`AccountError::LastAdmin`] when the user is the last active
    /// administrator.
    #[tracing::instrument(name = "delete_account", skip_all, fields(user_id = %user.id))]
    pub async fn delete_account(
        &self,
        user: &User,
        password: &SecretString,
    ) -> Result<(), AccountError> {
        self.check_password(user, password).await?;
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
                )
                .await?
            {
                AccessUpdate::Updated { .. } => {}
                AccessUpdate::NotFound => return Err(AccountError::NotFound),
                AccessUpdate::LastAdmin => return Err(AccountError::LastAdmin),
            }
        }
        if !self.ports.users.delete(user.id).await? {
            return Err(AccountError::NotFound);
        }
        tracing::info!("account deleted");
        Ok(())
    }

    async fn check_password(
        &self,
        user: &User,
        candidate: &SecretString,
    ) -> Result<(), AccountError> {
        match self
            .ports
            .hasher
            .verify(candidate, &user.password_hash)
            .await?
        {
            PasswordVerification::Mismatch => Err(AccountError::WrongPassword),
            PasswordVerification::Match { .. } => Ok(()),
        }
    }
}
