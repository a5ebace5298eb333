//! Unit tests of `ProjectService`, every port mocked.
//!
//! Ownership is the service's job: every repository call must carry the
//! caller's id, and "not yours" must look exactly like "not there".

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mockall::predicate::eq;
use uuid::Uuid;

use super::{
    MockProjectRepository, Project, ProjectChanges, ProjectDescription, ProjectDescriptionError,
    ProjectError, ProjectId, ProjectName, ProjectService, WriteProjectError,
};
use crate::common::{Cursor, MockClock, MockIdGenerator, Page, PageRequest, StorageError};
use crate::user::UserId;

const OWNER: UserId = UserId(Uuid::from_u128(0x0001));
const PROJECT_ID: ProjectId = ProjectId(Uuid::from_u128(0x0a01));

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("valid timestamp")
}

fn name(raw: &str) -> ProjectName {
    ProjectName::parse(raw).expect("valid project name")
}

fn description(raw: &str) -> ProjectDescription {
    ProjectDescription::parse(raw).expect("valid description")
}

/// A project of `OWNER` created a week ago and last changed a day ago.
fn stored() -> Project {
    Project {
        id: PROJECT_ID,
        owner_id: OWNER,
        name: name("Apollo"),
        description: Some(description("To the moon")),
        created_at: now() - TimeDelta::days(7),
        updated_at: now() - TimeDelta::days(1),
    }
}

type Captured<T> = Arc<Mutex<Option<T>>>;

fn take<T>(captured: &Captured<T>) -> T {
    captured
        .lock()
        .expect("lock not poisoned")
        .take()
        .expect("the mock was called")
}

/// The mocked ports; the clock always answers `now()`.
struct Mocks {
    projects: MockProjectRepository,
    ids: MockIdGenerator,
}

impl Mocks {
    fn new() -> Self {
        Self {
            projects: MockProjectRepository::new(),
            ids: MockIdGenerator::new(),
        }
    }

    fn service(self) -> ProjectService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now());
        ProjectService::new(Arc::new(self.projects), Arc::new(clock), Arc::new(self.ids))
    }

    /// `find_owned(OWNER, PROJECT_ID)` is asked once and answers `found`.
    fn expect_find(&mut self, found: Option<Project>) {
        self.projects
            .expect_find_owned()
            .with(eq(OWNER), eq(PROJECT_ID))
            .times(1)
            .return_once(move |_, _| Ok(found));
    }

    /// `update` is called once; returns what it was given.
    fn expect_update(&mut self, outcome: Result<bool, WriteProjectError>) -> Captured<Project> {
        let captured = Captured::default();
        let sink = Arc::clone(&captured);
        self.projects
            .expect_update()
            .times(1)
            .return_once(move |project| {
                *sink.lock().expect("lock not poisoned") = Some(project.clone());
                outcome
            });
        captured
    }
}

// --- create ---------------------------------------------------------------

#[tokio::test]
async fn create_stamps_the_owner_the_id_and_both_timestamps() {
    let mut mocks = Mocks::new();
    mocks
        .ids
        .expect_new_id()
        .times(1)
        .return_const(PROJECT_ID.0);
    let captured = Captured::default();
    let sink = Arc::clone(&captured);
    mocks
        .projects
        .expect_insert()
        .times(1)
        .returning(move |project| {
            *sink.lock().expect("lock not poisoned") = Some(project.clone());
            Ok(())
        });

    let project = mocks
        .service()
        .create(OWNER, name("  Apollo "), Some(description("To the moon")))
        .await
        .expect("created");

    let expected = Project {
        id: PROJECT_ID,
        owner_id: OWNER,
        name: name("Apollo"),
        description: Some(description("To the moon")),
        created_at: now(),
        updated_at: now(),
    };
    assert_eq!(project, expected);
    assert_eq!(take(&captured), expected, "the stored project");
}

