//! `GET`, `PATCH` and `DELETE /users/me`.

use actix_web::{HttpResponse, web};
use auth_domain::user::DisplayName;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{CurrentUser, RequestClient, ValidJson};
use crate::openapi::responses::{
    BearerErrors, DatabaseUnavailable, HashingUnavailable, JsonBodyErrors, PasswordLimited,
    WrongPassword,
};
use crate::routes::{Name, UserResponse};
use crate::state::AppState;

/// The authenticated user.
#[utoipa::path(get, path = "/users/me", operation_id = "get_me", tag = "users",
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 200, description = "The current user", body = UserResponse),
    ))]
pub async fn get(caller: CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserResponse::from(&caller.user)))
}

/// Profile changes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMe {
    /// 1 to 100 characters after trimming, no control characters; `null`
    /// clears it. Required: send `null` to clear.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(value_type = Option<Name>, required = true)]
    pub display_name: Option<String>,
}

/// Sets or clears the caller's display name.
#[utoipa::path(patch, path = "/users/me", operation_id = "update_me", tag = "users",
    request_body = UpdateMe,
    responses(
        JsonBodyErrors, BearerErrors, DatabaseUnavailable,
        (status = 200, description = "The updated user", body = UserResponse),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    caller: CurrentUser,
    ValidJson(body): ValidJson<UpdateMe>,
) -> Result<HttpResponse, ApiError> {
    let display_name = Fields::optional(
        "display_name",
        body.display_name.as_deref().map(DisplayName::parse),
    )?;
    let user = state
        .account
        .update_profile(caller.0.user, display_name)
        .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&user)))
}

/// The password confirming an account deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteMe {
    /// The current password.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// Deletes the caller's account, their projects and sessions.
#[utoipa::path(delete, path = "/users/me", operation_id = "delete_me", tag = "users",
    request_body = DeleteMe,
    responses(
        JsonBodyErrors, BearerErrors, WrongPassword, PasswordLimited, HashingUnavailable,
        (status = 204, description = "Deleted"),
        (status = 409, description = "The caller is the last active administrator (`last_admin`); promote another user first", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<DeleteMe>,
) -> Result<HttpResponse, ApiError> {
    state
        .account
        .delete_account(&caller.user, &client, &body.password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
