//! The OAuth 2.0 token endpoint's protocol (RFC 6749 §4.3, §5.2, §6): the
//! form body, the grants it carries and the errors it answers. The handler
//! in `routes::auth::token` only calls the use-cases.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, mime};
use auth_domain::auth::LoginError;
use auth_domain::session::RefreshError;
use futures_util::future::LocalBoxFuture;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The form fields of a token request, one shape per grant type.
// Only documents the body: [`FormFields`] reads the raw form and
// [`Grant::from_fields`] the grant, so that a bad request gets an RFC 6749
// error rather than a deserialisation one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password {
        /// The e-mail address.
        #[schema(example = "ada@example.com", min_length = 1)]
        username: String,
        /// The password.
        #[schema(value_type = String, example = "correct horse battery staple", min_length = 1)]
        password: SecretString,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
    /// A refresh (RFC 6749 §6); the refresh token rotates.
    RefreshToken {
        /// The refresh token of the last token response.
        #[schema(value_type = String, min_length = 1)]
        refresh_token: SecretString,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant` or `unsupported_grant_type`.
    #[schema(example = "invalid_grant")]
    pub error: &'static str,
    /// A human-readable explanation.
    pub error_description: String,
    /// With `mfa_required` (status 403): the token to send with a code to
    /// `POST /auth/mfa/verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    status: u16,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            mfa_token: None,
            status: 400,
        }
    }

    /// The response (400, or 403 for `mfa_required`), never cached (RFC
    /// 6749 §5.1).
    #[must_use]
    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(self)
    }

    /// How a refused log-in reads to an OAuth client; `None` for failures
    /// that are not the client's (rate limits, 503s), answered as problems.
    #[must_use]
    pub fn for_login(error: &LoginError) -> Option<Self> {
        match error {
            LoginError::InvalidCredentials => Some(Self::new(
                "invalid_grant",
                "The username or password is incorrect.",
            )),
            LoginError::AccountDisabled => Some(Self::new(
                "invalid_grant",
                "This account has been disabled.",
            )),
            LoginError::MfaRequired { mfa_token } => Some(Self {
                mfa_token: Some(mfa_token.expose_secret().to_owned()),
                status: 403,
                ..Self::new(
                    "mfa_required",
                    "The password is correct; a second factor is required: send mfa_token \
                     with a code to /auth/mfa/verify.",
                )
            }),
            _ => None,
        }
    }

    /// How a refused refresh reads to an OAuth client; `None` as above.
    #[must_use]
    pub fn for_refresh(error: &RefreshError) -> Option<Self> {
        matches!(error, RefreshError::InvalidToken).then(|| {
            Self::new(
                "invalid_grant",
                "The refresh token is invalid, expired, revoked or already used.",
            )
        })
    }
}

/// A token request, parsed.
#[derive(Debug)]
pub enum Grant {
    /// Resource owner password credentials.
    Password {
        /// The e-mail address, as typed.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// A refresh token to rotate.
    RefreshToken(SecretString),
}

impl Grant {
    /// Reads the grant from form fields: every parameter at most once
    /// (RFC 6749 §3.2), empty values counting as absent.
    ///
    /// # Errors
    /// `invalid_request` for a repeated or missing parameter,
    /// `unsupported_grant_type` for any grant but `password` and
    /// `refresh_token`.
    pub fn from_fields(fields: &[(String, String)]) -> Result<Self, OAuthError> {
        let mut names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(OAuthError::new(
                "invalid_request",
                format!("The parameter `{}` is repeated.", pair[0]),
            ));
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.clone())
        };
        match field("grant_type").as_deref() {
            None => Err(OAuthError::new(
                "invalid_request",
                "`grant_type` is required.",
            )),
            Some("password") => match (field("username"), field("password")) {
                (Some(username), Some(password)) => Ok(Self::Password {
                    username,
                    password: SecretString::from(password),
                }),
                _ => Err(OAuthError::new(
                    "invalid_request",
                    "The password grant needs `username` and `password`.",
                )),
            },
            Some("refresh_token") => field("refresh_token")
                .map(|token| Self::RefreshToken(SecretString::from(token)))
                .ok_or_else(|| {
                    OAuthError::new(
                        "invalid_request",
                        "The refresh_token grant needs `refresh_token`.",
                    )
                }),
            Some(_) => Err(OAuthError::new(
                "unsupported_grant_type",
                "Supported grant types: `password`, `refresh_token`.",
            )),
        }
    }
}

/// The form body as name/value pairs, within the body limit.
pub struct FormFields(pub Vec<(String, String)>);

impl std::fmt::Debug for FormFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values hold passwords and tokens: names only.
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FromRequest for FormFields {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = matches!(
            req.mime_type(),
            Ok(Some(m)) if m.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str()
        );
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        let body = crate::extractors::read_limited(req, payload);
        let unsupported = || {
            ApiError::unsupported_media_type(
                "The token endpoint takes `application/x-www-form-urlencoded` bodies.",
            )
        };
        Box::pin(async move {
            if !is_form && typed {
                return Err(unsupported());
            }
            let body = body.await?;
            // No body and no type is an empty form: its grant is missing
            // (400 `invalid_request`, as RFC 6749 words it).
            if !is_form && !body.is_empty() {
                return Err(unsupported());
            }
            serde_urlencoded::from_bytes(&body)
                .map(FormFields)
                .map_err(|_| ApiError::malformed("The body is not a valid URL-encoded form."))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_two_grants() {
        assert!(matches!(
            Grant::from_fields(&form(&[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "pw"),
            ])),
            Ok(Grant::Password { username, .. }) if username == "ada@example.com"
        ));
        assert!(matches!(
            Grant::from_fields(&form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "t")
            ])),
            Ok(Grant::RefreshToken(_))
        ));
    }

    #[test]
    fn refuses_repeated_missing_and_unknown_parameters() {
        let error =
            |pairs: &[(&str, &str)]| Grant::from_fields(&form(pairs)).expect_err("refused").error;
        assert_eq!(
            error(&[("grant_type", "password"), ("grant_type", "password")]),
            "invalid_request"
        );
        assert_eq!(error(&[("username", "a")]), "invalid_request");
        assert_eq!(
            error(&[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "")
            ]),
            "invalid_request"
        );
        assert_eq!(
            error(&[("grant_type", "client_credentials")]),
            "unsupported_grant_type"
        );
    }
}
