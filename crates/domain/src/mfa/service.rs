//! Turning the second factor on and off, and its recovery codes.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};

use super::{
    CipherError, Enrolment, FactorState, MfaError, OneTimeCodes, RECOVERY_CODE_COUNT, SecondFactor,
    SecondFactorRepository, SecretCipher, normalise_recovery_code,
};
use crate::audit::{self, AuditDetails, AuditEventType, Auditor, Origin};
use crate::auth::PasswordGuard;
use crate::common::{Clock, StorageError, TokenHash};
use crate::session::{ClientInfo, SessionId, SessionRepository};
use crate::user::{PasswordVerification, User, UserId, UserRepository};

/// The ports [`MfaService`] and [`super::MfaChallengeService`] work through.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct MfaPorts {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Second factors and recovery codes.
    pub factors: Arc<dyn SecondFactorRepository>,
    /// Session storage: turning MFA on ends the other sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// The code arithmetic and fresh secrets.
    pub codes: Arc<dyn OneTimeCodes>,
    /// Seals secrets at rest.
    pub cipher: Arc<dyn SecretCipher>,
    /// Counts password and code checks within the log-in limits.
    pub guard: PasswordGuard,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The audit trail: MFA turned on or off, recovery codes replaced,
    /// wrong codes at log-in.
    pub audit: Auditor,
}

/// Why a code could not be checked.
#[derive(Debug)]
pub(crate) enum CodeFailure {
    Storage(StorageError),
    Cipher(CipherError),
}

impl From<StorageError> for CodeFailure {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

impl From<CipherError> for CodeFailure {
    fn from(error: CipherError) -> Self {
        Self::Cipher(error)
    }
}

impl From<CodeFailure> for MfaError {
    fn from(failure: CodeFailure) -> Self {
        match failure {
            CodeFailure::Storage(e) => e.into(),
            CodeFailure::Cipher(e) => e.into(),
        }
    }
}

impl From<CodeFailure> for super::MfaVerifyError {
    fn from(failure: CodeFailure) -> Self {
        match failure {
            CodeFailure::Storage(e) => e.into(),
            CodeFailure::Cipher(e) => e.into(),
        }
    }
}

impl MfaPorts {
    /// Whether `code` is a TOTP code of `factor` for a step later than any
    /// accepted before, or one of the user's unused
    /// recovery codes; either way it is spent, atomically, so a code is
    /// accepted once only, however many requests present it at once.
    /// `Some(())` when accepted, `None` when refused (the shape
    /// [`PasswordGuard`] counts).
    pub(crate) async fn spend_code(
        &self,
        factor: &SecondFactor,
        code: &str,
    ) -> Result<Option<()>, CodeFailure> {
        let code = code.trim();
        let accepted = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.cipher.open(factor.user_id, &factor.secret)?;
            match self.codes.matching_step(&secret, code, self.clock.now()) {
                Some(step) => self.factors.accept_step(factor.user_id, step).await?,
                None => false,
            }
        } else {
            let hash = TokenHash::of(&normalise_recovery_code(code));
            self.factors
                .consume_recovery_code(factor.user_id, &hash, self.clock.now())
                .await?
        };
        Ok(accepted.then_some(()))
    }

    /// A fresh set of recovery codes: the plaintexts for the user, the
    /// hashes to store.
    fn new_recovery_codes(&self) -> (Vec<SecretString>, Vec<TokenHash>) {
        (0..RECOVERY_CODE_COUNT)
            .map(|_| {
                let code = self.codes.new_recovery_code();
                let hash = TokenHash::of(&normalise_recovery_code(code.expose_secret()));
                (code, hash)
            })
            .unzip()
    }
}

/// Turning the caller's second factor on and off, and their recovery codes;
/// an administrator's reset.
#[allow(missing_debug_implementations)]
pub struct MfaService {
    ports: MfaPorts,
    /// The issuer name authenticator apps show next to the account.
    issuer: String,
}

impl MfaService {
    /// A service on `ports`, naming itself `issuer` in `otpauth` URIs.
    #[must_use]
    pub fn new(ports: MfaPorts, issuer: String) -> Self {
        Self { ports, issuer }
    }

