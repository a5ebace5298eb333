//! `POST /auth/password/forgot` and `POST /auth/password/reset`.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extractors::{RequestClient, ValidJson};
use crate::openapi::responses::{
    ActionTokenErrors, AddressLimited, DatabaseUnavailable, HashingUnavailable, JsonBodyErrors,
};
use crate::state::AppState;

/// A forgotten password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPassword {
    /// The account's address.
    pub email: String,
}

/// Mails a reset link (valid 1 h) when an account has this address; the
/// answer is the same either way.
#[utoipa::path(post, path = "/auth/password/forgot", operation_id = "forgot_password", tag = "auth",
    request_body = ForgotPassword,
    responses(
        JsonBodyErrors, AddressLimited, DatabaseUnavailable,
        (status = 202, description = "Accepted, whether or not the address exists"),
    ))]
pub async fn forgot(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ForgotPassword>,
) -> Result<HttpResponse, ApiError> {
    state.recovery.forgot_password(&body.email, &client).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// A password reset.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPassword {
    /// The `token` query parameter of the mailed link.
    #[schema(value_type = String)]
    pub token: SecretString,
    /// The new password; same rules as at sign-up.
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    pub new_password: SecretString,
}

/// Sets a new password and revokes every session of the user.
#[utoipa::path(post, path = "/auth/password/reset", operation_id = "reset_password", tag = "auth",
    request_body = ResetPassword,
    responses(
        JsonBodyErrors, ActionTokenErrors, AddressLimited, HashingUnavailable,
        (status = 204, description = "Password changed; every session revoked"),
    ))]
pub async fn reset(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ResetPassword>,
) -> Result<HttpResponse, ApiError> {
    state
        .recovery
        .reset_password(
            body.token.expose_secret(),
            body.new_password,
            &state.password_policy,
            &client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
