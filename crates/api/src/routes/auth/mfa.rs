//! `POST /auth/mfa/verify`: the second step of a log-in with MFA on.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{RequestClient, ValidJson};
use crate::openapi::responses::{CodeLimited, DatabaseUnavailable, JsonBodyErrors};
use crate::routes::TokenResponse;
use crate::routes::users::mfa::check_code;
use crate::state::AppState;

/// Longest `mfa_token` accepted (they are 43 characters).
const MAX_TOKEN_LENGTH: usize = 256;

/// The answer to a log-in challenge.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyMfa {
    /// The `mfa_token` of the `mfa_required` answer to the log-in.
    #[schema(min_length = 1, max_length = 256)]
    pub mfa_token: String,
    /// A TOTP code, or an unused recovery code.
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    pub code: String,
}

/// Trades an `mfa_token` and a code for tokens; the access token says
/// `amr: ["pwd", "otp"]`.
#[utoipa::path(post, path = "/auth/mfa/verify", operation_id = "verify_mfa", tag = "auth",
    request_body = VerifyMfa,
    responses(
        JsonBodyErrors, CodeLimited, DatabaseUnavailable,
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong, reused or expired code (`invalid_mfa_code`), or an unknown, used or expired `mfa_token` (`invalid_mfa_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<VerifyMfa>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let token = fields.check(
        "mfa_token",
        if body.mfa_token.is_empty() || body.mfa_token.len() > MAX_TOKEN_LENGTH {
            Err(format!("must be 1 to {MAX_TOKEN_LENGTH} characters"))
        } else {
            Ok(())
        },
    );
    let code = check_code(&mut fields, &body.code);
    fields.finish(token.zip(code))?;
    let result = state
        .mfa_login
        .verify(&body.mfa_token, &body.code, client)
        .await;
    state
        .metrics
        .observe_login(crate::metrics::mfa_login_outcome(&result));
    let (user, tokens) = result?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse::new(&tokens, Some(&user))))
}
