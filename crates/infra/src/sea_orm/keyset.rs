use auth_domain::common::PageRequest;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    Select,
};

/// Orders `query` newest first by `(created_at, id)`, keeps the rows older
/// than the page's cursor, and reads one row more than the page holds (the
/// extra row only tells that a next page exists; see `Page::from_rows`).
pub(crate) fn newest_first<E: EntityTrait>(
    query: Select<E>,
    created_at: E::Column,
    id: E::Column,
    page: PageRequest,
) -> Select<E> {
    let query = match page.after {
        Some(after) => query.filter(
            Condition::any().add(created_at.lt(after.created_at)).add(
                Condition::all()
                    .add(created_at.eq(after.created_at))
                    .add(id.lt(after.id)),
            ),
        ),
        None => query,
    };
    query
        .order_by_desc(created_at)
        .order_by_desc(id)
        .limit(page.limit + 1)
}
