//! Keyset pagination of `SeaOrmProjectRepository::list_owned`: ties on
//! `created_at`, ids out of insertion order, and rows inserted or deleted
//! between pages.

use std::collections::HashSet;

use auth_domain::common::{Cursor, PageRequest};
use auth_domain::project::{Project, ProjectRepository as _};
use auth_domain::user::{User, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::{SeaOrmProjectRepository, SeaOrmUserRepository};
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::fixtures;

/// Rows per owner: three creation instants, fifteen rows each.
const ROWS: usize = 45;
const INSTANTS: usize = 3;
const LIMIT: u64 = 20;

/// Two stored users.
async fn two_owners(db: &DatabaseConnection) -> (User, User) {
    let users = SeaOrmUserRepository::new(db.clone());
    let ada = fixtures::user("ada@example.com");
    let grace = fixtures::plain_user("grace@example.com");
    users
        .insert(&ada, &crate::fixtures::event())
        .await
        .expect("insert ada");
    users
        .insert(&grace, &crate::fixtures::event())
        .await
        .expect("insert grace");
    (ada, grace)
}

/// Stores `ROWS` projects of `owner` spread over `INSTANTS` instants before
/// `base`, inserted neither in time nor in id order, and returns them in
/// list order: `(created_at desc, id desc)`.
async fn seed(
    projects: &SeaOrmProjectRepository,
    owner: UserId,
    base: DateTime<Utc>,
) -> Vec<Project> {
    let mut ids: Vec<Uuid> = (0..ROWS).map(|_| Uuid::now_v7()).collect();
    ids.sort_unstable();
    let instants: Vec<DateTime<Utc>> = (1..=INSTANTS)
        .map(|n| base - Duration::seconds(i64::try_from(n).expect("small")))
        .collect();
    let mut stored = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        // 7 is coprime with 45: every id is used once, in a scrambled order,
        // and consecutive inserts alternate between instants.
        let id = ids[(i * 7) % ROWS];
        let created_at = instants[i % INSTANTS];
        let project = fixtures::project_at(owner, &format!("Project {i:02}"), id, created_at);
        projects.insert(&project).await.expect("insert a project");
        stored.push(project);
    }
    sort_for_listing(&mut stored);
    stored
}

fn sort_for_listing(projects: &mut [Project]) {
    projects.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
}

fn cursor_of(project: &Project) -> Cursor {
    Cursor {
        created_at: project.created_at,
        id: project.id.0,
    }
}

