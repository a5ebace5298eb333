//! The rule display names and project names share.

/// The longest name accepted, in characters, once trimmed.
pub const MAX_NAME_LENGTH: usize = 100;

/// The name rule as an ECMA-262 regular expression, for API schemas: any
/// white space (Unicode `White_Space`, as `str::trim` strips it) around 1
/// to 100 characters that are not control characters (`Cc`, as
/// `char::is_control`) and that neither start nor end with white space. It
/// carries the length limit because only the trimmed name is counted.
pub const NAME_PATTERN: &str = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("must not be blank")]
    Blank,
    /// More than [`MAX_NAME_LENGTH`] characters.
    #[error("must be at most {MAX_NAME_LENGTH} characters")]
    TooLong,
    /// Contains a control character (newline, NUL, …).
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Trims `raw` and checks it against the name rule.
///
/// # Errors
/// [`NameError`] when it is blank, too long or holds control characters.
pub(crate) fn parse_name(raw: &str) -> Result<String, NameError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NameError::Blank);
    }
    if trimmed.chars().count() > MAX_NAME_LENGTH {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(trimmed.to_owned())
}
