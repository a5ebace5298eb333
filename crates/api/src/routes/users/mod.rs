//! `/users/me`: the current user and their sessions.

pub mod audit;
pub mod me;
pub mod mfa;
pub mod password;
pub mod sessions;
