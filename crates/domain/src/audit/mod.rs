//! The security audit trail: what happened to an account, who did it and
//! from where ([`AuditEvent`]), the [`AuditLog`] port that stores it, the
//! [`Auditor`] the other use-cases record through, and [`AuditService`],
//! which reads and purges the trail.
//!
//! Events that describe a change to stored state (sign-up, password change
//! or reset, e-mail verification, a change of role or `is_active`, deletion)
//! are handed to the repository method that makes the change, which writes
//! them in the same transaction. The others (log-in outcomes, refresh-token
//! reuse, log-out, revocations, reset requests) are recorded right after,
//! through [`Auditor::record`], and a failure to record them never fails the
//! user's request.

mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use model::{
    AuditDetails, AuditEvent, AuditEventType, AuditFilter, DetailValue, Origin,
    UnknownAuditEventType,
};
pub use ports::AuditLog;
pub use service::{AUDIT_TARGET, AuditError, AuditService, Auditor, emit};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockAuditLog;
