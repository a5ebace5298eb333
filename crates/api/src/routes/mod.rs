//! HTTP routes, one module per area and one file per action.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod health;
pub mod projects;
pub mod users;
pub mod well_known;

mod dto;

pub use dto::{Name, RoleName, TokenResponse, UserResponse};

use actix_web::dev::HttpServiceFactory;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};

use crate::error::ApiError;
use crate::metrics::RouteTemplate;

/// Registers every route but `/metrics` ([`metrics`]), whose listener is a
/// setting. Each resource answers other methods with 405 and an `Allow`
/// header, and carries its template as a [`RouteTemplate`], the route
/// label of its metrics. Every `/auth/*` route is registered with
/// [`auth_post`], which puts it behind the per-address limit.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get(resource("/health", "GET, HEAD"), health::live))
        .service(get(resource("/health/ready", "GET, HEAD"), health::ready))
        .service(get(
            resource("/openapi.json", "GET, HEAD"),
            crate::openapi::serve,
        ))
        .service(
            get(resource("/docs", "GET, HEAD"), crate::openapi::docs_page)
                .app_data(web::Data::new(crate::openapi::DocsConfig::default())),
        )
        .service(get(
            resource("/.well-known/jwks.json", "GET, HEAD"),
            well_known::jwks,
        ))
        .service(auth_post("/auth/signup", auth::signup::handle))
        .service(auth_post("/auth/login", auth::login::handle))
        .service(auth_post("/auth/refresh", auth::refresh::handle))
        .service(auth_post("/auth/logout", auth::logout::handle))
        .service(auth_post("/auth/token", auth::token::handle))
        .service(auth_post("/auth/mfa/verify", auth::mfa::verify))
        .service(auth_post(
            "/auth/verify-email/request",
            auth::verify_email::request,
        ))
        .service(auth_post("/auth/verify-email", auth::verify_email::confirm))
        .service(auth_post("/auth/password/forgot", auth::password::forgot))
        .service(auth_post("/auth/password/reset", auth::password::reset))
        .service(
            get_as(
                Access::SignedIn,
                resource("/users/me", "GET, HEAD, PATCH, DELETE"),
                users::me::get,
            )
            .route(Access::SignedIn.route(web::patch().to(users::me::update)))
            // Only the deletion checks a password: the hot read stays
            // free of the watch.
            .route(
                Access::SignedIn.route(
                    web::delete()
                        .to(users::me::delete)
                        .wrap(from_fn(crate::middleware::stop_when_client_leaves)),
                ),
            ),
        )
        .service(
            resource("/users/me/password", "POST")
                .route(Access::SignedIn.route(web::post().to(users::password::change)))
                .wrap(from_fn(crate::middleware::stop_when_client_leaves)),
        )
        .service(get_as(
            Access::SignedIn,
            resource("/users/me/audit", "GET, HEAD"),
            users::audit::list,
        ))
        .service(
            resource("/users/me/mfa/totp", "POST, DELETE")
                .route(Access::SignedIn.route(web::post().to(users::mfa::start)))
                .route(Access::SignedIn.route(web::delete().to(users::mfa::disable)))
                .wrap(from_fn(crate::middleware::stop_when_client_leaves)),
        )
        .service(
            resource("/users/me/mfa/totp/confirm", "POST")
                .route(Access::SignedIn.route(web::post().to(users::mfa::confirm))),
        )
        .service(
            resource("/users/me/mfa/recovery-codes", "POST")
                .route(
                    Access::SignedIn.route(web::post().to(users::mfa::regenerate_recovery_codes)),
                )
                .wrap(from_fn(crate::middleware::stop_when_client_leaves)),
        )
        .service(
            get_as(
                Access::SignedIn,
                resource("/users/me/sessions", "GET, HEAD, DELETE"),
                users::sessions::list,
            )
            .route(Access::SignedIn.route(web::delete().to(users::sessions::revoke_all))),
        )
        .service(
            resource("/users/me/sessions/{id}", "DELETE")
                .route(Access::SignedIn.route(web::delete().to(users::sessions::revoke))),
        )
        .service(
            get_as(
                Access::SignedIn,
                resource("/projects", "GET, HEAD, POST"),
                projects::list::handle,
            )
            .route(Access::SignedIn.route(web::post().to(projects::create::handle))),
        )
        .service(
            get_as(
                Access::SignedIn,
                resource("/projects/{id}", "GET, HEAD, PATCH, DELETE"),
                projects::get::handle,
            )
            .route(Access::SignedIn.route(web::patch().to(projects::update::handle)))
            .route(Access::SignedIn.route(web::delete().to(projects::delete::handle))),
        )
        .service(get_as(
            Access::Admin,
            resource("/admin/users", "GET, HEAD"),
            admin::users::list,
        ))
        .service(get_as(
            Access::Admin,
            resource("/admin/audit", "GET, HEAD"),
            admin::audit::list,
        ))
        .service(
            get_as(
                Access::Admin,
                resource("/admin/users/{id}", "GET, HEAD, PATCH"),
                admin::users::get,
            )
            .route(Access::Admin.route(web::patch().to(admin::users::update))),
        )
        .service(
            resource("/admin/users/{id}/mfa", "DELETE")
                .route(Access::Admin.route(web::delete().to(admin::users::reset_mfa))),
        );
}

