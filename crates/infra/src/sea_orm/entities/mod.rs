//! SeaORM entities, one per table.

pub mod project;
pub mod session;
pub mod user;