/// Every page of `owner`'s projects from `after` on, with `LIMIT` rows each.
async fn pages_from(
    projects: &SeaOrmProjectRepository,
    owner: UserId,
    mut after: Option<Cursor>,
) -> Vec<Vec<Project>> {
    let mut pages = Vec::new();
    loop {
        let page = projects
            .list_owned(
                owner,
                PageRequest {
                    limit: LIMIT,
                    after,
                },
            )
            .await
            .expect("list a page");
        match page.next {
            Some(next) => {
                assert_eq!(
                    Some(next),
                    page.items.last().map(cursor_of),
                    "the cursor is the last item"
                );
                assert_eq!(
                    page.items.len() as u64,
                    LIMIT,
                    "only the last page is short"
                );
            }
            None => assert!(page.items.len() as u64 <= LIMIT),
        }
        after = page.next;
        pages.push(page.items);
        if after.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

fn ids(projects: &[Project]) -> Vec<Uuid> {
    projects.iter().map(|p| p.id.0).collect()
}

db_test!(
    pages_cover_every_project_once_despite_shared_instants,
    |db| {
        let (ada, grace) = two_owners(&db.db).await;
        let projects = SeaOrmProjectRepository::new(db.db.clone());
        let base = fixtures::now();
        let expected = seed(&projects, ada.id, base).await;
        // Grace's projects share Ada's instants.
        let grace_s = seed(&projects, grace.id, base).await;

        let pages = pages_from(&projects, ada.id, None).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
        let listed: Vec<Project> = pages.into_iter().flatten().collect();
        let distinct: HashSet<Uuid> = listed.iter().map(|p| p.id.0).collect();
        assert_eq!(distinct.len(), ROWS, "no duplicates");
        assert!(listed.iter().all(|p| p.owner_id == ada.id));
        // The same rows, in (created_at desc, id desc) order, read back whole.
        assert_eq!(listed, expected);

        let theirs: Vec<Project> = pages_from(&projects, grace.id, None)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(theirs, grace_s);

        // A user without projects gets one empty, final page.
        let nobody = projects
            .list_owned(
                UserId(Uuid::now_v7()),
                PageRequest {
                    limit: LIMIT,
                    after: None,
                },
            )
            .await
            .expect("list");
        assert!(nobody.items.is_empty());
        assert_eq!(nobody.next, None);
    }
);

db_test!(
    a_limit_matching_the_row_count_ends_without_a_next_page,
    |db| {
        let (ada, _) = two_owners(&db.db).await;
        let projects = SeaOrmProjectRepository::new(db.db.clone());
        let expected = seed(&projects, ada.id, fixtures::now()).await;

        let all = projects
            .list_owned(
                ada.id,
                PageRequest {
                    limit: ROWS as u64,
                    after: None,
                },
            )
            .await
            .expect("list");
        assert_eq!(all.items, expected);
        assert_eq!(all.next, None);

        // A cursor on the very last row gives an empty, final page.
        let past_the_end = projects
            .list_owned(
                ada.id,
                PageRequest {
                    limit: LIMIT,
                    after: expected.last().map(cursor_of),
                },
            )
            .await
            .expect("list");
        assert!(past_the_end.items.is_empty());
        assert_eq!(past_the_end.next, None);
    }
);

db_test!(
    rows_inserted_or_deleted_between_pages_neither_repeat_nor_skip,
    |db| {
        let (ada, grace) = two_owners(&db.db).await;
        let projects = SeaOrmProjectRepository::new(db.db.clone());
        let base = fixtures::now();
        let all = seed(&projects, ada.id, base).await;

        let first = projects
            .list_owned(
                ada.id,
                PageRequest {
                    limit: LIMIT,
                    after: None,
                },
            )
            .await
            .expect("list the first page");
        assert_eq!(ids(&first.items), ids(&all[..20]));
        let cursor = first.next.expect("more pages follow");

        // Newer rows: a later instant, and the cursor's own instant with an id
        // sorting before the cursor's (newer in list order).
        for n in 0..5 {
            let newer = fixtures::project_at(
                ada.id,
                &format!("Newer {n}"),
                Uuid::now_v7(),
                base + Duration::seconds(n),
            );
            projects
                .insert(&newer)
                .await
                .expect("insert a newer project");
        }
        let tied = fixtures::project_at(ada.id, "Tied", Uuid::max(), cursor.created_at);
        projects.insert(&tied).await.expect("insert a tied project");
        // Another owner's row right behind the cursor.
        let foreign = fixtures::project_at(grace.id, "Foreign", Uuid::nil(), cursor.created_at);
        projects
            .insert(&foreign)
            .await
            .expect("insert grace's project");

        // Deleted: the cursor's own row, another row already seen, and rows not
        // yet seen (right after the cursor, in the middle and the very last).
        let seen_deleted = [all[19].id, all[3].id];
        let unseen_deleted = [all[20].id, all[31].id, all[44].id];
        for id in seen_deleted.iter().chain(&unseen_deleted) {
            assert!(projects.delete_owned(ada.id, *id).await.expect("delete"));
        }

        let rest: Vec<Project> = pages_from(&projects, ada.id, Some(cursor))
            .await
            .into_iter()
            .flatten()
            .collect();
        let expected: Vec<Project> = all[20..]
            .iter()
            .filter(|p| !unseen_deleted.contains(&p.id))
            .cloned()
            .collect();
        assert_eq!(ids(&rest), ids(&expected));
        assert_eq!(rest, expected);
    }
);
