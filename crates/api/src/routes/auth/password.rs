//! `POST /auth/password/forgot` and `POST /auth/password/reset`.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use tracing::Instrument as _;
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
/// answer is the same either way, and comes before the link is made.
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
    // The work is done after the answer when it can be: an address with
    // an account costs writes (a link, a mail in the outbox, an audit
    // event) that an unknown one does not, and the answer's timing must not
    // tell them apart. Past `DEFERRED` requests in flight (the database is
    // slow, or a flood) the request waits for its own work, so the backlog
    // stays bounded.
    match DEFERRED.try_acquire() {
        Ok(permit) => {
            let recovery = state.recovery.clone();
            let span = tracing::Span::current();
            actix_web::rt::spawn(
                async move {
                    if let Err(error) = recovery.forgot_password(&body.email, &client).await {
                        tracing::warn!(%error, "a password reset request was not carried out");
                    }
                    drop(permit);
                }
                .instrument(span),
            );
        }
        Err(_) => state.recovery.forgot_password(&body.email, &client).await?,
    }
    Ok(HttpResponse::Accepted().finish())
}

/// Reset requests whose work may run after their answer, at most.
static DEFERRED: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(256);

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
