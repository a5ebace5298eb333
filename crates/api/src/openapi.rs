//! The OpenAPI 3.1 document of the contract, served at `/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{self, TokenResponse, UserResponse};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Auth Module",
        description = "Authentication service: sign-up, log-in, sessions and the current user. \
            Every error is an RFC 9457 problem document (`application/problem+json`) whose \
            `code` field is stable.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::auth::signup::handle,
        routes::auth::login::handle,
        routes::users::me::get,
    ),
    components(schemas(Problem, ProblemField, TokenResponse, UserResponse)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Signing up and logging in"),
        (name = "users", description = "The current user"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
