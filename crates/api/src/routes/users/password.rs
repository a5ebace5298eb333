//! `POST /users/me/password`.

use actix_web::{HttpResponse, web};
use auth_domain::user::Password;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
use crate::extractors::{CurrentUser, RequestClient, ValidJson};
use crate::openapi::responses::{
    BearerErrors, HashingUnavailable, JsonBodyErrors, PasswordLimited, WrongPassword,
};
use crate::state::AppState;

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    /// The password in use now.
    #[schema(value_type = String)]
    pub current_password: SecretString,
    /// The new password; same rules as at sign-up.
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    pub new_password: SecretString,
}

/// Changes the caller's password and revokes every other session.
#[utoipa::path(post, path = "/users/me/password", operation_id = "change_password", tag = "users",
    request_body = ChangePassword,
    responses(
        JsonBodyErrors, BearerErrors, WrongPassword, PasswordLimited, HashingUnavailable,
        (status = 204, description = "Changed; other sessions revoked"),
    ))]
pub async fn change(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let new_password = Password::parse(
        body.new_password,
        &state.password_policy,
        Some(&caller.user.email),
    )
    .map_err(|e| ApiError::validation(vec![FieldError::new("new_password", e)]))?;
    state
        .account
        .change_password(
            &caller.user,
            caller.session_id,
            &client,
            &body.current_password,
            &new_password,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