#[tokio::test]
async fn create_without_a_description_stores_none() {
    let mut mocks = Mocks::new();
    mocks.ids.expect_new_id().return_const(PROJECT_ID.0);
    mocks
        .projects
        .expect_insert()
        .withf(|p| p.description.is_none() && p.owner_id == OWNER)
        .times(1)
        .returning(|_| Ok(()));
    let project = mocks
        .service()
        .create(OWNER, name("Apollo"), None)
        .await
        .expect("created");
    assert_eq!(project.description, None);
}

#[tokio::test]
async fn create_with_a_taken_name_is_name_taken() {
    let mut mocks = Mocks::new();
    mocks.ids.expect_new_id().return_const(PROJECT_ID.0);
    mocks
        .projects
        .expect_insert()
        .times(1)
        .returning(|_| Err(WriteProjectError::NameTaken));
    let error = mocks
        .service()
        .create(OWNER, name("Apollo"), None)
        .await
        .expect_err("name taken");
    assert!(matches!(error, ProjectError::NameTaken), "{error:?}");
}

#[tokio::test]
async fn create_maps_storage_failures() {
    let mut mocks = Mocks::new();
    mocks.ids.expect_new_id().return_const(PROJECT_ID.0);
    mocks.projects.expect_insert().times(1).returning(|_| {
        Err(WriteProjectError::Storage(StorageError::Unavailable(
            anyhow::anyhow!("connection refused"),
        )))
    });
    let error = mocks
        .service()
        .create(OWNER, name("Apollo"), None)
        .await
        .expect_err("unavailable");
    assert!(matches!(error, ProjectError::Unavailable(_)), "{error:?}");
}

// --- list -----------------------------------------------------------------

#[tokio::test]
async fn list_passes_the_owner_and_the_page_request_through() {
    let request = PageRequest {
        limit: 7,
        after: Some(Cursor {
            created_at: now(),
            id: Uuid::from_u128(0x0a99),
        }),
    };
    let page = Page {
        items: vec![stored()],
        next: None,
    };
    let mut mocks = Mocks::new();
    let returned = page.clone();
    mocks
        .projects
        .expect_list_owned()
        .with(eq(OWNER), eq(request))
        .times(1)
        .return_once(move |_, _| Ok(returned));
    let listed = mocks.service().list(OWNER, request).await.expect("listed");
    assert_eq!(listed, page);
}

// --- get ------------------------------------------------------------------

#[tokio::test]
async fn get_asks_for_the_callers_project() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let project = mocks.service().get(OWNER, PROJECT_ID).await.expect("found");
    assert_eq!(project, stored());
}

#[tokio::test]
async fn get_of_a_missing_or_foreign_project_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find(None);
    let error = mocks
        .service()
        .get(OWNER, PROJECT_ID)
        .await
        .expect_err("not found");
    assert!(matches!(error, ProjectError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_maps_storage_failures() {
    let mut mocks = Mocks::new();
    mocks
        .projects
        .expect_find_owned()
        .returning(|_, _| Err(StorageError::Unexpected(anyhow::anyhow!("bad row"))));
    let error = mocks
        .service()
        .get(OWNER, PROJECT_ID)
        .await
        .expect_err("unexpected");
    assert!(matches!(error, ProjectError::Unexpected(_)), "{error:?}");
}

// --- update ---------------------------------------------------------------

#[tokio::test]
async fn update_of_the_name_keeps_the_description_and_stamps_updated_at() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let saved = mocks.expect_update(Ok(true));
    let changes = ProjectChanges {
        name: Some(name("Gemini")),
        description: None,
    };

    let project = mocks
        .service()
        .update(OWNER, PROJECT_ID, changes)
        .await
        .expect("updated");

    let expected = Project {
        name: name("Gemini"),
        updated_at: now(),
        ..stored()
    };
    assert_eq!(project, expected);
    assert_eq!(take(&saved), expected, "what was saved");
}

#[tokio::test]
async fn update_of_the_description_keeps_the_name() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let saved = mocks.expect_update(Ok(true));
    let changes = ProjectChanges {
        name: None,
        description: Some(Some(description("Around the moon"))),
    };
    let project = mocks
        .service()
        .update(OWNER, PROJECT_ID, changes)
        .await
        .expect("updated");
    assert_eq!(project.name, name("Apollo"));
    assert_eq!(project.description, Some(description("Around the moon")));
    assert_eq!(take(&saved), project);
}

