//! The request pipeline around every handler: request id, tracing span and
//! log line, panic recovery, problem+json for responses actix produced on
//! its own (unknown route, wrong method, …), and the security headers every
//! response carries.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, ResponseError as _};
use auth_domain::common::rate_limit_subject;
use futures_util::FutureExt as _;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::error::{ApiError, PROBLEM_JSON};

/// The request id header, echoed or generated.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const MAX_REQUEST_ID_LENGTH: usize = 128;

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LENGTH
                && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned)
}

/// Wraps every request: see the module documentation.
///
/// # Errors
/// Never: every error, and every panic, becomes a problem+json response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Inside the per-request Sentry scope when Sentry is on (see
    // `startup`); without a client there is no scope to tag.
    if sentry::Hub::current().client().is_some() {
        sentry::configure_scope(|scope| scope.set_tag("request_id", &id));
    }
    let span = tracing::info_span!(
        "http_request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
        user_id = tracing::field::Empty,
    );
    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    let mut response = match outcome {
        Ok(Ok(response)) => response.map_into_boxed_body(),
        // Inner middleware failed before a handler answered: actix renders
        // the error, with the headers every response carries.
        Ok(Err(error)) => {
            return Err(FailedRequest {
                error,
                request_id: id,
            }
            .into());
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let error: actix_web::Error =
                ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into();
            tracing::warn!(
                status = 500,
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request completed"
            );
            // The request went down with the panic, so actix builds this
            // response from the error; it still carries the request id.
            return Err(FailedRequest {
                error,
                request_id: id,
            }
            .into());
        }
    };
    response = problem_for_bare_errors(response);
    finish_headers(response.headers_mut(), &id);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if let Some(state) = response
        .request()
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
    {
        // The template of the route that answered (`/projects/{id}`), which
        // each resource carries as app data; `None` for the default service.
        let route = crate::metrics::route_label(response.request());
        state
            .metrics
            .observe_request(response.request().method(), route, status, elapsed);
    }
    if response.status().is_server_error() {
        tracing::warn!(status, latency_ms, "request completed");
    } else {
        tracing::info!(status, latency_ms, "request completed");
    }
    Ok(response)
}

/// Adds what every response carries: the request id, and the security
/// headers.
///
/// `nosniff`, `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`
/// go on every response. `Cache-Control: no-store` goes on every response
/// that does not set its own Cache-Control: almost every answer carries
/// tokens or user data, and a default that stores nothing cannot leak one
/// through a shared cache. The JWKS sets `public, max-age=300` (public keys,
/// meant to be cached); the Swagger UI's static files set nothing and so are
/// not stored either, a small cost for a page only developers open.
fn finish_headers(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// An error response built by actix after the pipeline gave up on the
/// request (a panic, or a failing middleware), with the headers every
/// response carries.
#[derive(Debug)]
struct FailedRequest {
    error: actix_web::Error,
    request_id: String,
}

impl std::fmt::Display for FailedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl actix_web::ResponseError for FailedRequest {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = self.error.error_response();
        finish_headers(response.headers_mut(), &self.request_id);
        response
    }
}

/// Replaces the body of an error response that is not already JSON with the
/// problem document for its status (actix's default 404 and 405, and errors
/// of extractors that render plain text).
fn problem_for_bare_errors(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON) || ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (request, original) = response.into_parts();
    let mut replacement = ApiError::from_status(status).error_response();
    // Every header but those of the replaced body stays: a 405's `Allow`,
    // the CORS headers of a listed origin, `Vary`.
    let own: Vec<HeaderName> = replacement.headers().keys().cloned().collect();
    for (name, value) in original.headers() {
        let of_the_body = matches!(
            *name,
            header::CONTENT_TYPE | header::CONTENT_LENGTH | header::CONTENT_ENCODING
        );
        if !of_the_body && !own.contains(name) {
            replacement
                .headers_mut()
                .append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, replacement)
}

