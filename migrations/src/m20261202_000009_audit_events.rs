//! The security audit trail. `user_id` and `actor_id` carry no foreign key on
//! purpose: deleting a user must keep the events about them, the deletion's
//! own event first of all, and the ids keep naming the account they were.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(string_len(AuditEvents::EventType, 64))
                    .col(uuid_null(AuditEvents::UserId))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(string_len_null(AuditEvents::UserAgent, 512))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    // A JSON object, as text: the same on both engines.
                    .col(text(AuditEvents::Details))
                    .to_owned(),
            )
            .await?;
        // Newest first, all events (`/admin/audit`) and one user's
        // (`/users/me/audit`, `?user_id=`); the first also serves the purge.
        manager
            .create_index(
                Index::create()
                    .name("audit_events_created_at_id_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CreatedAt)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_user_id_created_at_id_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::UserId)
                    .col(AuditEvents::CreatedAt)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    EventType,
    UserId,
    ActorId,
    Ip,
    UserAgent,
    CreatedAt,
    Details,
}
