//! `GET /admin/users`, `GET /admin/users/{id}`, `PATCH /admin/users/{id}`.

use actix_web::{HttpResponse, web};
use auth_domain::audit::Origin;
use auth_domain::user::{AccessChanges, Role, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{
    AdminUser, PageQuery, Pagination, PathId, RequestClient, ValidJson, encode_cursor,
};
use crate::openapi::responses::{
    AdminErrors, DatabaseUnavailable, JsonBodyErrors, NotFound, PageErrors,
};
use crate::routes::{RoleName, UserResponse};
use crate::state::AppState;

/// A user as administrators see it: the user plus `is_active`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserResponse {
    /// What the user sees of themselves.
    #[serde(flatten)]
    pub user: UserResponse,
    /// `false` once disabled.
    pub is_active: bool,
}

impl From<&User> for AdminUserResponse {
    fn from(user: &User) -> Self {
        Self {
            user: UserResponse::from(user),
            is_active: user.is_active,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserList {
    /// Newest first.
    pub items: Vec<AdminUserResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Users, newest first, optionally by e-mail prefix (case-insensitive).
#[utoipa::path(get, path = "/admin/users", operation_id = "list_users", tag = "admin",
    params(
        PageQuery,
        ("email" = Option<String>, Query, description = "E-mail prefix, case-insensitive"),
    ),
    responses(
        AdminErrors, DatabaseUnavailable, PageErrors,
        (status = 200, description = "A page of users", body = AdminUserList),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminUser,
    pagination: Pagination,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .admin
        .list_users(pagination.page, pagination.param("email"))
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserList {
        items: page.items.iter().map(AdminUserResponse::from).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

/// One user.
#[utoipa::path(get, path = "/admin/users/{id}", operation_id = "get_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        AdminErrors, DatabaseUnavailable, NotFound,
        (status = 200, description = "The user", body = AdminUserResponse),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _admin: AdminUser,
    PathId(id): PathId<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = state.admin.get_user(id).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::from(&user)))
}

/// Changes to a user's access.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUser {
    /// Enable or disable; disabling revokes every session of the user.
    pub is_active: Option<bool>,
    /// `user` or `admin`.
    #[schema(value_type = Option<RoleName>)]
    pub role: Option<String>,
}

/// Enables, disables, promotes or demotes a user.
#[utoipa::path(patch, path = "/admin/users/{id}", operation_id = "update_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        JsonBodyErrors, AdminErrors, DatabaseUnavailable, NotFound,
        (status = 200, description = "The updated user", body = AdminUserResponse),
        (status = 409, description = "Would leave no active administrator (`last_admin`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    admin: AdminUser,
    RequestClient(client): RequestClient,
    PathId(id): PathId<UserId>,
    ValidJson(body): ValidJson<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let role = Fields::optional("role", body.role.as_deref().map(str::parse::<Role>))?;
    let user = state
        .admin
        .update_access(
            &Origin::user(admin.0.user.id, client),
            id,
            AccessChanges {
                is_active: body.is_active,
                role,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse::from(&user)))
}

/// Turns a user's MFA off (they lost their device) and revokes every
/// session of theirs. They log in with their password alone next, and may
/// enrol again.
#[utoipa::path(delete, path = "/admin/users/{id}/mfa", operation_id = "reset_user_mfa", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        AdminErrors, DatabaseUnavailable, NotFound,
        (status = 204, description = "MFA is off; the user's sessions are revoked"),
        (status = 409, description = "The user's MFA is not on (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reset_mfa(
    state: web::Data<AppState>,
    admin: AdminUser,
    RequestClient(client): RequestClient,
    PathId(id): PathId<UserId>,
) -> Result<HttpResponse, ApiError> {
    state
        .mfa
        .reset(&Origin::user(admin.0.user.id, client), id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