#[tokio::test]
async fn update_with_some_none_clears_the_description() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let saved = mocks.expect_update(Ok(true));
    let changes = ProjectChanges {
        name: None,
        description: Some(None),
    };
    let project = mocks
        .service()
        .update(OWNER, PROJECT_ID, changes)
        .await
        .expect("updated");
    assert_eq!(project.description, None);
    assert_eq!(project.name, name("Apollo"));
    assert_eq!(take(&saved).description, None);
}

#[tokio::test]
async fn an_empty_update_only_touches_updated_at() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let saved = mocks.expect_update(Ok(true));
    let project = mocks
        .service()
        .update(OWNER, PROJECT_ID, ProjectChanges::default())
        .await
        .expect("updated");
    let expected = Project {
        updated_at: now(),
        ..stored()
    };
    assert_eq!(project, expected);
    assert_eq!(take(&saved), expected);
}

#[tokio::test]
async fn update_of_a_missing_or_foreign_project_is_not_found_and_saves_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find(None);
    mocks.projects.expect_update().never();
    let changes = ProjectChanges {
        name: Some(name("Gemini")),
        description: None,
    };
    let error = mocks
        .service()
        .update(OWNER, PROJECT_ID, changes)
        .await
        .expect_err("not found");
    assert!(matches!(error, ProjectError::NotFound), "{error:?}");
}

#[tokio::test]
async fn update_of_a_project_deleted_meanwhile_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let _saved = mocks.expect_update(Ok(false));
    let error = mocks
        .service()
        .update(OWNER, PROJECT_ID, ProjectChanges::default())
        .await
        .expect_err("not found");
    assert!(matches!(error, ProjectError::NotFound), "{error:?}");
}

#[tokio::test]
async fn update_to_a_taken_name_is_name_taken() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(stored()));
    let _saved = mocks.expect_update(Err(WriteProjectError::NameTaken));
    let changes = ProjectChanges {
        name: Some(name("Gemini")),
        description: None,
    };
    let error = mocks
        .service()
        .update(OWNER, PROJECT_ID, changes)
        .await
        .expect_err("name taken");
    assert!(matches!(error, ProjectError::NameTaken), "{error:?}");
}

// --- delete ---------------------------------------------------------------

#[tokio::test]
async fn delete_passes_the_owner() {
    let mut mocks = Mocks::new();
    mocks
        .projects
        .expect_delete_owned()
        .with(eq(OWNER), eq(PROJECT_ID))
        .times(1)
        .returning(|_, _| Ok(true));
    mocks
        .service()
        .delete(OWNER, PROJECT_ID)
        .await
        .expect("deleted");
}

#[tokio::test]
async fn delete_of_a_missing_or_foreign_project_is_not_found() {
    let mut mocks = Mocks::new();
    mocks
        .projects
        .expect_delete_owned()
        .with(eq(OWNER), eq(PROJECT_ID))
        .times(1)
        .returning(|_, _| Ok(false));
    let error = mocks
        .service()
        .delete(OWNER, PROJECT_ID)
        .await
        .expect_err("not found");
    assert!(matches!(error, ProjectError::NotFound), "{error:?}");
}

// --- values -----------------------------------------------------------------

#[test]
fn descriptions_keep_line_breaks_but_refuse_nul() {
    assert_eq!(
        description("line one\n\tline two").as_str(),
        "line one\n\tline two"
    );
    assert_eq!(
        ProjectDescription::parse("a\0b"),
        Err(ProjectDescriptionError::NulCharacter)
    );
    assert_eq!(
        ProjectDescription::parse(&"x".repeat(2001)),
        Err(ProjectDescriptionError::TooLong)
    );
}