/// Counts requests per client address on the routes it wraps, the `/auth/*`
/// resources (the `rate_limit.ip_per_minute` setting, shared across
/// instances through the database), and answers 429 past the limit. It is
/// attached to the routes, not tested against the raw path, so every
/// spelling of a path that reaches the handler counts. An IPv6 client is
/// counted by its /64 ([`rate_limit_subject`]). A store failure
/// lets the request through: the limiter protects, it must not take the
/// service down.
///
/// # Errors
/// Never; a refusal is a 429 response.
pub async fn ip_rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .filter(|state| state.ip_per_minute > 0)
        .cloned();
    if let Some(state) = limit {
        let client = crate::extractors::RequestClient::of(req.request());
        if let Some(ip) = client.ip {
            let now = state.clock.now();
            let window = chrono::TimeDelta::seconds(60);
            match state
                .rate_limiter
                .hit(&format!("ip:{}", rate_limit_subject(&ip)), window, now)
                .await
            {
                Ok(count) if count.count > u64::from(state.ip_per_minute) => {
                    let retry = u64::try_from((count.resets_at - now).num_seconds()).unwrap_or(1);
                    let response = ApiError::rate_limited(retry).error_response();
                    return Ok(req.into_response(response));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "could not count the request"),
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Authenticates the caller before the route's own extractors run, so that
/// a request without a valid token gets 401 whatever else is wrong with it:
/// actix-web polls a handler's extractors together and answers with the
/// first that fails, and a malformed id in the path or a bad body fails at
/// once, while the token's check waits on the database. The caller is left
/// in the request's extensions for [`crate::extractors::CurrentUser`].
///
/// # Errors
/// Never; a refusal is a 401 (or 503) response.
pub async fn signed_in(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    admitted(req, next, false).await
}

/// [`signed_in`], and the caller's role must be `admin` (403 otherwise),
/// also before anything else about the request is looked at: a non-admin
/// learns nothing about `/admin` from its answers.
///
/// # Errors
/// Never; a refusal is a 401, 403 (or 503) response.
pub async fn administrator(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    admitted(req, next, true).await
}

async fn admitted(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    admin_only: bool,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match crate::extractors::CurrentUser::authenticate(req.request()).await {
        Ok(caller) if admin_only && caller.user.role != auth_domain::user::Role::Admin => {
            return Ok(req.into_response(ApiError::forbidden().error_response()));
        }
        Ok(caller) => {
            req.extensions_mut().insert(caller);
        }
        Err(error) => return Ok(req.into_response(error.error_response())),
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// A duplicate of a connection's socket, registered with the worker's
/// reactor, kept with the connection by [`keep_client_socket`] so that
/// [`stop_when_client_leaves`] can tell when the client has gone.
#[derive(Debug, Clone)]
pub struct ClientSocket(Rc<tokio::net::TcpStream>);

/// For `HttpServer::on_connect`: keeps a [`ClientSocket`] with each TCP
/// connection. When the socket cannot be duplicated (out of file
/// descriptors, say), the connection simply goes unwatched.
pub fn keep_client_socket(connection: &dyn Any, extensions: &mut Extensions) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let duplicate = socket2::SockRef::from(tcp)
        .try_clone()
        .map(std::net::TcpStream::from)
        .and_then(|socket| {
            socket.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(socket)
        });
    match duplicate {
        Ok(socket) => {
            extensions.insert(ClientSocket(Rc::new(socket)));
        }
        Err(error) => tracing::debug!(%error, "could not watch a connection"),
    }
}

/// The status logged for a request whose client left before its answer
/// (nginx's "client closed request"); nobody receives it.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Drops the request's handler as soon as its client closes the
/// connection, so that the work it queued and has not started (a password
/// hash, for one) is skipped. actix-web itself goes on running a handler
/// whose client has gone (actix-web issue 3462): a flood of log-ins whose
/// clients gave up would otherwise keep the hashing threads busy for
/// nobody, ahead of every client still waiting.
///
/// "Gone" is the connection's end of stream (or a reset) while the request
/// is handled; a client that half-closes its side after sending and still
/// waits for the answer is taken to have gone, as nginx does for the
/// upstream requests of its clients. When the client sends more (a
/// pipelined request), nothing can be told and the request runs to the end.
/// Each write the handler makes is atomic, so dropping it between two
/// leaves nothing half done.
///
/// # Errors
/// Those of the handler.
pub async fn stop_when_client_leaves(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let socket = req.conn_data::<ClientSocket>().cloned();
    let request = req.request().clone();
    let handled = next
        .call(req)
        .map(|result| result.map(ServiceResponse::map_into_boxed_body));
    let Some(ClientSocket(socket)) = socket else {
        return handled.await;
    };
    let handled = std::pin::pin!(handled);
    let gone = std::pin::pin!(client_gone(socket));
    match futures_util::future::select(handled, gone).await {
        futures_util::future::Either::Left((result, _)) => result,
        futures_util::future::Either::Right(((), _)) => {
            let status = actix_web::http::StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
                .unwrap_or(actix_web::http::StatusCode::REQUEST_TIMEOUT);
            // Typed, so that no problem document is made for it.
            let response = actix_web::HttpResponse::build(status)
                .content_type(PROBLEM_JSON)
                .finish();
            Ok(ServiceResponse::new(request, response))
        }
    }
}

/// Completes when the peer of `socket` has closed or reset the connection;
/// never, when it sends more data first.
async fn client_gone(socket: Rc<tokio::net::TcpStream>) {
    let mut byte = [0_u8; 1];
    match socket.peek(&mut byte).await {
        Ok(0) => {}
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) => {}
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    async fn panics() -> HttpResponse {
        panic!("a handler bug")
    }

    async fn fails() -> Result<HttpResponse, ApiError> {
        Err(ApiError::internal(anyhow::anyhow!("a storage failure")))
    }

    fn assert_every_header(headers: &HeaderMap) {
        let value = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(value(&header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
        assert_eq!(value(&header::REFERRER_POLICY), Some("no-referrer"));
        assert_eq!(value(&header::X_FRAME_OPTIONS), Some("DENY"));
        assert_eq!(value(&header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(value(&X_REQUEST_ID), Some("req-1"));
        assert_eq!(value(&header::CONTENT_TYPE), Some(PROBLEM_JSON));
    }

    #[actix_web::test]
    async fn a_500_carries_every_header_also_after_a_panic() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_context))
                .route("/panics", web::get().to(panics))
                .route("/fails", web::get().to(fails)),
        )
        .await;
        let request = |path: &str| {
            test::TestRequest::get()
                .uri(path)
                .insert_header((X_REQUEST_ID.clone(), "req-1"))
                .to_request()
        };
        // actix renders the error the pipeline returns after a panic.
        let error = test::try_call_service(&app, request("/panics"))
            .await
            .expect_err("the request went down with the handler");
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        assert_every_header(response.headers());

        let response = test::call_service(&app, request("/fails")).await;
        assert_eq!(response.status(), 500);
        assert_every_header(response.headers());
    }
}
