//! The example's tests, in one binary to keep link time down.
//!
//! - `flow`: the use-cases end to end on the in-memory adapters.
//! - `store`: the contracts of the repository ports, held by `InMemoryStore`.
//! - `adapters`: the rate limiter, opaque tokens and demonstration hasher.
//! - `mocks`: the example's wiring and own use-case against auth-domain's
//!   `mockall` mocks.

mod adapters;
mod flow;
mod helpers;
mod mocks;
mod store;
