use base64::Engine as _;
use chrono::{DateTime, Datelike as _, Utc};
use uuid::Uuid;

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Items per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// A position in a list ordered newest first by `(created_at, id)`: the
/// last item of the previous page. Keyset pagination stays correct when
/// rows are inserted or deleted between pages, and when several rows share
/// a creation instant (the id breaks the tie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last item seen.
    pub created_at: DateTime<Utc>,
    /// `id` of the last item seen.
    pub id: Uuid,
}

/// A cursor string that was not produced by [`Cursor::encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid cursor")]
pub struct InvalidCursor;

impl Cursor {
    /// The opaque form handed to clients.
    ///
    /// ```
    /// use auth_domain::common::Cursor;
    /// let cursor = Cursor { created_at: chrono::Utc::now(), id: uuid::Uuid::nil() };
    /// assert_eq!(Cursor::decode(&cursor.encode()).unwrap().id, cursor.id);
    /// ```
    #[must_use]
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}:{}",
            self.created_at.timestamp_micros(),
            self.id.as_simple()
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses a cursor from a client.
    ///
    /// # Errors
    /// [`InvalidCursor`] for anything [`Cursor::encode`] did not produce.
    pub fn decode(encoded: &str) -> Result<Self, InvalidCursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| InvalidCursor)?;
        let raw = std::str::from_utf8(&raw).map_err(|_| InvalidCursor)?;
        let (micros, id) = raw.split_once(':').ok_or(InvalidCursor)?;
        let micros: i64 = micros.parse().map_err(|_| InvalidCursor)?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
        // Only instants a row can have: PostgreSQL refuses dates before
        // 4713 BC, and SQLite compares timestamps as text, which orders
        // years past 9999 wrongly.
        if !(1..=9999).contains(&created_at.year()) {
            return Err(InvalidCursor);
        }
        Ok(Self {
            created_at,
            id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        })
    }
}

/// How much of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1 to [`MAX_PAGE_SIZE`].
    pub limit: u64,
    /// Where the previous page ended, if any.
    pub after: Option<Cursor>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows read newest first: the
    /// extra row only tells that there is a next page.
    #[must_use]
    pub fn from_rows(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> Cursor) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(key) } else { None };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_cursor() {
        for raw in ["", "!!!", "bm90LWEtY3Vyc29y", "MTIzOm5vdC1hLXV1aWQ"] {
            assert_eq!(Cursor::decode(raw), Err(InvalidCursor), "{raw}");
        }
    }

    #[test]
    fn a_cursor_outside_the_storable_years_is_invalid() {
        let encode = |micros: i64| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{micros}:{}", Uuid::nil().as_simple()))
        };
        // The last instant of year 0, about 10000 BC, the first instant of
        // year 10000, and near the extremes chrono accepts.
        for micros in [
            -62_135_596_800_000_001,
            -377_000_000_000_000_000,
            253_402_300_800_000_000,
            8_000_000_000_000_000_000,
            -8_000_000_000_000_000_000,
        ] {
            assert_eq!(
                Cursor::decode(&encode(micros)),
                Err(InvalidCursor),
                "{micros}"
            );
        }
        // The first and last instants of years 1 to 9999 are fine.
        for micros in [-62_135_596_800_000_000, 253_402_300_799_999_999] {
            let cursor = Cursor::decode(&encode(micros)).expect("valid cursor");
            assert_eq!(cursor.created_at.timestamp_micros(), micros);
        }
    }

    #[test]
    fn a_page_knows_whether_more_follows() {
        let key = |n: &u32| Cursor {
            created_at: DateTime::from_timestamp(i64::from(*n), 0).unwrap_or_default(),
            id: Uuid::nil(),
        };
        let page = Page::from_rows(vec![5, 4, 3], 2, key);
        assert_eq!(page.items, vec![5, 4]);
        assert_eq!(page.next, Some(key(&4)));
        let last = Page::from_rows(vec![2, 1], 2, key);
        assert_eq!(last.next, None);
    }
}
