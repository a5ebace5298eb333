use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{Ready, ready};
use uuid::Uuid;

use crate::error::ApiError;

/// The `{id}` of a resource path, as the domain's id type. A malformed id
/// names no resource, so it is 404 `not_found` like an unknown one: never
/// 400, never 500, and nothing that tells a malformed id from a foreign one.
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

impl<T: From<Uuid> + 'static> FromRequest for PathId<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.match_info()
                .get("id")
                .and_then(|raw| Uuid::parse_str(raw).ok())
                .map(|id| Self(T::from(id)))
                .ok_or_else(ApiError::not_found),
        )
    }
}
