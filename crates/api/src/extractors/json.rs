use std::ops::Deref;

use crate::error::FieldError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, mime, web};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Schema, SchemaType, Type};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body, read within the body limit and deserialised into `T`.
///
/// - another content type than `application/json` (or `…+json`), or a
///   body without one: 415;
/// - no body and no content type: 400 `malformed_request`, as an empty body;
/// - more bytes than the limit: 413;
/// - not JSON at all: 400 `malformed_request`;
/// - JSON of the wrong shape (missing fields, wrong types): 422
///   `validation_failed` naming each such field, not only the first.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> Deref for ValidJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + PartialSchema + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = match req.mime_type() {
            Ok(Some(mime)) => {
                mime.type_() == mime::APPLICATION
                    && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
            }
            _ => false,
        };
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        let body = read_limited(req, payload);
        Box::pin(async move {
            if !content_type_ok && typed {
                return Err(unsupported());
            }
            let body = body.await?;
            // No body and no type: nothing was sent, which is no JSON at all.
            if !content_type_ok && !body.is_empty() {
                return Err(unsupported());
            }
            parse(&body).map(ValidJson)
        })
    }
}

fn unsupported() -> ApiError {
    ApiError::unsupported_media_type(
        "The body must be JSON, sent with `Content-Type: application/json`.",
    )
}

/// Reads the request body, refusing more than the configured limit (413)
/// whether or not `Content-Length` announced it.
pub(crate) fn read_limited(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<web::BytesMut, ApiError>> + 'static {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(64 * 1024, |state| state.body_limit);
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared_length.is_some_and(|length| length > limit) {
            return Err(ApiError::payload_too_large(limit));
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::malformed("The request body could not be read."))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A JSON value whose objects, at any depth, name each key once. RFC 8259
/// leaves duplicates to the parser, and parsers disagree on them (first
/// wins, last wins, both kept): a proxy or a client library that checks
/// one `email` while this server acts on another is the kind of
/// disagreement attackers look for, so a duplicate is refused instead.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(Self)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "the key {key:?} appears more than once"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn parse<T: DeserializeOwned + PartialSchema>(body: &[u8]) -> Result<T, ApiError> {
    let UniqueKeys(value) = serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("The body is not valid JSON: {e}.")))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    };
    serde_path_to_error::deserialize(&value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let first = match missing_field(&message) {
            Some(field) => {
                let field = if path == "." {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                FieldError::new(field, "is required")
            }
            None => FieldError::new(path, message),
        };
        // serde stops at the first field it cannot use; the schema the
        // endpoint documents names the others.
        let mut errors = vec![first];
        for other in shape_errors(&T::schema(), object) {
            if errors.iter().all(|known| known.field != other.field) {
                errors.push(other);
            }
        }
        ApiError::validation(errors)
    })
}

/// The fields of `object` that are required by `schema` and missing, or of
/// a JSON type `schema` does not allow. Only what the schema states plainly
/// is checked (a property given by reference is left to serde).
fn shape_errors(schema: &RefOr<Schema>, object: &Map<String, Value>) -> Vec<FieldError> {
    let RefOr::T(Schema::Object(schema)) = schema else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (name, property) in &schema.properties {
        match object.get(name) {
            None if schema.required.contains(name) => {
                errors.push(FieldError::new(name.as_str(), "is required"));
            }
            Some(value) => {
                let RefOr::T(Schema::Object(property)) = property else {
                    continue;
                };
                let allowed: &[Type] = match &property.schema_type {
                    SchemaType::Type(one) => std::slice::from_ref(one),
                    SchemaType::Array(many) => many,
                    SchemaType::AnyValue => continue,
                };
                if !allowed.iter().any(|kind| is_of(kind, value)) {
                    let names: Vec<&str> = allowed.iter().map(|kind| type_name(kind)).collect();
                    errors.push(FieldError::new(
                        name.as_str(),
                        format!("invalid type: expected {}", names.join(" or ")),
                    ));
                }
            }
            None => {}
        }
    }
    errors
}

fn is_of(kind: &Type, value: &Value) -> bool {
    match kind {
        Type::Object => value.is_object(),
        Type::String => value.is_string(),
        Type::Integer => value.is_i64() || value.is_u64(),
        Type::Number => value.is_number(),
        Type::Boolean => value.is_boolean(),
        Type::Array => value.is_array(),
        Type::Null => value.is_null(),
    }
}

