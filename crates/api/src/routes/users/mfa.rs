//! `/users/me/mfa/*`: the caller's TOTP second factor and recovery codes.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{CurrentUser, RequestClient, ValidJson};
use crate::openapi::responses::{
    BearerErrors, CodeLimited, DatabaseUnavailable, HashingUnavailable, JsonBodyErrors,
    WrongPassword,
};
use crate::state::AppState;

/// Longest code accepted: a 6-digit TOTP code, or a recovery code
/// (`xxxx-xxxx-xxxx-xxxx`) with some white space.
pub const MAX_CODE_LENGTH: usize = 64;

/// Checks a code's length (its value is the use-case's to judge).
pub fn check_code(fields: &mut Fields, code: &str) -> Option<()> {
    fields.check(
        "code",
        if code.trim().is_empty() || code.chars().count() > MAX_CODE_LENGTH {
            Err(format!("must be 1 to {MAX_CODE_LENGTH} characters"))
        } else {
            Ok(())
        },
    )
}

/// The password confirming a new enrolment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StartEnrolment {
    /// The current password.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// What an authenticator app needs. Shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentResponse {
    /// The shared secret, base32 (RFC 4648, no padding), for typing in.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String, example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: SecretString,
    /// `otpauth://totp/<issuer>:<email>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`,
    /// for a QR code.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub otpauth_uri: SecretString,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmEnrolment {
    /// The 6-digit code the app shows now.
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    pub code: String,
}

/// Fresh recovery codes. Shown once: only their hashes are kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten single-use codes, each accepted wherever a TOTP code is.
    #[serde(serialize_with = "expose_all")]
    #[schema(value_type = Vec<String>, min_items = 10, max_items = 10)]
    pub recovery_codes: Vec<SecretString>,
}

/// The password and a code (TOTP or recovery code) confirming a change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmWithCode {
    /// The current password.
    #[schema(value_type = String)]
    pub password: SecretString,
    /// A TOTP code, or an unused recovery code.
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    pub code: String,
}

fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

fn expose_all<S: serde::Serializer>(
    secrets: &[SecretString],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(secrets.iter().map(|s| s.expose_secret()))
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// Starts (or restarts) a TOTP enrolment: a fresh secret for the
/// authenticator app. Log-in asks for codes only once it is confirmed.
#[utoipa::path(post, path = "/users/me/mfa/totp", operation_id = "start_totp_enrolment", tag = "mfa",
    request_body = StartEnrolment,
    responses(
        JsonBodyErrors, BearerErrors, WrongPassword, CodeLimited, HashingUnavailable,
        (status = 200, description = "The secret and its `otpauth` URI", body = EnrolmentResponse),
        (status = 409, description = "MFA is already on (`mfa_already_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<StartEnrolment>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = state
        .mfa
        .start_enrolment(&caller.user, &client, &body.password)
        .await?;
    Ok(no_store().json(EnrolmentResponse {
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauth_uri,
    }))
}

/// Confirms the pending enrolment with a code: MFA is on, every other
/// session of the user is revoked, and ten recovery codes are shown once.
#[utoipa::path(post, path = "/users/me/mfa/totp/confirm", operation_id = "confirm_totp_enrolment", tag = "mfa",
    request_body = ConfirmEnrolment,
    responses(
        JsonBodyErrors, BearerErrors, CodeLimited, DatabaseUnavailable,
        (status = 200, description = "MFA is on; the recovery codes", body = RecoveryCodesResponse),
        (status = 401, description = "Wrong or expired code (`invalid_mfa_code`), or a bad access token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "MFA is already on (`mfa_already_enabled`), or no enrolment is pending (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ConfirmEnrolment>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let checked = check_code(&mut fields, &body.code);
    fields.finish(checked)?;
    let recovery_codes = state
        .mfa
        .confirm(&caller.user, caller.session_id, &client, &body.code)
        .await?;
    Ok(no_store().json(RecoveryCodesResponse { recovery_codes }))
}

/// Turns MFA off, after the password and a code (TOTP or recovery code).
#[utoipa::path(delete, path = "/users/me/mfa/totp", operation_id = "disable_totp", tag = "mfa",
    request_body = ConfirmWithCode,
    responses(
        JsonBodyErrors, BearerErrors, WrongPassword, CodeLimited, HashingUnavailable,
        (status = 204, description = "MFA is off"),
        (status = 401, description = "Wrong, reused or expired code (`invalid_mfa_code`), or a bad access token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "MFA is not on (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn disable(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ConfirmWithCode>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let checked = check_code(&mut fields, &body.code);
    fields.finish(checked)?;
    state
        .mfa
        .disable(&caller.user, &client, &body.password, &body.code)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the recovery codes with ten fresh ones; the old ones stop
/// working.
#[utoipa::path(post, path = "/users/me/mfa/recovery-codes", operation_id = "regenerate_recovery_codes", tag = "mfa",
    request_body = ConfirmWithCode,
    responses(
        JsonBodyErrors, BearerErrors, WrongPassword, CodeLimited, HashingUnavailable,
        (status = 200, description = "The new recovery codes", body = RecoveryCodesResponse),
        (status = 401, description = "Wrong, reused or expired code (`invalid_mfa_code`), or a bad access token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "MFA is not on (`mfa_not_enabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<ConfirmWithCode>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let checked = check_code(&mut fields, &body.code);
    fields.finish(checked)?;
    let recovery_codes = state
        .mfa
        .regenerate_recovery_codes(&caller.user, &client, &body.password, &body.code)
        .await?;
    Ok(no_store().json(RecoveryCodesResponse { recovery_codes }))
}
