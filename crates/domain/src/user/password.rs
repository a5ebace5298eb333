use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};

use super::Email;

/// The longest password accepted, in Unicode scalar values. Longer input is
/// refused, never truncated.
pub const MAX_PASSWORD_LENGTH: usize = 128;

/// Django's list of 20,000 common passwords (BSD-3-Clause, see
/// `data/common-passwords.LICENSE`), compared case-insensitively.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// The rules a new password must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values) accepted; between 1 and
    /// [`MAX_PASSWORD_LENGTH`].
    pub min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8 }
    }
}

/// A new password that passed the [`PasswordPolicy`]. The plaintext never
/// leaves its [`SecretString`]; `Debug` prints nothing of it.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer characters than the policy asks.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The policy's minimum.
        min: usize,
    },
    /// More than 128 characters.
    #[error("must be at most {MAX_PASSWORD_LENGTH} characters")]
    TooLong,
    /// On the list of commonly used passwords.
    #[error("is too common; choose a less predictable password")]
    Common,
    /// The same as the account's e-mail address.
    #[error("must not be the same as the e-mail address")]
    SameAsEmail,
}

impl Password {
    /// Checks a candidate password against the policy and, when known, the
    /// e-mail address of the account it is for.
    ///
    /// ```
    /// use auth_domain::user::{Email, Password, PasswordError, PasswordPolicy};
    /// let policy = PasswordPolicy::default();
    /// assert!(Password::parse("correct horse battery".into(), &policy, None).is_ok());
    /// assert_eq!(
    ///     Password::parse("password1".into(), &policy, None).unwrap_err(),
    ///     PasswordError::Common
    /// );
    /// ```
    ///
    /// # Errors
    /// [`PasswordError`] naming the first rule the password breaks.
    pub fn parse(
        candidate: SecretString,
        policy: &PasswordPolicy,
        email: Option<&Email>,
    ) -> Result<Self, PasswordError> {
        let plain = candidate.expose_secret();
        let length = plain.chars().count();
        if length < policy.min_length {
            return Err(PasswordError::TooShort {
                min: policy.min_length,
            });
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(PasswordError::TooLong);
        }
        let lowered = plain.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(PasswordError::Common);
        }
        if email.is_some_and(|email| email.as_str() == lowered.trim()) {
            return Err(PasswordError::SameAsEmail);
        }
        Ok(Self(candidate))
    }

    /// A password that already matched the user's stored hash, re-hashed with
    /// current parameters. The policy may have tightened since it was set, and
    /// refusing it now would lock the user out.
    pub(crate) fn already_verified(secret: SecretString) -> Self {
        Self(secret)
    }

    /// The secret, for a [`PasswordHasher`](super::PasswordHasher).
    #[must_use]
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A password hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a hasher or read from storage.
    #[must_use]
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerification {
    /// The password does not match.
    Mismatch,
    /// The password matches.
    Match {
        /// The hash was made with other parameters than the current ones and
        /// should be replaced by a fresh hash of the same password.
        needs_rehash: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Password, PasswordError> {
        Password::parse(raw.into(), &PasswordPolicy::default(), None)
    }

    #[test]
    fn bundled_list_is_large() {
        assert!(
            COMMON_PASSWORDS.len() >= 10_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
    }

    #[test]
    fn length_bounds_count_unicode_scalar_values() {
        assert_eq!(
            parse("zq7#Kp2").err(),
            Some(PasswordError::TooShort { min: 8 })
        );
        assert!(parse("zq7#Kp2!").is_ok());
        // Eight characters, sixteen bytes.
        assert!(parse("жшщзйкфь").is_ok());
        assert_eq!(
            parse("жшщзйкф").err(),
            Some(PasswordError::TooShort { min: 8 })
        );
        let max: String = "🦀a".repeat(64);
        assert_eq!(max.chars().count(), 128);
        assert!(parse(&max).is_ok());
        let over = format!("{max}b");
        assert_eq!(parse(&over).err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn respects_a_raised_minimum() {
        let policy = PasswordPolicy { min_length: 15 };
        assert_eq!(
            Password::parse("vq8#Lm3!xr9".into(), &policy, None).expect_err("too short"),
            PasswordError::TooShort { min: 15 }
        );
        assert!(Password::parse("vq8#Lm3!xr9$Tw2z".into(), &policy, None).is_ok());
    }

    #[test]
    fn refuses_common_passwords_in_any_case() {
        assert_eq!(parse("password").err(), Some(PasswordError::Common));
        assert_eq!(parse("PassWord123").err(), Some(PasswordError::Common));
        assert_eq!(parse("qwertyuiop").err(), Some(PasswordError::Common));
    }

    #[test]
    fn refuses_the_email_address() {
        let email = Email::parse("ada@example.com").expect("valid");
        assert_eq!(
            Password::parse(
                "Ada@Example.com".into(),
                &PasswordPolicy::default(),
                Some(&email)
            )
            .expect_err("same as the e-mail address"),
            PasswordError::SameAsEmail
        );
    }

    #[test]
    fn never_trims_or_truncates() {
        let password = parse("  spaced out pass  ").expect("valid");
        assert_eq!(password.secret().expose_secret(), "  spaced out pass  ");
    }

    #[test]
    fn debug_hides_secrets() {
        let password = parse("hunter2hunter2xyz").expect("valid");
        assert!(!format!("{password:?}").contains("hunter2"));
        let hash = PasswordHash::new("$argon2id$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
