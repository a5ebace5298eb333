//! `/users/me`: the current user.

pub mod me;
