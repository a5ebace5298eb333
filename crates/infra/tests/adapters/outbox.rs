//! The mail outbox and its worker: queued mail is sent once, concurrent
//! workers never send a message twice, failures are retried with growing
//! delays and end `dead`; bodies do not outlive their message.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auth_domain::common::Clock as _;
use auth_domain::mail::{MailError, Mailer, OutgoingMail};
use auth_domain::user::Email;
use auth_infra::db_test;
use auth_infra::outbox::{Drained, OutboxWorker, RetryPolicy};
use auth_infra::sea_orm::SeaOrmMailOutbox;
use auth_infra::testing::ManualClock;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

/// A transport that keeps what it is given, or refuses everything.
#[derive(Debug, Default)]
struct Transport {
    fail: bool,
    seen: Mutex<Vec<OutgoingMail>>,
}

impl Transport {
    fn failing() -> Arc<Self> {
        Arc::new(Self {
            fail: true,
            ..Self::default()
        })
    }

    fn subjects(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|m| m.subject.clone())
            .collect()
    }
}

#[async_trait]
impl Mailer for Transport {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        self.seen.lock().expect("lock").push(mail);
        if self.fail {
            return Err(MailError(anyhow::anyhow!("421 service not available")));
        }
        Ok(())
    }
}

fn mail(n: usize) -> OutgoingMail {
    OutgoingMail {
        to: Email::parse(&format!("user{n}@example.com")).expect("email"),
        subject: format!("Message {n}"),
        text: format!("https://app.test/reset?token=secret{n}\n"),
    }
}

/// One row, as stored.
#[derive(Debug)]
struct Row {
    status: String,
    body: Option<String>,
    attempts: i32,
    due_at: DateTime<Utc>,
    last_error: Option<String>,
}

async fn rows(db: &DatabaseConnection) -> Vec<Row> {
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT status, body, attempts, due_at, last_error FROM mail_outbox ORDER BY created_at",
    );
    db.query_all_raw(statement)
        .await
        .expect("read the outbox")
        .iter()
        .map(|row| Row {
            status: row.try_get("", "status").expect("status"),
            body: row.try_get("", "body").expect("body"),
            attempts: row.try_get("", "attempts").expect("attempts"),
            due_at: row.try_get("", "due_at").expect("due_at"),
            last_error: row.try_get("", "last_error").expect("last_error"),
        })
        .collect()
}

db_test!(queued_mail_is_sent_once_and_its_body_cleared, |db| {
    let clock = Arc::new(ManualClock::default());
    let outbox = SeaOrmMailOutbox::new(db.db.clone(), clock.clone());
    outbox.send(mail(1)).await.expect("queue");
    let queued = rows(&db.db).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].status, "pending");
    assert!(
        queued[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains("secret1"))
    );

    let transport = Arc::new(Transport::default());
    let worker = OutboxWorker::new(outbox, transport.clone(), RetryPolicy::default());
    assert_eq!(
        worker.drain().await.expect("drain"),
        Drained {
            sent: 1,
            ..Drained::default()
        }
    );
    assert_eq!(transport.subjects(), ["Message 1"]);
    let seen = transport.seen.lock().expect("lock")[0].clone();
    assert_eq!(seen, mail(1), "sent as queued");

    let sent = rows(&db.db).await;
    assert_eq!(sent[0].status, "sent");
    assert_eq!(sent[0].body, None, "the body (and its token) is gone");
    assert_eq!(sent[0].attempts, 1);
    // Nothing is sent twice.
    assert_eq!(worker.drain().await.expect("drain"), Drained::default());
    clock.advance(TimeDelta::hours(2));
    assert_eq!(worker.drain().await.expect("drain"), Drained::default());
    assert_eq!(transport.subjects().len(), 1);
});

