//! The error responses many operations share, declared once and listed by
//! name in each `#[utoipa::path(responses(..))]`. An operation's own rows
//! come after the sets it lists, so a row for the same status replaces the
//! set's generic one.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The description of the 401 that [`BearerErrors`] and [`AdminErrors`]
/// document. An operation that lists either needs an access token, and the
/// document's `security` says so for it (see `openapi::Security`).
pub(crate) const UNAUTHORIZED: &str = "Missing, invalid, expired or revoked token (`unauthorized`)";

/// How every 401 description of a bearer-token operation names its code.
pub(crate) const UNAUTHORIZED_CODE: &str = "(`unauthorized`)";

/// A problem+json response (RFC 9457) with this description.
fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// A problem+json response that carries `Retry-After`.
fn problem_with_retry_after(description: &str) -> Response {
    let mut response = problem(description);
    response.headers.insert(
        "Retry-After".into(),
        RefOr::T(
            HeaderBuilder::new()
                .schema(Some(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(0))
                        .build(),
                )))
                .description(Some("Seconds to wait before retrying"))
                .build(),
        ),
    );
    response
}

fn responses<const N: usize>(rows: [(&str, Response); N]) -> BTreeMap<String, RefOr<Response>> {
    rows.into_iter()
        .map(|(status, response)| (status.to_owned(), RefOr::T(response)))
        .collect()
}

/// What any operation with a JSON body can answer about the body itself.
#[derive(Debug)]
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            ("400", problem("Body is not JSON (`malformed_request`)")),
            ("413", problem("Body too large (`payload_too_large`)")),
            ("415", problem("Not JSON (`unsupported_media_type`)")),
            (
                "422",
                problem("Missing, mistyped or invalid fields (`validation_failed`)"),
            ),
        ])
    }
}

/// What an operation that needs an access token answers without a good one.
#[derive(Debug)]
pub struct BearerErrors;

impl IntoResponses for BearerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([("401", problem(UNAUTHORIZED))])
    }
}

/// What an administrative operation answers to everyone else.
#[derive(Debug)]
pub struct AdminErrors;

impl IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            ("401", problem(UNAUTHORIZED)),
            ("403", problem("Not an administrator (`forbidden`)")),
        ])
    }
}

/// The per-address limit on `/auth/*`.
#[derive(Debug)]
pub struct AddressLimited;

impl IntoResponses for AddressLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "429",
            problem_with_retry_after(
                "Too many requests from this address (`rate_limited`); see `Retry-After`",
            ),
        )])
    }
}

/// The limits on wrong passwords for one account.
#[derive(Debug)]
pub struct PasswordLimited;

impl IntoResponses for PasswordLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "429",
            problem_with_retry_after(
                "Too many wrong passwords for this account (`rate_limited`); see `Retry-After`",
            ),
        )])
    }
}

/// The limits on wrong passwords and wrong codes for one account (MFA).
#[derive(Debug)]
pub struct CodeLimited;

impl IntoResponses for CodeLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "429",
            problem_with_retry_after(
                "Too many wrong passwords or codes for this account, or too many requests from \
                 this address (`rate_limited`); see `Retry-After`",
            ),
        )])
    }
}

/// The database does not answer.
#[derive(Debug)]
pub struct DatabaseUnavailable;

impl IntoResponses for DatabaseUnavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "503",
            problem_with_retry_after("Database unavailable (`service_unavailable`)"),
        )])
    }
}

/// The database does not answer, or every hashing slot is taken.
#[derive(Debug)]
pub struct HashingUnavailable;

impl IntoResponses for HashingUnavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "503",
            problem_with_retry_after(
                "Database or hashing capacity unavailable (`service_unavailable`)",
            ),
        )])
    }
}

/// A resource path whose `{id}` names nothing the caller may see.
#[derive(Debug)]
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "404",
            problem("No such resource of the caller, or a malformed id (`not_found`)"),
        )])
    }
}

/// A page's query parameters.
#[derive(Debug)]
pub struct PageErrors;

impl IntoResponses for PageErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "422",
            problem("Bad `limit`, `cursor` or filter (`validation_failed`)"),
        )])
    }
}

/// A password that confirms a sensitive change.
#[derive(Debug)]
pub struct WrongPassword;

impl IntoResponses for WrongPassword {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "403",
            problem("Wrong password (`wrong_password`); the session stays valid"),
        )])
    }
}

/// What redeeming a mailed single-use token can answer.
#[derive(Debug)]
pub struct ActionTokenErrors;

impl IntoResponses for ActionTokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([
            (
                "400",
                problem(
                    "Unknown, used or expired token (`invalid_token`), or a body that is not JSON (`malformed_request`)",
                ),
            ),
            (
                "403",
                problem("The account is disabled (`account_disabled`); nothing changed"),
            ),
        ])
    }
}

/// The limits on a log-in: wrong passwords per account (from one address
/// and in all), and requests per address.
#[derive(Debug)]
pub struct LoginLimited;

impl IntoResponses for LoginLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "429",
            problem_with_retry_after(
                "Too many failed log-ins for this account from this address or in all, or too many requests from this address (`rate_limited`); see `Retry-After`",
            ),
        )])
    }
}

/// The limits on mailing a link: requests per address, mails per e-mail
/// address and hour.
#[derive(Debug)]
pub struct MailLimited;

impl IntoResponses for MailLimited {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses([(
            "429",
            problem_with_retry_after(
                "Too many requests from this address, or this e-mail address already had its hourly allowance of mails (`rate_limited`); see `Retry-After`",
            ),
        )])
    }
}
