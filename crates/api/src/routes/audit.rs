//! What both audit endpoints answer: the event as clients see it, and a page
//! of them.

use auth_domain::audit::{AuditDetails, AuditEvent, AuditEventType, DetailValue};
use auth_domain::common::Page;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extractors::encode_cursor;

/// The type of an audit event. `mfa_*` and `recovery_codes_regenerated`
/// are recorded by multi-factor authentication.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditEventTypeName {
    /// An account was created (sign-up, or `authd user create`).
    Signup,
    /// A log-in opened a session.
    LoginSucceeded,
    /// A log-in was refused; `details.reason` is `unknown_account`,
    /// `wrong_password` or `account_disabled`, `details.email` the address
    /// tried.
    LoginFailed,
    /// A log-in was refused by the failure limits (`details.retry_after_secs`).
    LoginRateLimited,
    /// A wrong second factor.
    MfaChallengeFailed,
    /// A rotated refresh token was reused; the session was revoked.
    RefreshReuseDetected,
    /// The user logged out.
    Logout,
    /// The user revoked one session (`details.session_id`) or all
    /// (`details.all`, `details.count`).
    SessionRevoked,
    /// The password was changed (by an operator: `details.by`).
    PasswordChanged,
    /// A reset link was asked for (`details.mail_sent`).
    PasswordResetRequested,
    /// The password was reset with a mailed link.
    PasswordReset,
    /// The address was verified with a mailed link.
    EmailVerified,
    /// Multi-factor authentication was turned on.
    MfaEnabled,
    /// Multi-factor authentication was turned off.
    MfaDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// An administrator (`actor_id`) or the operator (`actor_id` null)
    /// changed `role` and/or `is_active`; each changed field is
    /// `{"from": …, "to": …}` in `details`.
    AccountUpdated,
    /// The account was deleted (`details.email` is the address it had).
    AccountDeleted,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// UUIDv7.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = AuditEventTypeName, example = "login_failed")]
    pub kind: &'static str,
    /// The account concerned; kept after the account is deleted.
    pub user_id: Option<Uuid>,
    /// Who acted: the administrator, the user themselves, or null for
    /// anonymous requests and the command line.
    pub actor_id: Option<Uuid>,
    /// The client address of the request.
    pub ip: Option<String>,
    /// The `User-Agent` of the request.
    pub user_agent: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// What else is known; never a password, token or code.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&AuditEvent> for AuditEventResponse {
    fn from(event: &AuditEvent) -> Self {
        Self {
            id: event.id,
            kind: event.kind.as_str(),
            user_id: event.user_id.map(|id| id.0),
            actor_id: event.actor_id.map(|id| id.0),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            created_at: event.created_at,
            details: details_json(&event.details),
        }
    }
}

fn details_json(details: &AuditDetails) -> serde_json::Value {
    serde_json::Value::Object(
        details
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    DetailValue::Text(text) => serde_json::Value::from(text.as_str()),
                    DetailValue::Integer(n) => serde_json::Value::from(*n),
                    DetailValue::Bool(b) => serde_json::Value::from(*b),
                    DetailValue::Object(object) => details_json(object),
                };
                (key.to_owned(), value)
            })
            .collect(),
    )
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    /// Newest first.
    pub items: Vec<AuditEventResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<&Page<AuditEvent>> for AuditEventList {
    fn from(page: &Page<AuditEvent>) -> Self {
        Self {
            items: page.items.iter().map(AuditEventResponse::from).collect(),
            next_cursor: page.next.as_ref().map(encode_cursor),
        }
    }
}

/// Parses `?type=`.
pub(crate) fn parse_type(raw: &str) -> Result<AuditEventType, String> {
    raw.parse::<AuditEventType>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_lists_every_event_type() {
        let schema = serde_json::to_value(<AuditEventTypeName as utoipa::PartialSchema>::schema())
            .expect("json");
        let names: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let expected: Vec<&str> = AuditEventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, expected);
    }
}
