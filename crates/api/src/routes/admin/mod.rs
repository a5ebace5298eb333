//! `/admin/*`: user management and the audit trail, for administrators.

pub mod audit;
pub mod users;
