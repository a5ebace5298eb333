use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Items per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// A position in a list ordered newest first by `(created_at, id)`: the
/// last item of the previous page. Keyset pagination stays correct when
/// rows are inserted or deleted between pages, and when several rows share
/// a creation instant (the id breaks the tie). How a cursor is written for
/// clients is the edge's business (the HTTP API encodes it opaquely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last item seen.
    pub created_at: DateTime<Utc>,
    /// `id` of the last item seen.
    pub id: Uuid,
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
