//! The current user's own account: profile, password, deletion.

use secrecy::SecretString;

use super::limits::AttemptKeys;
use super::{AccountError, AuthService};
use crate::mail::TokenPurpose;
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

    /// Changes the caller's password after checking the current one,
    /// revokes every other session of the user (the caller's stays) and
    /// every outstanding password-reset link.
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
        client_ip: Option<&str>,
        current: &SecretString,
        new: &Password,
    ) -> Result<(), AccountError> {
        self.check_password(user, client_ip, current).await?;
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
        if let Some((_, tokens)) = &self.mail {
            tokens
                .invalidate(user.id, TokenPurpose::ResetPassword, now)
                .await?;
        }
        tracing::info!(revoked, "password changed; other sessions revoked");
        Ok(())
    }

    /// Deletes the caller's account, with their projects and sessions, after
    /// checking their password.
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
        client_ip: Option<&str>,
        password: &SecretString,
    ) -> Result<(), AccountError> {
        self.check_password(user, client_ip, password).await?;
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

    /// Checks a confirming password, counted against the same per-account
    /// limits as log-in: a stolen access token gives no more guesses than
    /// the log-in form.
    async fn check_password(
        &self,
        user: &User,
        client_ip: Option<&str>,
        candidate: &SecretString,
    ) -> Result<(), AccountError> {
        let keys = AttemptKeys::new(user.email.as_str(), client_ip);
        self.reserve_password_check(&keys).await?;
        match self
            .ports
            .hasher
            .verify(candidate, &user.password_hash)
            .await
        {
            Ok(PasswordVerification::Match { .. }) => {
                self.password_check_passed(&keys).await;
                Ok(())
            }
            Ok(PasswordVerification::Mismatch) => Err(AccountError::WrongPassword),
            Err(error) => {
                self.password_check_not_made(&keys).await;
                Err(error.into())
            }
        }
    }
}