    /// Starts (or restarts) a TOTP enrolment after checking the password:
    /// a fresh secret, sealed and stored as pending. Log-in does not ask
    /// for a code until [`MfaService::confirm`].
    ///
    /// # Errors
    /// [`MfaError::AlreadyEnabled`] when the factor is on;
    /// [`MfaError::WrongPassword`]; [`MfaError::RateLimited`] past the
    /// log-in limits, with nothing checked.
    #[tracing::instrument(name = "mfa_enrol", skip_all, fields(user_id = %user.id))]
    pub async fn start_enrolment(
        &self,
        user: &User,
        client: &ClientInfo,
        password: &SecretString,
    ) -> Result<Enrolment, MfaError> {
        let client_ip = client.ip.as_deref();
        if user.mfa_enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        self.check_password(user, client_ip, password).await?;
        let secret = self.ports.codes.new_secret();
        let sealed = self.ports.cipher.seal(user.id, &secret)?;
        if !self
            .ports
            .factors
            .start_enrolment(user.id, &sealed, self.ports.clock.now())
            .await?
        {
            return Err(MfaError::AlreadyEnabled);
        }
        Ok(Enrolment {
            secret: self.ports.codes.encode(&secret),
            otpauth_uri: self
                .ports
                .codes
                .otpauth_uri(&secret, &self.issuer, user.email.as_str()),
        })
    }

    /// Confirms the pending enrolment with a code from the app: the factor
    /// is on, the user gets [`RECOVERY_CODE_COUNT`] recovery codes (shown
    /// once, stored hashed), and every other session of the user ends.
    ///
    /// # Errors
    /// [`MfaError::NotEnabled`] when no enrolment is pending;
    /// [`MfaError::AlreadyEnabled`] when the factor is on (also when a
    /// concurrent confirmation won); [`MfaError::InvalidCode`];
    /// [`MfaError::RateLimited`] past the log-in limits.
    #[tracing::instrument(name = "mfa_confirm", skip_all, fields(user_id = %user.id))]
    pub async fn confirm(
        &self,
        user: &User,
        keep: SessionId,
        client: &ClientInfo,
        code: &str,
    ) -> Result<Vec<SecretString>, MfaError> {
        let client_ip = client.ip.as_deref();
        let factor = match self.ports.factors.find(user.id).await? {
            None => return Err(MfaError::NotEnabled),
            Some(factor) if factor.state == FactorState::Enabled => {
                return Err(MfaError::AlreadyEnabled);
            }
            Some(factor) => factor,
        };
        let (plaintexts, hashes) = self.ports.new_recovery_codes();
        let event = self.ports.audit.event(
            AuditEventType::MfaEnabled,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new().with("method", "totp"),
        );
        let enabled = self
            .ports
            .guard
            .check_code(user.email.as_str(), client_ip, async {
                let secret = self.ports.cipher.open(user.id, &factor.secret)?;
                let now = self.ports.clock.now();
                let Some(step) = self.ports.codes.matching_step(&secret, code.trim(), now) else {
                    return Ok(None);
                };
                // The step confirmed with is recorded as used: the same code
                // cannot then sign in.
                let enabled = self
                    .ports
                    .factors
                    .enable(user.id, &factor.secret, step, &hashes, now, &event)
                    .await?;
                Ok::<_, CodeFailure>(Some(enabled))
            })
            .await??;
        match enabled {
            None => return Err(MfaError::InvalidCode),
            Some(false) => return Err(MfaError::AlreadyEnabled),
            Some(true) => {}
        }
        audit::emit(&event);
        let revoked = self
            .ports
            .sessions
            .revoke_all_except(user.id, keep, self.ports.clock.now())
            .await?;
        tracing::info!(revoked, "second factor enabled; other sessions revoked");
        Ok(plaintexts)
    }

