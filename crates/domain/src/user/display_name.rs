use std::fmt;

/// The longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME_LENGTH: usize = 100;

/// A name shown to other people: 1 to 100 characters after trimming, with no
/// control characters.
///
/// ```
/// use auth_domain::user::DisplayName;
/// assert_eq!(DisplayName::parse("  Ada ").unwrap().as_str(), "Ada");
/// assert!(DisplayName::parse("   ").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Why a display name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Nothing left after trimming.
    #[error("must not be blank")]
    Blank,
    /// More than 100 characters.
    #[error("must be at most {MAX_DISPLAY_NAME_LENGTH} characters")]
    TooLong,
    /// Contains a control character (newline, NUL, …).
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl DisplayName {
    /// Trims and validates a display name.
    ///
    /// # Errors
    /// [`DisplayNameError`] when it is blank, too long or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, DisplayNameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DisplayNameError::Blank);
        }
        if trimmed.chars().count() > MAX_DISPLAY_NAME_LENGTH {
            return Err(DisplayNameError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DisplayNameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Rebuilds a name read back from storage.
    #[must_use]
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The trimmed name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(101)),
            Err(DisplayNameError::TooLong)
        );
    }

    #[test]
    fn refuses_control_characters() {
        assert_eq!(
            DisplayName::parse("Ada\nLovelace"),
            Err(DisplayNameError::ControlCharacter)
        );
    }
}
