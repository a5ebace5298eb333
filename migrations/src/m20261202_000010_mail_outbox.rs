//! The mail outbox: messages waiting to be sent, and a short record of those
//! sent or given up.
//!
//! A request queues its mail here in one insert; a background worker claims
//! due rows, sends them and marks the outcome. `body` holds the links' tokens
//! in clear, so it is cleared once the row is `sent` or `dead`; `recipient`
//! and `subject` stay until the row is purged.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index the worker's claim reads: due rows still pending.
const PENDING_INDEX: &str = "mail_outbox_pending_due_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(pk_uuid(MailOutbox::Id))
                    .col(string_len(MailOutbox::Recipient, 320))
                    .col(text(MailOutbox::Subject))
                    .col(text_null(MailOutbox::Body))
                    .col(
                        string_len(MailOutbox::Status, 16).check(
                            Expr::col(MailOutbox::Status).is_in(["pending", "sent", "dead"]),
                        ),
                    )
                    .col(integer(MailOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(MailOutbox::DueAt))
                    .col(timestamp_with_time_zone_null(MailOutbox::ClaimedUntil))
                    .col(text_null(MailOutbox::LastError))
                    .col(timestamp_with_time_zone(MailOutbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(MailOutbox::FinishedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE INDEX {PENDING_INDEX} ON mail_outbox (due_at) WHERE status = 'pending'"
        ))
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("mail_outbox_finished_at_idx")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::FinishedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    Recipient,
    Subject,
    Body,
    Status,
    Attempts,
    DueAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    FinishedAt,
}
