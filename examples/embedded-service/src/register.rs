//! This service's own use-case on top of auth-domain: registration from a
//! raw form, the way an HTTP handler would do it but without HTTP.

use auth_domain::auth::{IssuedTokens, SignupCommand, SignupError};
use auth_domain::session::ClientInfo;
use auth_domain::user::{DisplayName, Email, Password, User};
use secrecy::SecretString;

use crate::Embedded;

/// A registration as the user typed it: nothing checked yet.
#[derive(Debug, Clone)]
pub struct RegistrationForm {
    /// The address as typed.
    pub email: String,
    /// The new password.
    pub password: SecretString,
    /// An optional display name; blank means none.
    pub display_name: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl RegistrationForm {
    /// A form with an address and a password only.
    #[must_use]
    pub fn new(email: &str, password: &str) -> Self {
        Self {
            email: email.to_owned(),
            password: SecretString::from(password),
            display_name: None,
            client: ClientInfo::default(),
        }
    }
}

/// One invalid field of a form and a message fit for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name (`email`, `password`, `display_name`).
    pub field: &'static str,
    /// Why the value was refused.
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            field,
            message: message.to_string(),
        }
    }
}

/// Why a registration failed.
#[derive(Debug)]
pub enum RegisterError {
    /// The form is invalid: every field at fault, with a message fit for
    /// the user. Nothing was hashed or stored.
    Invalid(Vec<FieldError>),
    /// The sign-up itself failed (address taken, storage unavailable, …).
    Signup(SignupError),
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(fields) => {
                f.write_str("invalid registration:")?;
                for field in fields {
                    write!(f, " {} {};", field.field, field.message)?;
                }
                Ok(())
            }
            Self::Signup(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RegisterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(_) => None,
            Self::Signup(error) => Some(error),
        }
    }
}

impl From<SignupError> for RegisterError {
    fn from(error: SignupError) -> Self {
        Self::Signup(error)
    }
}

impl Embedded {
    /// Checks a registration form against the value objects and the
    /// password policy, reporting every invalid field at once, then signs
    /// the new account up and in.
    ///
    /// # Errors
    /// [`RegisterError::Invalid`] for an invalid address, password or
    /// display name, with nothing hashed or stored;
    /// [`RegisterError::Signup`] when [`auth_domain::auth::AuthService::signup`]
    /// fails, e.g. with [`SignupError::EmailTaken`].
    pub async fn register(
        &self,
        form: RegistrationForm,
    ) -> Result<(User, IssuedTokens), RegisterError> {
        let mut invalid = Vec::new();
        let email = Email::parse(&form.email)
            .map_err(|e| invalid.push(FieldError::new("email", e)))
            .ok();
        let password = Password::parse(form.password, &self.password_policy, email.as_ref())
            .map_err(|e| invalid.push(FieldError::new("password", e)))
            .ok();
        let display_name = match form.display_name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => DisplayName::parse(raw)
                .map_err(|e| invalid.push(FieldError::new("display_name", e)))
                .ok(),
        };
        let (Some(email), Some(password), true) = (email, password, invalid.is_empty()) else {
            return Err(RegisterError::Invalid(invalid));
        };
        Ok(self
            .auth
            .signup(SignupCommand {
                email,
                password,
                display_name,
                client: form.client,
            })
            .await?)
    }
}
