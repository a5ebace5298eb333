//! Multi-factor authentication: a TOTP second factor (RFC 6238) with
//! recovery codes, its enrolment and removal, and the log-in challenge a
//! user with the second factor on must answer.
//!
//! The secret is kept sealed ([`SecretCipher`]) and the code arithmetic is an
//! adapter's ([`OneTimeCodes`]); recovery codes and challenge tokens are
//! stored as hashes only.

mod challenge;
mod error;
mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_challenge;

pub use challenge::{ChallengeIssuer, MfaChallengeService};
pub use error::{MfaError, MfaVerifyError};
pub use model::{
    Enrolment, FactorState, MFA_TOKEN_TTL, MfaChallenge, RECOVERY_CODE_COUNT, SealedSecret,
    SecondFactor, TotpSecret, normalise_recovery_code,
};
pub use ports::{
    CipherError, MfaChallengeRepository, OneTimeCodes, SecondFactorRepository, SecretCipher,
};
pub use service::{MfaPorts, MfaService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{
    MockMfaChallengeRepository, MockOneTimeCodes, MockSecondFactorRepository, MockSecretCipher,
};
