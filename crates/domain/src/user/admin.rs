use std::sync::Arc;

use super::{AccessUpdate, Email, Role, User, UserId, UserRepository};
use crate::audit::{self, AuditDetails, AuditEventType, Auditor, Origin};
use crate::common::{Clock, Page, PageRequest, StorageError};

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot be disabled or demoted")]
    LastAdmin,
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

impl From<StorageError> for AdminError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(e) => Self::Unavailable(e),
            StorageError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// Changes an administrator makes to a user; `None` leaves a field as is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessChanges {
    /// Enable or disable the account.
    pub is_active: Option<bool>,
    /// Promote or demote.
    pub role: Option<Role>,
}

/// User management for administrators (and the command line).
#[allow(missing_debug_implementations)]
pub struct AdminService {
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    audit: Auditor,
}

impl AdminService {
    /// A service on the given ports, recording changes with `audit`.
    #[must_use]
    pub fn new(users: Arc<dyn UserRepository>, clock: Arc<dyn Clock>, audit: Auditor) -> Self {
        Self {
            users,
            clock,
            audit,
        }
    }

    /// A page of users, newest first, filtered by e-mail prefix
    /// (case-insensitive).
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list_users(
        &self,
        page: PageRequest,
        email_prefix: Option<&str>,
    ) -> Result<Page<User>, AdminError> {
        let prefix = email_prefix
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty());
        // No stored address holds a control character, and PostgreSQL
        // refuses a NUL in a query: such a prefix matches nothing.
        if prefix
            .as_deref()
            .is_some_and(|p| p.chars().any(char::is_control))
        {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        Ok(self.users.list(page, prefix).await?)
    }

    /// One user.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] for an unknown id.
    pub async fn get_user(&self, id: UserId) -> Result<User, AdminError> {
        self.users.find_by_id(id).await?.ok_or(AdminError::NotFound)
    }

    /// Enables, disables, promotes or demotes a user. Disabling revokes all
    /// of the user's sessions in the same write, so their live access
    /// tokens fail at once and none comes back if the user is enabled
    /// again.
    /// Recorded as `account_updated` caused from `origin`, with the fields
    /// changed, in the change's transaction.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] for an unknown id; [`AdminError::LastAdmin`]
    /// when the change would leave no active administrator.
    #[tracing::instrument(name = "update_user_access", skip_all, fields(user_id = %id))]
    pub async fn update_access(
        &self,
        origin: &Origin,
        id: UserId,
        changes: AccessChanges,
    ) -> Result<User, AdminError> {
        let now = self.clock.now();
        let event = self.audit.event(
            AuditEventType::AccountUpdated,
            Some(id),
            origin,
            AuditDetails::new(),
        );
        match self
            .users
            .update_access(id, changes, now, Some(event.clone()))
            .await?
        {
            AccessUpdate::Updated { before, after } => {
                let event = event.with_access_changes(&before, &after);
                if !event.details.is_empty() {
                    audit::emit(&event);
                }
                if before.is_active && !after.is_active {
                    // Revoked by the same write (`update_access`).
                    tracing::info!("user disabled; sessions revoked");
                }
                Ok(*after)
            }
            AccessUpdate::NotFound => Err(AdminError::NotFound),
            AccessUpdate::LastAdmin => Err(AdminError::LastAdmin),
        }
    }

    /// Applies `changes` to the user with this address (the command line's
    /// `authd user set-role`, `disable` and `enable`), with the same rules
    /// as [`AdminService::update_access`]; recorded with no actor.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] for an unknown address;
    /// [`AdminError::LastAdmin`] when the change would leave no active
    /// administrator.
    pub async fn update_access_by_email(
        &self,
        email: &Email,
        changes: AccessChanges,
    ) -> Result<User, AdminError> {
        let user = self
            .users
            .find_by_email(email)
            .await?
            .ok_or(AdminError::NotFound)?;
        self.update_access(&Origin::operator(), user.id, changes)
            .await
    }
}
