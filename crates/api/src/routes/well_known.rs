//! `/.well-known/jwks.json`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// A JSON Web Key Set (RFC 7517).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    /// Public keys with `kid`, `alg`, `use: "sig"`; empty for HS256.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// The public keys that verify access tokens, the current one first, then
/// retired ones still valid during a rotation.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "get_jwks", tag = "health",
    responses((status = 200, description = "The key set", body = Jwks)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(&state.jwks)
}
