//! Request extractors: validated JSON bodies, the authenticated caller and the
//! client's address.

mod admin;
mod client;
mod current_user;
mod cursor;
mod json;
mod pagination;
mod path_id;

pub use admin::AdminUser;
pub use client::{RequestClient, TrustedProxies};
pub use current_user::CurrentUser;
pub use cursor::{InvalidCursor, decode_cursor, encode_cursor};
pub(crate) use json::read_limited;
pub use json::{ValidJson, missing_field};
pub use pagination::{PageQuery, Pagination};
pub use path_id::PathId;
