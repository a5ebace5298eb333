//! The opaque form of a pagination cursor handed to clients as
//! `next_cursor` and read back from `?cursor=`: base64url (no padding) of
//! `<created_at in µs>:<id without hyphens>`.

use auth_domain::common::Cursor;
use base64::Engine as _;
use chrono::{DateTime, Datelike as _};
use uuid::Uuid;

/// A cursor string that was not produced by [`encode_cursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid cursor")]
pub struct InvalidCursor;

/// The opaque form of `cursor`.
#[must_use]
pub fn encode_cursor(cursor: &Cursor) -> String {
    let raw = format!(
        "{}:{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.as_simple()
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Reads a cursor a client sent back.
///
/// # Errors
/// [`InvalidCursor`] for anything [`encode_cursor`] did not produce.
pub fn decode_cursor(encoded: &str) -> Result<Cursor, InvalidCursor> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| InvalidCursor)?;
    let raw = std::str::from_utf8(&raw).map_err(|_| InvalidCursor)?;
    let (micros, id) = raw.split_once(':').ok_or(InvalidCursor)?;
    let micros: i64 = micros.parse().map_err(|_| InvalidCursor)?;
    let created_at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
    // Only instants a row can have: PostgreSQL refuses dates before
    // 4713 BC, and SQLite compares timestamps as text, which orders years
    // past 9999 wrongly.
    if !(1..=9999).contains(&created_at.year()) {
        return Err(InvalidCursor);
    }
    Ok(Cursor {
        created_at,
        id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;

    /// The first and last microsecond of years 1 to 9999.
    const FIRST_MICROS: i64 = -62_135_596_800_000_000;
    const LAST_MICROS: i64 = 253_402_300_799_999_999;

    fn encode_raw(raw: impl AsRef<[u8]>) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        for raw in ["", "!!!", "bm90LWEtY3Vyc29y", "MTIzOm5vdC1hLXV1aWQ"] {
            assert_eq!(decode_cursor(raw), Err(InvalidCursor), "{raw}");
        }
    }

    #[test]
    fn a_cursor_outside_the_storable_years_is_invalid() {
        let encode = |micros: i64| encode_raw(format!("{micros}:{}", Uuid::nil().as_simple()));
        // The last instant of year 0, about 10000 BC, the first instant of
        // year 10000, and near the extremes chrono accepts.
        for micros in [
            FIRST_MICROS - 1,
            -377_000_000_000_000_000,
            LAST_MICROS + 1,
            8_000_000_000_000_000_000,
            -8_000_000_000_000_000_000,
        ] {
            assert_eq!(
                decode_cursor(&encode(micros)),
                Err(InvalidCursor),
                "{micros}"
            );
        }
        for micros in [FIRST_MICROS, LAST_MICROS] {
            let cursor = decode_cursor(&encode(micros)).expect("valid cursor");
            assert_eq!(cursor.created_at.timestamp_micros(), micros);
        }
    }

    /// Any cursor a stored row can produce, the extremes included.
    fn cursor() -> impl Strategy<Value = Cursor> {
        (
            prop_oneof![
                8 => FIRST_MICROS..=LAST_MICROS,
                1 => Just(FIRST_MICROS),
                1 => Just(LAST_MICROS),
                1 => -1_i64..=1,
            ],
            any::<u128>(),
        )
            .prop_map(|(micros, id)| Cursor {
                created_at: DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default(),
                id: Uuid::from_u128(id),
            })
    }

    /// Strings shaped like a cursor, so that decoding gets past base64: the
    /// encoding of `<number>:<anything>`, of arbitrary bytes, and any text.
    fn cursor_like() -> impl Strategy<Value = String> {
        let micros = prop_oneof![any::<i64>(), FIRST_MICROS - 10..=LAST_MICROS + 10];
        let id = prop_oneof![
            any::<u128>().prop_map(|id| Uuid::from_u128(id).as_simple().to_string()),
            any::<u128>()
                .prop_map(|id| Uuid::from_u128(id).hyphenated().to_string().to_uppercase()),
            any::<String>(),
        ];
        prop_oneof![
            (micros, id).prop_map(|(n, id)| encode_raw(format!("{n}:{id}"))),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(encode_raw),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn decoding_never_panics(raw in cursor_like()) {
            let _ = decode_cursor(&raw);
        }

        #[test]
        fn a_cursor_round_trips_in_url_safe_characters(cursor in cursor()) {
            let encoded = encode_cursor(&cursor);
            prop_assert!(
                encoded.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{encoded} is not URL-safe"
            );
            prop_assert_eq!(decode_cursor(&encoded), Ok(cursor));
        }

        #[test]
        fn a_decoded_cursor_is_a_storable_instant_and_round_trips(raw in cursor_like()) {
            if let Ok(cursor) = decode_cursor(&raw) {
                prop_assert!((1..=9999).contains(&cursor.created_at.year()));
                prop_assert_eq!(decode_cursor(&encode_cursor(&cursor)), Ok(cursor));
            }
        }
    }
}
