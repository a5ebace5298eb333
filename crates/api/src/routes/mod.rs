//! HTTP routes, one module per area and one file per action.

pub mod admin;
pub mod auth;
pub mod health;
pub mod projects;
pub mod users;
pub mod well_known;

mod dto;

pub use dto::{Name, RoleName, TokenResponse, UserResponse};

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// Registers every route. Each resource answers other methods with 405 and
/// an `Allow` header.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health", "GET").get(health::live))
        .service(resource("/health/ready", "GET").get(health::ready))
        .service(resource("/openapi.json", "GET").get(crate::openapi::serve))
        .service(resource("/metrics", "GET").get(health::metrics))
        .service(web::resource("/docs").to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                .finish()
        }))
        .service(resource("/.well-known/jwks.json", "GET").get(well_known::jwks))
        .service(resource("/auth/signup", "POST").post(auth::signup::handle))
        .service(resource("/auth/login", "POST").post(auth::login::handle))
        .service(resource("/auth/refresh", "POST").post(auth::refresh::handle))
        .service(resource("/auth/logout", "POST").post(auth::logout::handle))
        .service(resource("/auth/token", "POST").post(auth::token::handle))
        .service(resource("/auth/verify-email/request", "POST").post(auth::verify_email::request))
        .service(resource("/auth/verify-email", "POST").post(auth::verify_email::confirm))
        .service(resource("/auth/password/forgot", "POST").post(auth::password::forgot))
        .service(resource("/auth/password/reset", "POST").post(auth::password::reset))
        .service(
            resource("/users/me", "GET, PATCH, DELETE")
                .get(users::me::get)
                .patch(users::me::update)
                .delete(users::me::delete),
        )
        .service(resource("/users/me/password", "POST").post(users::password::change))
        .service(
            resource("/users/me/sessions", "GET, DELETE")
                .get(users::sessions::list)
                .delete(users::sessions::revoke_all),
        )
        .service(resource("/users/me/sessions/{id}", "DELETE").delete(users::sessions::revoke))
        .service(
            resource("/projects", "GET, POST")
                .get(projects::list::handle)
                .post(projects::create::handle),
        )
        .service(
            resource("/projects/{id}", "GET, PATCH, DELETE")
                .get(projects::get::handle)
                .patch(projects::update::handle)
                .delete(projects::delete::handle),
        )
        .service(resource("/admin/users", "GET").get(admin::users::list))
        .service(
            resource("/admin/users/{id}", "GET, PATCH")
                .get(admin::users::get)
                .patch(admin::users::update),
        );
}

/// A resource whose unmatched methods get 405 with `Allow: allowed`.
fn resource(path: &str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, allowed))
            .finish()
    }))
}

/// The answer for an unknown path.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
