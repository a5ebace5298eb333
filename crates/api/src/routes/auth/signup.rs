//! `POST /auth/signup`.

use actix_web::{HttpResponse, web};
use auth_domain::auth::SignupCommand;
use auth_domain::user::{DisplayName, Email, Password};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{RequestClient, ValidJson};
use crate::openapi::responses::{AddressLimited, HashingUnavailable, JsonBodyErrors};
use crate::routes::{Name, TokenResponse};
use crate::state::AppState;

/// A sign-up.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Trimmed and lower-cased; at most 254 characters.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// `PASSWORD__MIN_LENGTH` (default 8) to 128 characters, not a common
    /// password, not the e-mail address.
    #[schema(value_type = String,
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    pub password: SecretString,
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(value_type = Option<Name>, example = "Ada Lovelace")]
    pub display_name: Option<String>,
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
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let password = fields.check(
        "password",
        Password::parse(body.password, &state.password_policy, email.as_ref()),
    );
    let display_name = fields.check_optional(
        "display_name",
        body.display_name.as_deref().map(DisplayName::parse),
    );
    let ((email, password), display_name) = fields.finish(email.zip(password).zip(display_name))?;
    let (user, tokens) = state
        .auth
        .signup(SignupCommand {
            email,
            password,
            display_name,
            client,
        })
        .await?;
    Ok(HttpResponse::Created().json(TokenResponse::new(&tokens, Some(&user))))
}
