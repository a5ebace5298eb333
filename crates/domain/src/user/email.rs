use std::fmt;

/// The longest address accepted (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;
const MAX_LOCAL_PART_LENGTH: usize = 64;
const MAX_LABEL_LENGTH: usize = 63;

/// A syntactically valid e-mail address, trimmed and lower-cased.
///
/// Addresses are compared case-insensitively everywhere, so the normalised
/// form is the only one kept.
///
/// ```
/// use auth_domain::user::Email;
/// let email = Email::parse("  Ada@Example.COM ").unwrap();
/// assert_eq!(email.as_str(), "ada@example.com");
/// assert!(Email::parse("not-an-address").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// Longer than 254 characters.
    #[error("must be at most {MAX_EMAIL_LENGTH} characters")]
    TooLong,
    /// Not of the form `local@domain.tld`.
    #[error("is not a valid e-mail address")]
    Invalid,
}

impl Email {
    /// Trims, lower-cases and validates an address.
    ///
    /// # Errors
    /// [`EmailError`] when the address is empty, too long or malformed.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_lowercase();
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(normalised))
    }

    /// Rebuilds an address read back from storage, where it was stored
    /// already normalised.
    #[must_use]
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5322 dot-atom, widened to non-ASCII letters (RFC 6531). Quoted local
/// parts are refused: no mail provider hands them out and they hide abuse.
fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    if local.is_empty() || local.chars().count() > MAX_LOCAL_PART_LENGTH {
        return false;
    }
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_alphanumeric() || SPECIALS.contains(c))
    })
}

/// A host name with at least two labels, each 1–63 letters, digits or inner
/// hyphens, and a top-level label that is not all digits.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|label| {
        !label.is_empty()
            && label.chars().count() <= MAX_LABEL_LENGTH
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    let tld_ok = labels
        .last()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    labels_ok && tld_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        let email = Email::parse("\t Ada.Lovelace+Tag@Example.ORG \n").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace+tag@example.org");
    }

    #[test]
    fn accepts_unicode_addresses() {
        assert_eq!(
            Email::parse("Jürgen@Bücher.de").expect("valid").as_str(),
            "jürgen@bücher.de"
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "plainaddress",
            "@example.com",
            "user@",
            "user@localhost",
            "user@.example.com",
            "user@example..com",
            "user@-example.com",
            "user@example-.com",
            "user@example.123",
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "us er@example.com",
            "user@exa mple.com",
            "\"quoted\"@example.com",
            "user@@example.com",
            "user<script>@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Invalid), "{raw}");
        }
    }

    #[test]
    fn rejects_empty_and_blank() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn enforces_length_limits() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let at_limit = format!("{}@{domain}", "x".repeat(254 - domain.len() - 1));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("x{at_limit}");
        assert_eq!(Email::parse(&over), Err(EmailError::TooLong));
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::Invalid));
    }
}
