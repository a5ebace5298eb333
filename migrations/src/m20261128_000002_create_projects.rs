use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(pk_uuid(Projects::Id))
                    .col(uuid(Projects::OwnerId))
                    .col(string_len(Projects::Name, 100))
                    // The case-folded name: uniqueness per owner is checked on
                    // it, identically on SQLite and PostgreSQL.
                    .col(string_len(Projects::NameKey, 400))
                    .col(text_null(Projects::Description))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("projects_owner_id_fkey")
                            .from(Projects::Table, Projects::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("projects_owner_id_name_key_key")
                    .table(Projects::Table)
                    .col(Projects::OwnerId)
                    .col(Projects::NameKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Listing a user's projects newest first, with (created_at, id) as the cursor.
        manager
            .create_index(
                Index::create()
                    .name("projects_owner_id_created_at_id_idx")
                    .table(Projects::Table)
                    .col(Projects::OwnerId)
                    .col(Projects::CreatedAt)
                    .col(Projects::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Projects::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OwnerId,
    Name,
    NameKey,
    Description,
    CreatedAt,
    UpdatedAt,
}
