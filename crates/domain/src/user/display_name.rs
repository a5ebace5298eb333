use std::fmt;

use crate::common::{NameError, parse_name};

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

/// Why a display name was refused: the rule all names share.
pub type DisplayNameError = NameError;

impl DisplayName {
    /// Trims and validates a display name.
    ///
    /// # Errors
    /// [`DisplayNameError`] as [`NameError`]: blank, too long, control
    /// characters, direction overrides, or an invisible first or last character.
    pub fn parse(raw: &str) -> Result<Self, DisplayNameError> {
        parse_name(raw).map(Self)
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