db_test!(concurrent_workers_send_each_mail_once, |db| {
    const MAILS: usize = 60;
    let clock = Arc::new(ManualClock::default());
    let queue = SeaOrmMailOutbox::new(db.db.clone(), clock.clone());
    for n in 0..MAILS {
        queue.send(mail(n)).await.expect("queue");
    }
    // Two instances, each with its own pool, sharing one transport so that
    // every delivery is counted.
    let transport = Arc::new(Transport::default());
    let other_pool = auth_infra::sea_orm::connect(&db.url, 5)
        .await
        .expect("second pool");
    let workers = [db.db.clone(), other_pool].map(|pool| {
        Arc::new(OutboxWorker::new(
            SeaOrmMailOutbox::new(pool, clock.clone()),
            transport.clone(),
            RetryPolicy::default(),
        ))
    });
    let passes: Vec<_> = (0..20)
        .map(|i| {
            let worker = workers[i % 2].clone();
            tokio::spawn(async move { worker.drain().await.expect("drain").sent })
        })
        .collect();
    let mut sent = 0;
    for pass in passes {
        sent += pass.await.expect("pass");
    }
    let subjects = transport.subjects();
    assert_eq!(subjects.len(), MAILS, "each mail handed over once");
    assert_eq!(subjects.iter().collect::<HashSet<_>>().len(), MAILS);
    assert_eq!(sent, MAILS);
    assert!(
        rows(&db.db)
            .await
            .iter()
            .all(|r| r.status == "sent" && r.body.is_none())
    );
});

db_test!(
    a_mail_that_always_fails_ends_dead_with_growing_delays,
    |db| {
        const ATTEMPTS: u32 = 5;
        let clock = Arc::new(ManualClock::default());
        let outbox = SeaOrmMailOutbox::new(db.db.clone(), clock.clone());
        outbox.send(mail(1)).await.expect("queue");
        let transport = Transport::failing();
        let policy = RetryPolicy {
            first_delay: TimeDelta::seconds(10),
            max_delay: TimeDelta::hours(1),
            max_attempts: ATTEMPTS,
        };
        let worker = OutboxWorker::new(outbox, transport.clone(), policy);

        let mut delays = Vec::new();
        for attempt in 1..ATTEMPTS {
            let drained = worker.drain().await.expect("drain");
            assert_eq!(drained.retried, 1, "attempt {attempt} failed and waits");
            let row = &rows(&db.db).await[0];
            assert_eq!(row.status, "pending");
            assert_eq!(row.attempts, i32::try_from(attempt).expect("attempt"));
            assert!(row.last_error.as_deref().is_some_and(|e| e.contains("421")));
            let delay = row.due_at - clock.now();
            delays.push(delay);
            // Not before it is due.
            clock.advance(delay - TimeDelta::milliseconds(1));
            assert_eq!(worker.drain().await.expect("drain"), Drained::default());
            clock.advance(TimeDelta::milliseconds(1));
        }
        let drained = worker.drain().await.expect("drain");
        assert_eq!(drained.dead, 1);
        let row = &rows(&db.db).await[0];
        assert_eq!(row.status, "dead");
        assert_eq!(row.body, None, "a dead message keeps no body");
        assert_eq!(row.attempts, i32::try_from(ATTEMPTS).expect("attempts"));
        assert_eq!(transport.subjects().len(), ATTEMPTS as usize);

        assert!(
            delays.windows(2).all(|pair| pair[1] > pair[0]),
            "{delays:?}"
        );
        // 10 s, 20 s, 40 s, 80 s, each less at most a fifth.
        for (n, delay) in delays.iter().enumerate() {
            let full = TimeDelta::seconds(10 * (1 << n));
            assert!(*delay <= full && *delay >= full * 4 / 5, "{n}: {delay}");
        }
        // A dead message is never tried again.
        clock.advance(TimeDelta::days(1));
        assert_eq!(worker.drain().await.expect("drain"), Drained::default());
    }
);

db_test!(finished_rows_are_purged_after_a_while, |db| {
    let clock = Arc::new(ManualClock::default());
    let outbox = SeaOrmMailOutbox::new(db.db.clone(), clock.clone());
    outbox.send(mail(1)).await.expect("queue");
    outbox.send(mail(2)).await.expect("queue");
    let worker = OutboxWorker::new(
        outbox.clone(),
        Arc::new(Transport::default()),
        RetryPolicy::default(),
    );
    worker.drain().await.expect("drain");
    outbox.send(mail(3)).await.expect("queue");
    assert_eq!(outbox.purge(clock.now()).await.expect("purge"), 0);
    clock.advance(TimeDelta::seconds(1));
    assert_eq!(outbox.purge(clock.now()).await.expect("purge"), 2);
    let left = rows(&db.db).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, "pending", "pending mail is never purged");
});
