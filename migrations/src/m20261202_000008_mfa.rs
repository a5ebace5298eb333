//! The TOTP second factor: a user's factor (sealed secret, pending or
//! enabled, last accepted time step), their recovery codes (hashes), log-in
//! challenges (`mfa_token` hashes), `users.mfa_enabled`, and
//! `sessions.amr` (how a session's user signed in).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(UsersMfa::MfaEnabled).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SessionsAmr::Table)
                    .add_column(string_len(SessionsAmr::Amr, 16).default("pwd"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaFactors::Table)
                    .col(pk_uuid(MfaFactors::UserId))
                    .col(text(MfaFactors::Secret))
                    .col(timestamp_with_time_zone_null(MfaFactors::EnabledAt))
                    .col(big_integer_null(MfaFactors::LastStep))
                    .col(timestamp_with_time_zone(MfaFactors::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("mfa_factors_user_id_fkey")
                            .from(MfaFactors::Table, MfaFactors::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaRecoveryCodes::Table)
                    .col(pk_uuid(MfaRecoveryCodes::Id))
                    .col(uuid(MfaRecoveryCodes::UserId))
                    // SHA-256 digest, base64url without padding (43 characters).
                    .col(string_len(MfaRecoveryCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(MfaRecoveryCodes::CreatedAt))
                    .col(timestamp_with_time_zone_null(MfaRecoveryCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("mfa_recovery_codes_user_id_fkey")
                            .from(MfaRecoveryCodes::Table, MfaRecoveryCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mfa_recovery_codes_user_id_code_hash_key")
                    .table(MfaRecoveryCodes::Table)
                    .col(MfaRecoveryCodes::UserId)
                    .col(MfaRecoveryCodes::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(pk_uuid(MfaChallenges::Id))
                    .col(uuid(MfaChallenges::UserId))
                    .col(string_len(MfaChallenges::TokenHash, 64))
                    .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(MfaChallenges::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("mfa_challenges_user_id_fkey")
                            .from(MfaChallenges::Table, MfaChallenges::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mfa_challenges_token_hash_key")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("mfa_challenges_user_id_idx", MfaChallenges::UserId),
            ("mfa_challenges_expires_at_idx", MfaChallenges::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(MfaChallenges::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            MfaRecoveryCodes::Table.into_iden(),
            MfaFactors::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(SessionsAmr::Table)
                    .drop_column(SessionsAmr::Amr)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(UsersMfa::MfaEnabled)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UsersMfa {
    MfaEnabled,
}

#[derive(DeriveIden)]
enum SessionsAmr {
    #[sea_orm(iden = "sessions")]
    Table,
    Amr,
}

#[derive(DeriveIden)]
enum MfaFactors {
    Table,
    UserId,
    Secret,
    EnabledAt,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaRecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
