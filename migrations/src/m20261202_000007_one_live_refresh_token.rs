//! A session has at most one live (unrotated) refresh token.
//!
//! Rotation and grace-period replays keep that rule themselves; the partial
//! unique index makes the database refuse any write that would break it, so
//! no race can leave two chains of one session alive. Sessions that already
//! have several live tokens keep only their newest one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "refresh_tokens_one_live_per_session";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Older tokens of a session that has a newer live one count as
        // rotated when they were issued: long past any grace period.
        db.execute_unprepared(
            "UPDATE refresh_tokens SET rotated_at = created_at \
             WHERE rotated_at IS NULL AND EXISTS ( \
               SELECT 1 FROM refresh_tokens newer \
               WHERE newer.session_id = refresh_tokens.session_id \
                 AND newer.rotated_at IS NULL \
                 AND (newer.created_at > refresh_tokens.created_at \
                      OR (newer.created_at = refresh_tokens.created_at \
                          AND newer.id > refresh_tokens.id)))",
        )
        .await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX {INDEX} ON refresh_tokens (session_id) WHERE rotated_at IS NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {INDEX}"))
            .await?;
        Ok(())
    }
}
