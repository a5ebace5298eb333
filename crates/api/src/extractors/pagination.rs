use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use auth_domain::common::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest};
use futures_util::future::{Ready, ready};

use super::decode_cursor;
use crate::error::{ApiError, FieldError};

/// `?limit=&cursor=` (plus any other parameters, kept for the handler):
/// `limit` 1 to 100 (default 20), `cursor` as returned in `next_cursor`.
/// Anything else is 422 `validation_failed` naming the parameter.
#[derive(Debug, Clone)]
pub struct Pagination {
    /// The page to read.
    pub page: PageRequest,
    /// Every query parameter, decoded.
    pub params: Vec<(String, String)>,
}

impl Pagination {
    /// The value of another query parameter.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn parse(query: &str) -> Result<Self, ApiError> {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            ApiError::validation(vec![FieldError::new(
                "query",
                "is not a valid query string",
            )])
        })?;
        let value = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let mut errors = Vec::new();
        let limit = match value("limit") {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => limit,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                    ));
                    DEFAULT_PAGE_SIZE
                }
            },
        };
        let after = match value("cursor").filter(|raw| !raw.is_empty()) {
            None => None,
            Some(raw) => match decode_cursor(raw) {
                Ok(cursor) => Some(cursor),
                Err(e) => {
                    errors.push(FieldError::new("cursor", e));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Self {
            page: PageRequest { limit, after },
            params,
        })
    }
}

impl FromRequest for Pagination {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

/// The query [`Pagination`] reads, as the OpenAPI document shows it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Pagination::parse("").expect("valid").page.limit, 20);
        assert_eq!(
            Pagination::parse("limit=100").expect("valid").page.limit,
            100
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "cursor=zzz",
        ] {
            let error = Pagination::parse(bad).expect_err(bad);
            assert_eq!(error.code(), "validation_failed", "{bad}");
        }
    }
}
