use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{SecretSlice, SecretString};
use uuid::Uuid;

use crate::common::TokenHash;
use crate::user::UserId;

/// How long an `mfa_token` answers a log-in challenge.
pub const MFA_TOKEN_TTL: TimeDelta = TimeDelta::minutes(5);

/// How many recovery codes a user gets at once.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// The shared secret of a TOTP factor, in clear: only ever in memory, between
/// the cipher and the code arithmetic. `Debug` shows nothing.
pub struct TotpSecret(SecretSlice<u8>);

impl TotpSecret {
    /// Wraps the raw secret bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(SecretSlice::from(bytes))
    }

    /// The raw bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        use secrecy::ExposeSecret as _;
        self.0.expose_secret()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// A TOTP secret as stored: encrypted and authenticated by a
/// [`super::SecretCipher`], opaque to everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// Rebuilds a sealed secret read back from storage (or made by a cipher).
    #[must_use]
    pub fn from_stored(sealed: String) -> Self {
        Self(sealed)
    }

    /// The stored form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a user's TOTP factor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorState {
    /// Enrolment started; no code was confirmed yet, log-in does not ask
    /// for one.
    Pending,
    /// Confirmed: log-in asks for a code.
    Enabled,
}

/// A user's TOTP second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactor {
    /// Whose factor it is (one per user).
    pub user_id: UserId,
    /// The encrypted shared secret.
    pub secret: SealedSecret,
    /// Pending or enabled.
    pub state: FactorState,
    /// The last time step whose code was accepted; only a strictly later
    /// step is accepted next (replay protection).
    pub last_step: Option<u64>,
    /// When the enrolment (re)started.
    pub created_at: DateTime<Utc>,
}

/// What a user needs to add the factor to an authenticator app. Both are
/// secrets: `Debug` shows neither.
#[derive(Debug)]
pub struct Enrolment {
    /// The secret, base32 (RFC 4648, no padding).
    pub secret: SecretString,
    /// The `otpauth://totp/…` URI an authenticator app reads from a QR code.
    pub otpauth_uri: SecretString,
}

/// A pending log-in challenge: the password was right, a second factor is
/// due. Only the hash of its `mfa_token` is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    /// Stable id.
    pub id: Uuid,
    /// The user whose password was checked.
    pub user_id: UserId,
    /// SHA-256 of the `mfa_token`.
    pub hash: TokenHash,
    /// When the password was checked.
    pub created_at: DateTime<Utc>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// A recovery code as compared: lower-cased, without the separators and
/// white space a user may type.
///
/// ```
/// use auth_domain::mfa::normalise_recovery_code;
/// assert_eq!(normalise_recovery_code(" ABCD-efgh 2345 "), "abcdefgh2345");
/// ```
#[must_use]
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}
