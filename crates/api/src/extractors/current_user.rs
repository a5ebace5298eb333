use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use auth_domain::auth::Authenticated;
use futures_util::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller of a request with a valid bearer access token whose session
/// is live and whose user is active, as stored now.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Authenticated);

impl Deref for CurrentUser {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

/// The token of an `Authorization: Bearer <token>` header. `Err(true)` when
/// a bearer credential was sent but is malformed, `Err(false)` when none was
/// (no header, or another scheme: RFC 6750 §3.1 then asks for a bare
/// challenge).
fn bearer_token(req: &HttpRequest) -> Result<String, bool> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(false)?;
    let value = value.to_str().map_err(|_| true)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(false);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(true);
    }
    Ok(token.to_owned())
}

impl CurrentUser {
    /// Authenticates the caller of `req`: the bearer token is read now, the
    /// session and user are looked up when the future runs.
    pub(crate) fn authenticate(
        req: &HttpRequest,
    ) -> impl Future<Output = Result<Self, ApiError>> + 'static {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        async move {
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = token.map_err(ApiError::unauthorized)?;
            let authenticated = state.auth.authenticate(&token).await?;
            tracing::Span::current()
                .record("user_id", tracing::field::display(authenticated.user.id));
            Ok(Self(authenticated))
        }
    }
}

/// The caller authenticated by [`crate::middleware::signed_in`] before any
/// other extractor ran, or else authenticated now.
impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(caller) = req.extensions_mut().remove::<Self>() {
            return Box::pin(std::future::ready(Ok(caller)));
        }
        Box::pin(Self::authenticate(req))
    }
}
