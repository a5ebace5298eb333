//! `/auth/*`: signing up, logging in, refreshing and logging out.

pub mod login;
pub mod logout;
pub mod mfa;
pub mod password;
pub mod refresh;
pub mod signup;
pub mod token;
pub mod verify_email;