fn type_name(kind: &Type) -> &'static str {
    match kind {
        Type::Object => "an object",
        Type::String => "a string",
        Type::Integer => "an integer",
        Type::Number => "a number",
        Type::Boolean => "a boolean",
        Type::Array => "an array",
        Type::Null => "null",
    }
}

/// The field named by serde's "missing field `x`" message.
#[must_use]
pub fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<u8>,
    }

    fn field_errors(result: Result<Body, ApiError>) -> String {
        format!("{:?}", result.expect_err("invalid"))
    }

    #[test]
    fn a_key_named_twice_is_malformed_at_any_depth() {
        for body in [
            &br#"{"email": "a@example.com", "email": "b@example.com"}"#[..],
            br#"{"email": "a@example.com", "age": 3, "age": 3}"#,
            br#"{"email": "a@example.com", "extra": [{"k": 1, "k": 2}]}"#,
            br#"{"email": "a@example.com", "extra": {"k": {"x": 1, "x": 1}}}"#,
        ] {
            let error = parse::<Body>(body).expect_err("a duplicate");
            assert_eq!(error.code(), "malformed_request", "{body:?}");
            assert!(format!("{error:?}").contains("more than once"), "{error:?}");
        }
        // The same key in different objects is no duplicate; numbers,
        // nulls and nesting come through as serde_json reads them.
        let UniqueKeys(body) = serde_json::from_slice(
            br#"{"email": "a@example.com", "age": null, "extra": [{"k": 1}, {"k": -2.5}, true, "s"]}"#,
        )
        .expect("valid");
        assert_eq!(
            body,
            serde_json::json!({"email": "a@example.com", "age": null, "extra": [{"k": 1}, {"k": -2.5}, true, "s"]})
        );
    }

    #[test]
    fn names_the_missing_field() {
        let error = parse::<Body>(br#"{"age": 3}"#).expect_err("invalid");
        assert_eq!(error.code(), "validation_failed");
        assert!(format!("{:?}", error.field_errors()).contains("email"));
    }

    #[test]
    fn names_a_field_of_the_wrong_type() {
        let error = parse::<Body>(br#"{"email": 3}"#).expect_err("invalid");
        assert_eq!(error.code(), "validation_failed");
        assert_eq!(error.field_errors()[0].field, "email");
    }

    #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Wide {
        email: String,
        name: String,
        admin: bool,
        age: Option<u8>,
    }

    fn fields(error: &ApiError) -> Vec<&str> {
        let mut fields: Vec<&str> = error
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        fields.sort_unstable();
        fields
    }

    #[test]
    fn names_every_missing_field() {
        let error = parse::<Wide>(br#"{"age": 3}"#).expect_err("invalid");
        assert_eq!(fields(&error), ["admin", "email", "name"]);
        assert!(
            error
                .field_errors()
                .iter()
                .all(|e| e.message == "is required")
        );
    }

    #[test]
    fn names_every_field_of_the_wrong_type() {
        let error = parse::<Wide>(br#"{"email": 1, "name": [], "admin": "yes", "age": "x"}"#)
            .expect_err("invalid");
        assert_eq!(fields(&error), ["admin", "age", "email", "name"]);
    }

    #[test]
    fn names_missing_and_mistyped_fields_together() {
        let error = parse::<Wide>(br#"{"email": "a@b.cd", "name": 5}"#).expect_err("invalid");
        assert_eq!(fields(&error), ["admin", "name"]);
        let error =
            parse::<Wide>(br#"{"email": "a@b.cd", "name": "n", "admin": true, "age": null}"#);
        assert!(error.is_ok(), "a null optional field is fine");
    }

    #[test]
    fn syntax_errors_are_malformed() {
        assert!(field_errors(parse::<Body>(b"{\"email\": ")).contains("malformed_request"));
        assert!(field_errors(parse::<Body>(b"")).contains("malformed_request"));
        assert!(field_errors(parse::<Body>(b"\xff")).contains("malformed_request"));
    }

    #[test]
    fn non_objects_are_invalid() {
        let error = parse::<Body>(b"[1, 2]").expect_err("invalid");
        assert_eq!(error.code(), "validation_failed");
    }
}
