//! The OpenAPI 3.1 document of the contract, served at `/openapi.json`.

use std::sync::LazyLock;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{self, TokenResponse, UserResponse};

pub mod responses;

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
        serve,
        docs_page,
        routes::health::live,
        routes::health::ready,
        routes::health::metrics,
        routes::auth::signup::handle,
        routes::auth::login::handle,
        routes::auth::refresh::handle,
        routes::auth::logout::handle,
        routes::auth::token::handle,
        routes::auth::mfa::verify,
        routes::auth::verify_email::request,
        routes::auth::verify_email::confirm,
        routes::auth::password::forgot,
        routes::auth::password::reset,
        routes::users::me::get,
        routes::users::me::update,
        routes::users::me::delete,
        routes::users::password::change,
        routes::users::mfa::start,
        routes::users::mfa::confirm,
        routes::users::mfa::disable,
        routes::users::mfa::regenerate_recovery_codes,
        routes::users::sessions::list,
        routes::users::sessions::revoke,
        routes::users::sessions::revoke_all,
        routes::users::audit::list,
        routes::well_known::jwks,
        routes::projects::list::handle,
        routes::projects::create::handle,
        routes::projects::get::handle,
        routes::projects::update::handle,
        routes::projects::delete::handle,
        routes::admin::users::list,
        routes::admin::users::get,
        routes::admin::users::update,
        routes::admin::users::reset_mfa,
        routes::admin::audit::list,
    ),
    components(schemas(Problem, ProblemField, TokenResponse, UserResponse)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Signing up and logging in"),
        (name = "users", description = "The current user and their sessions"),
        (name = "mfa", description = "The current user's second factor (TOTP) and recovery codes"),
        (name = "projects", description = "Projects owned by the current user"),
        (name = "admin", description = "User management and the audit trail (role `admin`)"),
    )
)]
pub struct ApiDoc;

/// The security schemes, and the requirement of every operation that needs
/// a token.
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
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/token",
                Scopes::new(),
            ))])),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if needs_token(operation) {
                    operation.security = Some(vec![
                        SecurityRequirement::new("bearer", Vec::<String>::new()),
                        SecurityRequirement::new("oauth2", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

/// Whether an operation answers 401 `unauthorized`, which it does by listing
/// [`responses::BearerErrors`] or [`responses::AdminErrors`] (or a 401 row of
/// its own that names the code): then it takes a bearer token, from any
/// client or from Swagger UI's OAuth 2.0 password flow.
fn needs_token(operation: &Operation) -> bool {
    matches!(
        operation.responses.responses.get("401"),
        Some(RefOr::T(response)) if response.description.contains(responses::UNAUTHORIZED_CODE)
    )
}

/// The document as the code declares it, built once per process.
static DECLARED: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The served document, encoded once when the application is built.
#[derive(Debug, Clone)]
pub struct ServedDocument(web::Bytes);

impl ServedDocument {
    /// The document for a password policy of `min_length`, listing
    /// `/metrics` only when `metrics` are served on this listener, as JSON.
    ///
    /// # Errors
    /// When the document cannot be encoded.
    pub fn new(min_length: usize, metrics: bool) -> serde_json::Result<Self> {
        Ok(Self(
            serde_json::to_vec(&document(min_length, metrics))?.into(),
        ))
    }
}

/// `GET /docs`: the Swagger UI's page itself, not a redirect, so that a
/// client that does not follow redirects sees it too. Its assets are the
/// same as under `/docs/`: the page names them relative to `/docs/`.
#[utoipa::path(get, path = "/docs", operation_id = "docs", tag = "health",
    responses((status = 200, description = "Swagger UI for this document, served from the binary", body = String, content_type = "text/html")))]
pub async fn docs_page(config: web::Data<DocsConfig>) -> HttpResponse {
    match utoipa_swagger_ui::serve("index.html", config.0.clone()) {
        Ok(Some(file)) => {
            let html = String::from_utf8_lossy(&file.bytes).replacen(
                "<head>",
                "<head>\n    <base href=\"/docs/\">",
                1,
            );
            HttpResponse::Ok()
                .content_type(ContentType::html())
                .body(html)
        }
        _ => HttpResponse::InternalServerError().finish(),
    }
}

/// The Swagger UI's configuration: it reads `/openapi.json`.
#[derive(Clone)]
pub struct DocsConfig(pub std::sync::Arc<utoipa_swagger_ui::Config<'static>>);

impl std::fmt::Debug for DocsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocsConfig").finish_non_exhaustive()
    }
}

impl Default for DocsConfig {
    fn default() -> Self {
        Self(std::sync::Arc::new(utoipa_swagger_ui::Config::from(
            "/openapi.json",
        )))
    }
}

/// `GET /openapi.json`: the document, with the configured password policy.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "health",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)))]
pub async fn serve(document: web::Data<ServedDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.0.clone())
}

/// The document as served, for a password policy of `min_length` (also
/// printed by `authd openapi`), with `/metrics` only when `metrics` are
/// served on the main listener (not on a listener of their own, not off).
#[must_use]
pub fn document(min_length: usize, metrics: bool) -> utoipa::openapi::OpenApi {
    let mut doc = DECLARED.clone();
    apply_password_policy(&mut doc, min_length);
    if !metrics {
        doc.paths.paths.remove("/metrics");
    }
    doc
}

/// New passwords are annotated with the default minimum length; the served
/// document states the one configured (`PASSWORD__MIN_LENGTH`).
fn apply_password_policy(doc: &mut utoipa::openapi::OpenApi, min_length: usize) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (schema, field) in [
        ("SignupRequest", "password"),
        ("ChangePassword", "new_password"),
        ("ResetPassword", "new_password"),
    ] {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema)
            && let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field)
        {
            property.min_length = Some(min_length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_listed_only_where_they_are_served() {
        assert!(document(8, true).paths.paths.contains_key("/metrics"));
        let elsewhere = document(8, false);
        assert!(!elsewhere.paths.paths.contains_key("/metrics"));
        assert!(elsewhere.paths.paths.contains_key("/health"));
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values()
            .flat_map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .filter_map(|op| op.operation_id.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let total = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "duplicate operationId");
    }

    #[test]
    fn new_passwords_state_the_configured_minimum() {
        let mut doc = ApiDoc::openapi();
        apply_password_policy(&mut doc, 15);
        let json = serde_json::to_value(&doc).expect("json");
        let schemas = &json["components"]["schemas"];
        assert_eq!(
            schemas["SignupRequest"]["properties"]["password"]["minLength"],
            15
        );
        assert_eq!(
            schemas["ChangePassword"]["properties"]["new_password"]["minLength"],
            15
        );
        assert_eq!(
            schemas["ResetPassword"]["properties"]["new_password"]["minLength"],
            15
        );
    }
}
