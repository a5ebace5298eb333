//! The one error type of the HTTP edge, rendered as RFC 9457 problem+json.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_domain::audit::AuditError;
use auth_domain::auth::{AuthenticateError, LoginError, SignupError};
use auth_domain::mfa::{MfaError, MfaVerifyError};
use auth_domain::project::ProjectError;
use auth_domain::recovery::RecoveryError;
use auth_domain::session::{RefreshError, SessionError};
use auth_domain::user::{AccountError, AdminError};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input field and a message fit for an end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the client sent it (`email`, `password`, …).
    pub field: String,
    /// Why the value was refused.
    pub message: String,
}

impl FieldError {
    /// Builds a field error from anything displayable.
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// The content type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long clients should wait before retrying a 503, in seconds.
const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

/// Collects the invalid fields of one request, so that a 422 names every
/// one of them, not only the first.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// The parsed value, or `None` with the error noted under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        parsed
            .map_err(|e| self.0.push(FieldError::new(field, e)))
            .ok()
    }

    /// For an optional field: `Some(None)` when it was absent, `None` when
    /// it was present and invalid.
    pub fn check_optional<T, E: fmt::Display>(
        &mut self,
        field: &str,
        parsed: Option<Result<T, E>>,
    ) -> Option<Option<T>> {
        match parsed {
            None => Some(None),
            Some(parsed) => self.check(field, parsed).map(Some),
        }
    }

    /// A request's only optional field: its parsed value, `None` when it was
    /// absent, or 422 naming it.
    pub fn optional<T, E: fmt::Display>(
        field: &str,
        parsed: Option<Result<T, E>>,
    ) -> Result<Option<T>, ApiError> {
        parsed
            .transpose()
            .map_err(|e| ApiError::validation(vec![FieldError::new(field, e)]))
    }

    /// Notes an error under `field`.
    pub fn refuse(&mut self, field: &str, message: impl fmt::Display) {
        self.0.push(FieldError::new(field, message));
    }

    /// The checked values (combined with `Option::zip`), or a 422 naming
    /// every invalid field.
    ///
    /// # Errors
    /// `validation_failed` when any field was refused.
    pub fn finish<T>(self, values: Option<T>) -> Result<T, ApiError> {
        match values {
            Some(values) if self.0.is_empty() => Ok(values),
            _ => Err(ApiError::validation(self.0)),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `title` is the HTTP status phrase.
    #[schema(example = "about:blank")]
    pub r#type: &'static str,
    /// The HTTP status phrase.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable error code; clients switch on it.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// For `validation_failed`: each invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
    /// For `mfa_required`: the opaque, single-use token (5 minutes) to send
    /// with a code to `POST /auth/mfa/verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

/// One invalid field of a `validation_failed` problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field's name, as sent (`email`, `password`, …).
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

/// An error answered to the client. It writes its own public message; a
/// server-side cause is only logged, never sent.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    www_authenticate: Option<&'static str>,
    // Boxed: keeps `ApiError`, returned on every error path, small.
    mfa_token: Option<Box<SecretString>>,
    cause: Option<anyhow::Error>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: None,
            mfa_token: None,
            cause: None,
        }
    }

    /// 403 `mfa_required`, carrying the challenge's `mfa_token`.
    #[must_use]
    pub fn mfa_required(mfa_token: SecretString) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "mfa_required",
            "The password is correct; a second factor is required. Send `mfa_token` with a \
             code to /auth/mfa/verify.",
        );
        error.mfa_token = Some(Box::new(mfa_token));
        error
    }

    /// 400 `malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
    }

    /// 422 `validation_failed` naming each invalid field.
    #[must_use]
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request is invalid; see `errors` for each field.",
        );
        error.errors = errors;
        error
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    /// 413 `payload_too_large`.
    #[must_use]
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    /// 401 `unauthorized`; `token_sent` adds `error="invalid_token"` to the
    /// challenge (RFC 6750 §3.1).
    #[must_use]
    pub fn unauthorized(token_sent: bool) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if token_sent {
                "The access token is invalid, expired or revoked."
            } else {
                "This endpoint needs a bearer access token."
            },
        );
        error.www_authenticate = Some(if token_sent {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        });
        error
    }

    /// 403 `forbidden`.
    #[must_use]
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You are not allowed to do this.",
        )
    }

    /// 404 `not_found`.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "The requested resource does not exist.",
        )
    }

    /// 429 `rate_limited` with `Retry-After`.
    #[must_use]
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts; retry later.",
        );
        error.retry_after = Some(retry_after_secs.max(1));
        error
    }

    /// 503 `service_unavailable` with `Retry-After`.
    #[must_use]
    pub fn unavailable(cause: anyhow::Error) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable; retry later.",
        );
        error.retry_after = Some(RETRY_AFTER_UNAVAILABLE_SECS);
        error.cause = Some(cause);
        error
    }

    /// 500 `internal_error`; the cause is logged, never sent.
    #[must_use]
    pub fn internal(cause: anyhow::Error) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred.",
        );
        error.cause = Some(cause);
        error
    }

    /// 500 `internal_error` whose cause was logged already.
    #[must_use]
    pub fn internal_logged() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred.",
        )
    }

    /// The problem for a bare status code (actix's own 404/405/… responses).
    #[must_use]
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method_not_allowed",
                "This method is not allowed on this resource.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                "payload_too_large",
                "The request body is too large.",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::unsupported_media_type("This content type is not supported here.")
            }
            StatusCode::UNAUTHORIZED => Self::unauthorized(false),
            StatusCode::FORBIDDEN => Self::forbidden(),
            StatusCode::SERVICE_UNAVAILABLE => {
                let mut error = Self::new(
                    status,
                    "service_unavailable",
                    "The service is temporarily unavailable; retry later.",
                );
                error.retry_after = Some(RETRY_AFTER_UNAVAILABLE_SECS);
                error
            }
            s if s.is_server_error() => Self::internal_logged(),
            s => Self::malformed(
                s.canonical_reason()
                    .unwrap_or("The request could not be processed."),
            ),
        }
    }

    /// The invalid fields of a `validation_failed` error.
    #[must_use]
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn problem(&self) -> Problem {
        Problem {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            mfa_token: self
                .mfa_token
                .as_ref()
                .map(|token| token.expose_secret().to_owned()),
            errors: (!self.errors.is_empty()).then(|| {
                self.errors
                    .iter()
                    .map(|e| ProblemField {
                        field: e.field.clone(),
                        message: e.message.clone(),
                    })
                    .collect()
            }),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            if self.status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(
                    code = self.code,
                    error = format!("{cause:#}"),
                    "request refused"
                );
            } else if self.status.is_server_error() {
                tracing::error!(
                    code = self.code,
                    error = format!("{cause:#}"),
                    "request failed"
                );
            }
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        if let Some(challenge) = self.www_authenticate {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}

impl From<SignupError> for ApiError {
    fn from(error: SignupError) -> Self {
        match error {
            SignupError::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this e-mail address already exists.",
            ),
            SignupError::Unavailable(e) => Self::unavailable(e),
            SignupError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The e-mail address or password is incorrect.",
            ),
            LoginError::AccountDisabled => Self::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account has been disabled.",
            ),
            LoginError::RateLimited { retry_after_secs } => Self::rate_limited(retry_after_secs),
            LoginError::MfaRequired { mfa_token } => Self::mfa_required(mfa_token),
            LoginError::Unavailable(e) => Self::unavailable(e),
            LoginError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::Rejected(reason) => {
                tracing::debug!(%reason, "access token rejected");
                Self::unauthorized(true)
            }
            AuthenticateError::SessionInvalid | AuthenticateError::UserInvalid => {
                tracing::debug!(%error, "access token refused");
                Self::unauthorized(true)
            }
            AuthenticateError::Unavailable(e) => Self::unavailable(e),
            AuthenticateError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is invalid, expired, revoked or already used.",
            ),
            RefreshError::Unavailable(e) => Self::unavailable(e),
            RefreshError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::Unavailable(e) => Self::unavailable(e),
            AuditError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::NotFound => Self::not_found(),
            SessionError::Unavailable(e) => Self::unavailable(e),
            SessionError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::NotFound => Self::not_found(),
            ProjectError::NameTaken => Self::new(
                StatusCode::CONFLICT,
                "project_name_taken",
                "You already have a project with this name.",
            ),
            ProjectError::Unavailable(e) => Self::unavailable(e),
            ProjectError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::NotFound => Self::not_found(),
            AdminError::LastAdmin => Self::new(
                StatusCode::CONFLICT,
                "last_admin",
                "This would leave no active administrator; promote another user first.",
            ),
            AdminError::Unavailable(e) => Self::unavailable(e),
            AdminError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::WrongPassword => Self::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The password is incorrect.",
            ),
            AccountError::LastAdmin => Self::new(
                StatusCode::CONFLICT,
                "last_admin",
                "The last active administrator cannot delete their account; promote another user first.",
            ),
            AccountError::RateLimited { retry_after_secs } => Self::rate_limited(retry_after_secs),
            AccountError::NotFound => Self::unauthorized(true),
            AccountError::Unavailable(e) => Self::unavailable(e),
            AccountError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<RecoveryError> for ApiError {
    fn from(error: RecoveryError) -> Self {
        match error {
            RecoveryError::InvalidToken => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "The token is unknown, already used or expired.",
            ),
            RecoveryError::InvalidPassword(e) => {
                Self::validation(vec![FieldError::new("new_password", e)])
            }
            RecoveryError::UnknownUser => Self::not_found(),
            RecoveryError::AccountDisabled => Self::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account has been disabled.",
            ),
            RecoveryError::RateLimited { retry_after_secs } => Self::rate_limited(retry_after_secs),
            RecoveryError::Unavailable(e) => Self::unavailable(e),
            RecoveryError::Unexpected(e) => Self::internal(e),
        }
    }
}

