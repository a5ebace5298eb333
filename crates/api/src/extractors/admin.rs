use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use auth_domain::user::Role;
use futures_util::future::LocalBoxFuture;

use super::CurrentUser;
use crate::error::ApiError;

/// An authenticated caller whose role, as stored now, is `admin`: a demoted
/// administrator loses access with their next request. Others get 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl Deref for AdminUser {
    type Target = CurrentUser;

    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.user.role == Role::Admin {
                Ok(Self(caller))
            } else {
                Err(ApiError::forbidden())
            }
        })
    }
}
