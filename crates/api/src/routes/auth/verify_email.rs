//! `POST /auth/verify-email/request` and `POST /auth/verify-email`.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extractors::{CurrentUser, RequestClient, ValidJson};
use crate::openapi::responses::{
    ActionTokenErrors, AddressLimited, BearerErrors, DatabaseUnavailable, JsonBodyErrors,
    MailLimited,
};
use crate::state::AppState;

/// Mails the caller a single-use verification link (valid 24 h).
#[utoipa::path(post, path = "/auth/verify-email/request", operation_id = "request_email_verification", tag = "auth",
    responses(
        BearerErrors, MailLimited, DatabaseUnavailable,
        (status = 202, description = "A link was mailed (nothing is sent when the address is verified already)"),
    ))]
pub async fn request(
    state: web::Data<AppState>,
    caller: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state
        .recovery
        .request_email_verification(&caller.user)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// A token from a verification mail.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmail {
    /// The `token` query parameter of the mailed link.
    #[schema(value_type = String)]
    pub token: SecretString,
}

/// Marks the token's user as verified.
#[utoipa::path(post, path = "/auth/verify-email", operation_id = "verify_email", tag = "auth",
    request_body = VerifyEmail,
    responses(
        JsonBodyErrors, ActionTokenErrors, AddressLimited, DatabaseUnavailable,
        (status = 204, description = "Verified"),
    ))]
pub async fn confirm(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<VerifyEmail>,
) -> Result<HttpResponse, ApiError> {
    state
        .recovery
        .verify_email(body.token.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