/// 401 `invalid_mfa_code`.
fn invalid_mfa_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
        "The code is wrong, expired or already used.",
    )
}

impl From<MfaError> for ApiError {
    fn from(error: MfaError) -> Self {
        match error {
            MfaError::WrongPassword => Self::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The password is incorrect.",
            ),
            MfaError::InvalidCode => invalid_mfa_code(),
            MfaError::AlreadyEnabled => Self::new(
                StatusCode::CONFLICT,
                "mfa_already_enabled",
                "Multi-factor authentication is already on.",
            ),
            MfaError::NotEnabled => Self::new(
                StatusCode::CONFLICT,
                "mfa_not_enabled",
                "Multi-factor authentication is not on (or no enrolment is pending).",
            ),
            MfaError::NotFound => Self::not_found(),
            MfaError::RateLimited { retry_after_secs } => Self::rate_limited(retry_after_secs),
            MfaError::Unavailable(e) => Self::unavailable(e),
            MfaError::Unexpected(e) => Self::internal(e),
        }
    }
}

impl From<MfaVerifyError> for ApiError {
    fn from(error: MfaVerifyError) -> Self {
        match error {
            MfaVerifyError::InvalidToken => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_mfa_token",
                "The MFA token is unknown, already used or expired; log in again.",
            ),
            MfaVerifyError::InvalidCode => invalid_mfa_code(),
            MfaVerifyError::AccountDisabled => Self::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account has been disabled.",
            ),
            MfaVerifyError::RateLimited { retry_after_secs } => {
                Self::rate_limited(retry_after_secs)
            }
            MfaVerifyError::Unavailable(e) => Self::unavailable(e),
            MfaVerifyError::Unexpected(e) => Self::internal(e),
        }
    }
}
