//! Cross-origin requests from browsers (CORS), for the origins listed in
//! `server.cors_origins` and no others.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// Methods a preflight allows: those the API has.
const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE";
/// Request headers a preflight allows.
const ALLOW_HEADERS: &str = "Authorization, Content-Type";
/// How long a browser may reuse a preflight answer, in seconds: short
/// enough that a changed list takes effect soon.
const MAX_AGE_SECS: &str = "600";
/// Response headers, beyond the CORS-safelisted ones, that scripts may read.
const EXPOSE_HEADERS: &str = "Location, Retry-After, WWW-Authenticate, X-Request-Id";

/// The origins allowed to call the API from a browser: exact
/// `scheme://host[:port]` origins, as browsers send them in `Origin`.
/// Credentials (cookies) are never allowed: the API takes bearer tokens.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<HeaderValue>,
}

impl CorsPolicy {
    /// Parses origins like `https://app.example.com` or
    /// `http://localhost:3000`; blank entries are skipped. Scheme and host
    /// are compared lower-cased, as browsers send them.
    ///
    /// # Errors
    /// The first entry that is not an `http` or `https` origin (a `*`, a
    /// path, a query, credentials or the scheme's default port included),
    /// with the reason.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut origins = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let origin = parse_origin(entry)?;
            let value = HeaderValue::from_str(&origin)
                .map_err(|_| format!("{entry:?} is not a valid origin"))?;
            origins.push(value);
        }
        Ok(Self { origins })
    }

    /// Whether any origin is allowed at all.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// Whether `origin` is one of the allowed origins.
    #[must_use]
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }
}

/// `entry` as the origin a browser would send, or why it is not one.
fn parse_origin(entry: &str) -> Result<String, String> {
    if entry.contains('*') {
        return Err(format!(
            "{entry:?}: wildcards are not allowed; list each origin"
        ));
    }
    let url = url::Url::parse(entry)
        .map_err(|_| format!("{entry:?} is not an origin like https://app.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{entry:?}: the scheme must be http or https"));
    }
    let origin = url.origin().ascii_serialization();
    if origin != entry.to_ascii_lowercase() {
        return Err(format!(
            "{entry:?} is not an origin (scheme://host[:port], no path, no default port); \
             did you mean {origin:?}?"
        ));
    }
    Ok(origin)
}

/// A preflight: `OPTIONS` asking, with `Access-Control-Request-Method`,
/// whether the real request may be sent.
fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Applies the [`CorsPolicy`] in the app data. Without listed origins it
/// does nothing. A preflight from a listed origin is answered here with
/// 204, before routing, so it is neither rate limited nor 405; any other
/// request from a listed origin gets `Access-Control-Allow-Origin` on its
/// response, whatever the status. A request from any other origin gets no
/// CORS header, and its preflight goes on to the route like any `OPTIONS`
/// (405 or 404). While CORS is on, every response says `Vary: Origin`, so a
/// cache never serves one origin's answer to another.
///
/// # Errors
/// Only those of the inner service.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let enabled = req
        .app_data::<web::Data<CorsPolicy>>()
        .is_some_and(|policy| policy.is_enabled());
    if !enabled {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let allowed_origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            req.app_data::<web::Data<CorsPolicy>>()
                .is_some_and(|policy| policy.allows(origin))
        })
        .cloned();
    if let Some(origin) = &allowed_origin
        && is_preflight(&req)
    {
        let response = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS))
            .insert_header((
                header::VARY,
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ))
            .finish();
        return Ok(req.into_response(response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_origins() {
        let policy = CorsPolicy::parse(&[
            "https://app.example.com",
            " http://localhost:3000 ",
            "http://[::1]:8080",
            "HTTPS://App.Example.COM:8443",
            "",
        ])
        .expect("valid");
        for origin in [
            "https://app.example.com",
            "http://localhost:3000",
            "http://[::1]:8080",
            "https://app.example.com:8443",
        ] {
            assert!(policy.allows(&HeaderValue::from_static(origin)), "{origin}");
        }
        for origin in [
            "https://app.example.com:443",
            "http://app.example.com",
            "https://evil.example.com",
            "https://app.example.com.evil.example",
            "null",
        ] {
            assert!(
                !policy.allows(&HeaderValue::from_static(origin)),
                "{origin}"
            );
        }
        assert!(!CorsPolicy::default().is_enabled());
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for entry in [
            "*",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://app.example.com#top",
            "https://user:pass@app.example.com",
            "https://app.example.com:443",
            "app.example.com",
            "ftp://app.example.com",
            "null",
        ] {
            assert!(CorsPolicy::parse(&[entry]).is_err(), "{entry}");
        }
    }
}
