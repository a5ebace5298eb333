//! `POST /auth/verify-email/request` and `POST /auth/verify-email`.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::{CurrentUser, RequestClient, ValidJson};
use crate::openapi::responses::{
    AddressLimited, BearerErrors, DatabaseUnavailable, JsonBodyErrors,
};
use crate::state::AppState;

/// Mails the caller a single-use verification link (valid 24 h).
#[utoipa::path(post, path = "/auth/verify-email/request", operation_id = "request_email_verification", tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        BearerErrors,
        (status = 202, description = "A link was mailed (nothing is sent when the address is verified already)"),
        (status = 429, description = "Too many requests from this address, or this e-mail address already had its hourly allowance of mails (`rate_limited`); see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "Database or mailer unavailable (`service_unavailable`)", body = Problem, content_type = "application/problem+json"),
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
        JsonBodyErrors, AddressLimited, DatabaseUnavailable,
        (status = 204, description = "Verified"),
        (status = 400, description = "Unknown, used or expired token (`invalid_token`), or a body that is not JSON (`malformed_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`); nothing changed", body = Problem, content_type = "application/problem+json"),
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
