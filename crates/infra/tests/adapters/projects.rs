//! `SeaOrmProjectRepository`.

use auth_domain::project::{CreateProjectError, ProjectId, ProjectRepository as _};
use auth_domain::user::{User, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{project, user};
use auth_infra::sea_orm::{SeaOrmProjectRepository, SeaOrmUserRepository};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};
use uuid::Uuid;

use crate::fixtures;

/// Two stored users.
async fn two_owners(db: &DatabaseConnection) -> (User, User) {
    let users = SeaOrmUserRepository::new(db.clone());
    let ada = fixtures::user("ada@example.com");
    let grace = fixtures::plain_user("grace@example.com");
    users.insert(&ada).await.expect("insert ada");
    users.insert(&grace).await.expect("insert grace");
    (ada, grace)
}

db_test!(insert_then_find_owned, |db| {
    let (ada, _) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    let mut bare = fixtures::project(ada.id, "Gemini");
    bare.description = None;
    projects.insert(&apollo).await.expect("insert apollo");
    projects.insert(&bare).await.expect("insert gemini");

    for stored in [apollo, bare] {
        let found = projects
            .find_owned(ada.id, stored.id)
            .await
            .expect("find owned");
        assert_eq!(found, Some(stored));
    }
    let unknown = projects
        .find_owned(ada.id, ProjectId(Uuid::now_v7()))
        .await
        .expect("find an unknown project");
    assert_eq!(unknown, None);
});

db_test!(another_owner_does_not_find_it, |db| {
    let (ada, grace) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    projects.insert(&apollo).await.expect("insert");

    let found = projects
        .find_owned(grace.id, apollo.id)
        .await
        .expect("find as another owner");
    assert_eq!(found, None);
    let found = projects
        .find_owned(UserId(Uuid::now_v7()), apollo.id)
        .await
        .expect("find as an unknown owner");
    assert_eq!(found, None);
});

db_test!(a_name_differing_only_in_case_is_taken, |db| {
    let (ada, _) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    projects
        .insert(&fixtures::project(ada.id, "Apollo"))
        .await
        .expect("insert");

    for name in ["Apollo", "APOLLO", "apollo", "  aPoLLo "] {
        let duplicate = fixtures::project(ada.id, name);
        let result = projects.insert(&duplicate).await;
        assert!(
            matches!(result, Err(CreateProjectError::NameTaken)),
            "{name:?}: {result:?}"
        );
        assert_eq!(
            projects
                .find_owned(ada.id, duplicate.id)
                .await
                .expect("find"),
            None
        );
    }
});

db_test!(the_same_name_is_free_for_another_owner, |db| {
    let (ada, grace) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let ada_s = fixtures::project(ada.id, "Apollo");
    let grace_s = fixtures::project(grace.id, "apollo");
    projects.insert(&ada_s).await.expect("insert ada's");
    projects.insert(&grace_s).await.expect("insert grace's");

    assert_eq!(
        projects.find_owned(ada.id, ada_s.id).await.expect("find"),
        Some(ada_s)
    );
    assert_eq!(
        projects
            .find_owned(grace.id, grace_s.id)
            .await
            .expect("find"),
        Some(grace_s)
    );
});

db_test!(a_project_of_a_missing_owner_is_an_error, |db| {
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let orphan = fixtures::project(UserId(Uuid::now_v7()), "Apollo");
    let result = projects.insert(&orphan).await;
    assert!(
        matches!(result, Err(CreateProjectError::Storage(_))),
        "{result:?}"
    );
});

db_test!(deleting_the_owner_deletes_its_projects, |db| {
    let (ada, grace) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    let gemini = fixtures::project(ada.id, "Gemini");
    let mercury = fixtures::project(grace.id, "Mercury");
    for stored in [&apollo, &gemini, &mercury] {
        projects.insert(stored).await.expect("insert");
    }

    let deleted = user::Entity::delete_by_id(ada.id.0)
        .exec(&db.db)
        .await
        .expect("delete the owner");
    assert_eq!(deleted.rows_affected, 1);

    for gone in [apollo.id, gemini.id] {
        assert_eq!(projects.find_owned(ada.id, gone).await.expect("find"), None);
    }
    let left = project::Entity::find()
        .filter(project::Column::OwnerId.eq(ada.id.0))
        .count(&db.db)
        .await
        .expect("count projects");
    assert_eq!(left, 0);
    // Another owner's projects stay.
    assert_eq!(
        projects
            .find_owned(grace.id, mercury.id)
            .await
            .expect("find"),
        Some(mercury)
    );
});
