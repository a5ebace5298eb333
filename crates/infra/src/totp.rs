//! The one-time code arithmetic (RFC 6238 on RFC 4226) through `totp-rs`:
//! 6 digits, HMAC-SHA-1, 30-second steps, one step of skew either way. The
//! time always comes from the caller (the injected clock), never from the
//! system clock.

use auth_domain::mfa::{OneTimeCodes, TotpSecret};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use secrecy::SecretString;
use totp_rs::{Algorithm, Builder, Secret};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a time step.
pub const PERIOD_SECS: u64 = 30;
/// Steps accepted on either side of the current one (clock drift, a code
/// typed as it changed).
pub const SKEW_STEPS: u16 = 1;
/// Bytes of a new secret: 160 bits, RFC 4226's recommendation and the size
/// of an HMAC-SHA-1 block's key that authenticator apps expect.
const SECRET_BYTES: usize = 20;
/// Characters of a recovery code, from the base32 alphabet: 80 bits.
const RECOVERY_CODE_CHARS: usize = 16;
const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// [`OneTimeCodes`] on `totp-rs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TotpRsCodes;

impl TotpRsCodes {
    /// The code of `secret` at `unix_secs` (for tests and tools that play
    /// the authenticator app).
    #[must_use]
    pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
        totp(secret).generate(unix_secs).to_string()
    }

    /// As [`TotpRsCodes::code_at`], for a secret in base32 as enrolment
    /// shows it; `None` when it is not base32.
    #[must_use]
    pub fn code_at_base32(secret: &str, unix_secs: u64) -> Option<String> {
        let secret = Secret::try_from_base32(secret).ok()?;
        Some(Self::code_at(secret.as_ref(), unix_secs))
    }
}

fn totp(secret: &[u8]) -> totp_rs::Totp {
    // `build_noncompliant`: the secret's length is ours to choose (stored
    // secrets are always 20 bytes, the RFC's test vectors use others), and
    // digits and period are constants known to be valid.
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(PERIOD_SECS)
        .with_skew(SKEW_STEPS)
        .with_secret(secret.to_vec())
        .build_noncompliant()
}

/// Percent-encodes everything but RFC 3986's unreserved characters and
/// `@`, which a path or query may hold as it is: the label reads
/// `Issuer:ada@example.com`, as in the Key URI format's own examples, and
/// an app that shows it undecoded still shows the address. (`+` stays
/// encoded: some apps decode it as a space.)
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl OneTimeCodes for TotpRsCodes {
    fn new_secret(&self) -> TotpSecret {
        let mut bytes = vec![0_u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        TotpSecret::new(bytes)
    }

    fn encode(&self, secret: &TotpSecret) -> SecretString {
        SecretString::from(Secret::from(secret.expose().to_vec()).to_base32())
    }

    fn otpauth_uri(&self, secret: &TotpSecret, issuer: &str, account: &str) -> SecretString {
        let base32 = Secret::from(secret.expose().to_vec()).to_base32();
        let issuer = percent_encode(issuer);
        SecretString::from(format!(
            "otpauth://totp/{issuer}:{account}?secret={base32}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
            account = percent_encode(account),
        ))
    }

    fn matching_step(&self, secret: &TotpSecret, code: &str, now: DateTime<Utc>) -> Option<u64> {
        let now = u64::try_from(now.timestamp()).ok()?;
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        totp(secret.expose()).check(code, now)
    }

    fn new_recovery_code(&self) -> SecretString {
        let mut bytes = [0_u8; RECOVERY_CODE_CHARS];
        rand::rng().fill_bytes(&mut bytes);
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(BASE32_LOWER[usize::from(b % 32)]))
            .collect();
        // Groups of four, as users read them out.
        let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
        SecretString::from(groups.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use secrecy::ExposeSecret as _;

    /// RFC 6238 appendix B, SHA-1: the 20-byte ASCII secret, each time and
    /// its 8-digit code. A 6-digit code is the last six digits of it
    /// (both are the same truncated value modulo a power of ten).
    const RFC_SECRET: &[u8] = b"12345678901234567890";
    const RFC_VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_sha1_vectors() {
        for (time, expected) in RFC_VECTORS {
            let eight = Builder::new()
                .with_algorithm(Algorithm::SHA1)
                .with_digits(8)
                .with_step_duration(30)
                .with_secret(RFC_SECRET.to_vec())
                .build_noncompliant()
                .generate(u64::try_from(time).expect("positive"));
            assert_eq!(eight.to_string(), expected, "8 digits at T = {time}");
            let six = &expected[2..];
            assert_eq!(
                TotpRsCodes::code_at(RFC_SECRET, u64::try_from(time).expect("positive")),
                six
            );
            let now = Utc.timestamp_opt(time, 0).single().expect("valid time");
            let secret = TotpSecret::new(RFC_SECRET.to_vec());
            assert_eq!(
                TotpRsCodes.matching_step(&secret, six, now),
                Some(u64::try_from(time).expect("positive") / 30),
                "6 digits at T = {time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = TotpSecret::new(RFC_SECRET.to_vec());
        let code = TotpRsCodes::code_at(RFC_SECRET, 1_111_111_111);
        let step = 1_111_111_111 / 30;
        for (offset, accepted) in [
            (-60, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let now = Utc
                .timestamp_opt(1_111_111_111 + offset, 0)
                .single()
                .expect("valid time");
            let found = TotpRsCodes.matching_step(&secret, &code, now);
            assert_eq!(found.is_some(), accepted, "offset {offset}");
            if accepted {
                assert_eq!(found, Some(step));
            }
        }
    }

    #[test]
    fn refuses_what_is_not_six_digits() {
        let secret = TotpSecret::new(RFC_SECRET.to_vec());
        let now = Utc.timestamp_opt(59, 0).single().expect("valid time");
        for code in ["", "28708", "2870822", "+87082", "28708a", " 87082"] {
            assert_eq!(
                TotpRsCodes.matching_step(&secret, code, now),
                None,
                "{code:?}"
            );
        }
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret::new(RFC_SECRET.to_vec());
        let uri = TotpRsCodes.otpauth_uri(&secret, "Auth Module", "ada+1@example.com");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Auth%20Module:ada%2B1@example.com?\
             secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Auth%20Module\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            TotpRsCodes.encode(&secret).expose_secret(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn fresh_secrets_and_recovery_codes_differ() {
        assert_ne!(
            TotpRsCodes.new_secret().expose(),
            TotpRsCodes.new_secret().expose()
        );
        assert_eq!(TotpRsCodes.new_secret().expose().len(), 20);
        let code = TotpRsCodes.new_recovery_code();
        let code = code.expose_secret();
        assert_eq!(code.len(), 19);
        assert!(
            code.chars()
                .all(|c| c == '-' || BASE32_LOWER.contains(&(c as u8)))
        );
        assert_ne!(code, TotpRsCodes.new_recovery_code().expose_secret());
    }
}
