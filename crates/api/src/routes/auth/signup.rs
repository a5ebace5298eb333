//! `POST /auth/signup`.

use crate::error::FieldError;
use crate::openapi::responses::{AddressLimited, HashingUnavailable, JsonBodyErrors};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_domain::auth::SignupCommand;
use auth_domain::user::{DisplayName, Email, Password};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::{RequestClient, ValidJson};
use crate::routes::{Name, TokenResponse};
use crate::state::AppState;

/// A sign-up.
#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Trimmed and lower-cased; at most 254 characters.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// `PASSWORD__MIN_LENGTH` (default 8) to 128 characters, not a common
    /// password, not the e-mail address.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    pub password: String,
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(value_type = Option<Name>, example = "Ada Lovelace")]
    pub display_name: Option<String>,
}

impl std::fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/auth/signup", operation_id = "signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        JsonBodyErrors, AddressLimited, HashingUnavailable,
        (status = 201, description = "Account created and signed in", body = TokenResponse),
        (status = 409, description = "E-mail address taken (`email_taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|e| errors.push(FieldError::new("email", e)))
        .ok();
    let password = Password::parse(
        SecretString::from(body.password),
        &state.password_policy,
        email.as_ref(),
    )
    .map_err(|e| errors.push(FieldError::new("password", e)))
    .ok();
    let display_name = match body.display_name.as_deref().map(DisplayName::parse) {
        Some(Ok(name)) => Some(name),
        Some(Err(e)) => {
            errors.push(FieldError::new("display_name", e));
            None
        }
        None => None,
    };
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let (user, tokens) = state
        .auth
        .signup(SignupCommand {
            email,
            password,
            display_name,
            client,
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse::new(&tokens, Some(&user))))
}