/// Who may call a route, checked before anything else about the request
/// (its path parameters, query or body): without a valid token the answer
/// is 401, and a non-admin's on `/admin` is 403, however malformed the rest.
#[derive(Debug, Clone, Copy)]
enum Access {
    SignedIn,
    Admin,
}

impl Access {
    fn route(self, route: actix_web::Route) -> actix_web::Route {
        match self {
            Self::SignedIn => route.wrap(from_fn(crate::middleware::signed_in)),
            Self::Admin => route.wrap(from_fn(crate::middleware::administrator)),
        }
    }
}

/// Registers `GET /metrics`, on the main listener or a listener of its own.
pub fn metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(get(resource("/metrics", "GET, HEAD"), health::metrics));
}

/// A resource whose unmatched methods get 405 with `Allow: allowed`, labelled
/// with its template.
fn resource(path: &'static str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path)
        .app_data(RouteTemplate(path))
        .default_service(web::to(move || async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((actix_web::http::header::ALLOW, allowed))
                .finish()
        }))
}

/// `resource` answering GET with `handler`, and HEAD with the same answer
/// without its body (RFC 9110 §9.3.2: every GET resource answers HEAD), so
/// that a load balancer's `HEAD /health` or a cache's revalidation of the
/// key set sees the same status and headers as GET.
fn get<F, Args>(resource: actix_web::Resource, handler: F) -> actix_web::Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

/// [`get`], for callers with `access` only.
fn get_as<F, Args>(access: Access, resource: actix_web::Resource, handler: F) -> actix_web::Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource
        .route(access.route(web::get().to(handler.clone())))
        .route(access.route(web::head().to(handler)))
}

/// A `POST /auth/*` resource behind the per-address limit
/// ([`crate::middleware::ip_rate_limit`]). The limiter wraps the resource
/// itself, so it counts whatever reaches the handler, however the path was
/// spelt (`/%61uth/login` is routed here after percent-decoding), and nothing
/// that does not (`//auth/login` and `/auth/login/` match no route: 404).
/// Wrong methods still get 405 with `Allow: POST`, and are counted too.
/// A request whose client leaves is dropped at once
/// ([`crate::middleware::stop_when_client_leaves`]), with any hash it queued.
fn auth_post<F, Args>(path: &'static str, handler: F) -> impl HttpServiceFactory + 'static
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource(path, "POST")
        .post(handler)
        .wrap(from_fn(crate::middleware::ip_rate_limit))
        .wrap(from_fn(crate::middleware::stop_when_client_leaves))
}

/// The answer for an unknown path.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
