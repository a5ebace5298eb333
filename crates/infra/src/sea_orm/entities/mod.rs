//! SeaORM entities, one per table.

pub mod action_token;
pub mod audit_event;
pub mod mfa_challenge;
pub mod mfa_factor;
pub mod mfa_recovery_code;
pub mod project;
pub mod refresh_token;
pub mod session;
pub mod user;
