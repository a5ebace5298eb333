//! `GET /admin/users`, `GET /admin/users/{id}`, `PATCH /admin/users/{id}`.

use actix_web::{HttpResponse, web};
use auth_domain::audit::Origin;
use auth_domain::user::{AccessChanges, Role, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::FieldError;
use crate::error::{ApiError, Problem};
use crate::extractors::{AdminUser, Pagination, RequestClient, ValidJson, encode_cursor};
use crate::openapi::responses::{AdminErrors, DatabaseUnavailable, JsonBodyErrors};
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

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    Uuid::parse_str(raw)
        .map(UserId)
        .map_err(|_| ApiError::not_found())
}

/// Users, newest first, optionally by e-mail prefix (case-insensitive).
#[utoipa::path(get, path = "/admin/users", operation_id = "list_users", tag = "admin",
    security(("bearer" = []), ("oauth2" = [])),
    params(
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("email" = Option<String>, Query, description = "E-mail prefix, case-insensitive"),
    ),
    responses(
        AdminErrors, DatabaseUnavailable,
        (status = 200, description = "A page of users", body = AdminUserList),
        (status = 422, description = "Bad `limit` or `cursor` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
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
    security(("bearer" = []), ("oauth2" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        AdminErrors, DatabaseUnavailable,
        (status = 200, description = "The user", body = AdminUserResponse),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.admin.get_user(user_id(&id)?).await?;
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
    security(("bearer" = []), ("oauth2" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        JsonBodyErrors, AdminErrors, DatabaseUnavailable,
        (status = 200, description = "The updated user", body = AdminUserResponse),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave no active administrator (`last_admin`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    admin: AdminUser,
    RequestClient(client): RequestClient,
    id: web::Path<String>,
    ValidJson(body): ValidJson<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    let role = match body.role.as_deref().map(str::parse::<Role>) {
        None => None,
        Some(Ok(role)) => Some(role),
        Some(Err(e)) => return Err(ApiError::validation(vec![FieldError::new("role", e)])),
    };
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
