//! HTTP routes, one module per area and one file per action.

pub mod auth;
pub mod health;
pub mod users;

mod dto;

pub use dto::{TokenResponse, UserResponse};

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health")
            .get(health::live)
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/health/ready")
            .get(health::ready)
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/openapi.json")
            .get(crate::openapi::serve)
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/auth/signup")
            .post(auth::signup::handle)
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/auth/login")
            .post(auth::login::handle)
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/users/me")
            .get(users::me::get)
            .default_service(web::to(method_not_allowed)),
    );
}

/// The answer for a known path with a method it does not serve.
async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::MethodNotAllowed().finish())
}

/// The answer for an unknown path.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
