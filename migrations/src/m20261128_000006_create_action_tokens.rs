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
                    .table(ActionTokens::Table)
                    .col(pk_uuid(ActionTokens::Id))
                    .col(uuid(ActionTokens::UserId))
                    .col(string_len(ActionTokens::Purpose, 32).check(
                        Expr::col(ActionTokens::Purpose).is_in(["verify_email", "reset_password"]),
                    ))
                    // SHA-256 digest, base64url without padding (43 characters).
                    .col(string_len(ActionTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(ActionTokens::CreatedAt))
                    .col(timestamp_with_time_zone(ActionTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ActionTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("action_tokens_user_id_fkey")
                            .from(ActionTokens::Table, ActionTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("action_tokens_token_hash_key")
                    .table(ActionTokens::Table)
                    .col(ActionTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("action_tokens_user_id_idx", ActionTokens::UserId),
            ("action_tokens_expires_at_idx", ActionTokens::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ActionTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ActionTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ActionTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
