//! `/admin/users`: user management for administrators.

pub mod users;
