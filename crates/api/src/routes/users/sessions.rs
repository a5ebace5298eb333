//! `/users/me/sessions`: listing and revoking the caller's sessions.

use actix_web::{HttpResponse, web};
use auth_domain::session::SessionId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extractors::{CurrentUser, PathId, RequestClient};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, NotFound};
use crate::state::AppState;

/// One signed-in device or client.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session id (the `sid` claim of its access tokens).
    pub id: Uuid,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When a token was last issued for it.
    pub last_used_at: DateTime<Utc>,
    /// The `User-Agent` it was opened with.
    pub user_agent: Option<String>,
    /// The client IP it was opened from.
    pub ip: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionResponse>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/users/me/sessions", operation_id = "list_sessions", tag = "users",
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 200, description = "Live sessions", body = SessionList),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.list_sessions(caller.user.id).await?;
    let items = sessions
        .into_iter()
        .map(|session| SessionResponse {
            id: session.id.0,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            current: session.id == caller.session_id,
            user_agent: session.client.user_agent,
            ip: session.client.ip,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { items }))
}

/// Revokes one of the caller's sessions.
#[utoipa::path(delete, path = "/users/me/sessions/{id}", operation_id = "revoke_session", tag = "users",
    params(("id" = String, Path, description = "Session id")),
    responses(
        BearerErrors, DatabaseUnavailable, NotFound,
        (status = 204, description = "Session revoked"),
    ))]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    PathId(id): PathId<SessionId>,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .revoke_session(caller.user.id, id, &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes every session of the caller, the current one included.
#[utoipa::path(delete, path = "/users/me/sessions", operation_id = "revoke_all_sessions", tag = "users",
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 204, description = "All sessions revoked"),
    ))]
pub async fn revoke_all(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .revoke_all_sessions(caller.user.id, &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
