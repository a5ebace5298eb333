//! Request extractors: validated JSON bodies, the authenticated caller and the
//! client's address.

mod client;
mod current_user;
mod json;

pub use client::{RequestClient, TrustedProxies};
pub use current_user::CurrentUser;
pub use json::{ValidJson, missing_field};