    /// Turns the caller's second factor off, after checking the password
    /// and a code (a TOTP code or a recovery code).
    ///
    /// # Errors
    /// [`MfaError::NotEnabled`]; [`MfaError::WrongPassword`];
    /// [`MfaError::InvalidCode`]; [`MfaError::RateLimited`] past the log-in
    /// limits (wrong passwords and wrong codes count).
    #[tracing::instrument(name = "mfa_disable", skip_all, fields(user_id = %user.id))]
    pub async fn disable(
        &self,
        user: &User,
        client: &ClientInfo,
        password: &SecretString,
        code: &str,
    ) -> Result<(), MfaError> {
        self.check_both(user, client.ip.as_deref(), password, code)
            .await?;
        let event = self.ports.audit.event(
            AuditEventType::MfaDisabled,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new().with("by", "user"),
        );
        if !self
            .ports
            .factors
            .disable(user.id, self.ports.clock.now(), &event)
            .await?
        {
            return Err(MfaError::NotEnabled);
        }
        audit::emit(&event);
        tracing::info!("second factor disabled");
        Ok(())
    }

    /// Replaces the caller's recovery codes with a fresh set, after
    /// checking the password and a code; the old codes stop working.
    ///
    /// # Errors
    /// As [`MfaService::disable`].
    #[tracing::instrument(name = "mfa_recovery_codes", skip_all, fields(user_id = %user.id))]
    pub async fn regenerate_recovery_codes(
        &self,
        user: &User,
        client: &ClientInfo,
        password: &SecretString,
        code: &str,
    ) -> Result<Vec<SecretString>, MfaError> {
        self.check_both(user, client.ip.as_deref(), password, code)
            .await?;
        let (plaintexts, hashes) = self.ports.new_recovery_codes();
        let event = self.ports.audit.event(
            AuditEventType::RecoveryCodesRegenerated,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new(),
        );
        if !self
            .ports
            .factors
            .replace_recovery_codes(user.id, &hashes, self.ports.clock.now(), &event)
            .await?
        {
            return Err(MfaError::NotEnabled);
        }
        audit::emit(&event);
        Ok(plaintexts)
    }

    /// An administrator turns the second factor of `user` off (a lost
    /// device) and ends every session of theirs.
    ///
    /// # Errors
    /// [`MfaError::NotFound`] for an unknown user; [`MfaError::NotEnabled`]
    /// when their second factor is not on.
    #[tracing::instrument(name = "mfa_reset", skip_all, fields(user_id = %user))]
    pub async fn reset(&self, origin: &Origin, user: UserId) -> Result<(), MfaError> {
        if self.ports.users.find_by_id(user).await?.is_none() {
            return Err(MfaError::NotFound);
        }
        let now = self.ports.clock.now();
        let event = self.ports.audit.event(
            AuditEventType::MfaDisabled,
            Some(user),
            origin,
            AuditDetails::new().with("by", "administrator"),
        );
        if !self.ports.factors.disable(user, now, &event).await? {
            return Err(MfaError::NotEnabled);
        }
        audit::emit(&event);
        let revoked = self.ports.sessions.revoke_all(user, now).await?;
        tracing::info!(revoked, "second factor reset by an administrator");
        Ok(())
    }

    /// The password, then a code of the enabled factor, each counted.
    async fn check_both(
        &self,
        user: &User,
        client_ip: Option<&str>,
        password: &SecretString,
        code: &str,
    ) -> Result<(), MfaError> {
        let factor = match self.ports.factors.find(user.id).await? {
            Some(factor) if factor.state == FactorState::Enabled => factor,
            _ => return Err(MfaError::NotEnabled),
        };
        self.check_password(user, client_ip, password).await?;
        self.ports
            .guard
            .check_code(
                user.email.as_str(),
                client_ip,
                self.ports.spend_code(&factor, code),
            )
            .await??
            .ok_or(MfaError::InvalidCode)
    }

    async fn check_password(
        &self,
        user: &User,
        client_ip: Option<&str>,
        password: &SecretString,
    ) -> Result<(), MfaError> {
        match self
            .ports
            .guard
            .check(
                user.email.as_str(),
                client_ip,
                password,
                &user.password_hash,
            )
            .await?
        {
            PasswordVerification::Match { .. } => Ok(()),
            PasswordVerification::Mismatch => Err(MfaError::WrongPassword),
        }
    }
}
