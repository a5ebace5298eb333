//! `SeaOrmProjectRepository`.

use std::sync::Arc;

use auth_domain::project::{
    Project, ProjectDescription, ProjectId, ProjectName, ProjectRepository as _, WriteProjectError,
};
use auth_domain::user::{User, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{project, user};
use auth_infra::sea_orm::{SeaOrmProjectRepository, SeaOrmUserRepository};
use chrono::Duration;
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

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
            matches!(result, Err(WriteProjectError::NameTaken)),
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
        matches!(result, Err(WriteProjectError::Storage(_))),
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

/// `name` with the letters picked by the bits of `mask` in upper case.
fn with_case(name: &str, mask: u32) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << i) == 0 {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

db_test!(
    racing_inserts_of_one_name_in_any_case_let_exactly_one_win,
    |db| {
        const RACERS: usize = 20;
        let (ada, _) = two_owners(&db.db).await;
        let projects = SeaOrmProjectRepository::new(db.db.clone());
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (projects, start) = (projects.clone(), Arc::clone(&start));
                let name = with_case("apollo", u32::try_from(i).expect("small"));
                let candidate = fixtures::project(ada.id, &name);
                tokio::spawn(async move {
                    start.wait().await;
                    projects.insert(&candidate).await
                })
            })
            .collect();

        let (mut won, mut taken) = (0, 0);
        for racer in racers {
            match racer.await.expect("the racer did not panic") {
                Ok(()) => won += 1,
                Err(WriteProjectError::NameTaken) => taken += 1,
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
        assert_eq!((won, taken), (1, RACERS - 1));

        let rows = project::Entity::find()
            .filter(project::Column::OwnerId.eq(ada.id.0))
            .count(&db.db)
            .await
            .expect("count projects");
        assert_eq!(rows, 1);
    }
);

db_test!(update_saves_name_description_and_updated_at, |db| {
    let (ada, _) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    projects.insert(&apollo).await.expect("insert");

    // A new case of its own name is not taken by itself.
    let renamed = Project {
        name: ProjectName::parse("APOLLO program").expect("valid name"),
        description: None,
        updated_at: apollo.updated_at + Duration::microseconds(3_000_001),
        ..apollo.clone()
    };
    assert!(projects.update(&renamed).await.expect("update"));
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        Some(renamed.clone())
    );

    let recased = Project {
        name: ProjectName::parse("apollo PROGRAM").expect("valid name"),
        description: Some(ProjectDescription::parse("Again.").expect("valid description")),
        ..renamed
    };
    assert!(projects.update(&recased).await.expect("update"));
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        Some(recased)
    );

    let unknown = fixtures::project(ada.id, "Nowhere");
    assert!(
        !projects
            .update(&unknown)
            .await
            .expect("update an unknown project")
    );
});

db_test!(update_to_a_name_taken_by_another_project_is_refused, |db| {
    let (ada, _) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    let gemini = fixtures::project(ada.id, "Gemini");
    projects.insert(&apollo).await.expect("insert apollo");
    projects.insert(&gemini).await.expect("insert gemini");

    for name in ["Apollo", "aPOLLO"] {
        let clash = Project {
            name: ProjectName::parse(name).expect("valid name"),
            description: None,
            updated_at: gemini.updated_at + Duration::seconds(1),
            ..gemini.clone()
        };
        let result = projects.update(&clash).await;
        assert!(
            matches!(result, Err(WriteProjectError::NameTaken)),
            "{name:?}: {result:?}"
        );
    }
    assert_eq!(
        projects.find_owned(ada.id, gemini.id).await.expect("find"),
        Some(gemini)
    );
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        Some(apollo)
    );
});

db_test!(update_of_another_owners_project_changes_nothing, |db| {
    let (ada, grace) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    projects.insert(&apollo).await.expect("insert");

    let hijack = Project {
        owner_id: grace.id,
        name: ProjectName::parse("Hijacked").expect("valid name"),
        description: None,
        updated_at: apollo.updated_at + Duration::seconds(1),
        ..apollo.clone()
    };
    assert!(!projects.update(&hijack).await.expect("update"));
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        Some(apollo.clone())
    );
    assert_eq!(
        projects
            .find_owned(grace.id, apollo.id)
            .await
            .expect("find"),
        None
    );
});

db_test!(delete_owned_deletes_only_the_owners_project_once, |db| {
    let (ada, grace) = two_owners(&db.db).await;
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let apollo = fixtures::project(ada.id, "Apollo");
    let gemini = fixtures::project(ada.id, "Gemini");
    projects.insert(&apollo).await.expect("insert apollo");
    projects.insert(&gemini).await.expect("insert gemini");

    assert!(
        !projects
            .delete_owned(grace.id, apollo.id)
            .await
            .expect("delete as another owner")
    );
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        Some(apollo.clone())
    );

    assert!(
        projects
            .delete_owned(ada.id, apollo.id)
            .await
            .expect("delete")
    );
    assert_eq!(
        projects.find_owned(ada.id, apollo.id).await.expect("find"),
        None
    );
    assert!(
        !projects
            .delete_owned(ada.id, apollo.id)
            .await
            .expect("delete again")
    );
    assert!(
        !projects
            .delete_owned(ada.id, ProjectId(Uuid::now_v7()))
            .await
            .expect("delete an unknown project")
    );
    // The other project stays, and its name is free again.
    assert_eq!(
        projects.find_owned(ada.id, gemini.id).await.expect("find"),
        Some(gemini)
    );
    projects
        .insert(&fixtures::project(ada.id, "apollo"))
        .await
        .expect("the name is free again");
});
