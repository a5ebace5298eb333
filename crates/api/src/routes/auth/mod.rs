//! `/auth/*`: signing up and logging in.

pub mod login;
pub mod signup;
