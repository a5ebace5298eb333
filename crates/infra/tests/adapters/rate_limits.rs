//! `SeaOrmRateLimiter`.

use std::sync::Arc;

use auth_domain::common::{RateLimiter as _, WindowCount};
use auth_infra::db_test;
use auth_infra::sea_orm::SeaOrmRateLimiter;
use chrono::{Duration, TimeDelta};
use tokio::sync::Barrier;

use crate::fixtures;

const WINDOW: TimeDelta = TimeDelta::seconds(60);

db_test!(hits_count_up_within_a_window, |db| {
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let first = fixtures::now();
    let resets_at = first + WINDOW;

    for (n, at) in [
        (1, first),
        (2, first + Duration::seconds(1)),
        (3, first + WINDOW - Duration::microseconds(1)),
    ] {
        let count = limiter.hit("login:a:x", WINDOW, at).await.expect("hit");
        assert_eq!(
            count,
            WindowCount {
                count: n,
                resets_at
            },
            "hit {n}"
        );
    }

    // Keys are counted apart.
    let other = limiter
        .hit("ip:192.0.2.1", WINDOW, first + Duration::seconds(2))
        .await
        .expect("hit another key");
    assert_eq!(
        other,
        WindowCount {
            count: 1,
            resets_at: first + Duration::seconds(2) + WINDOW,
        }
    );
});

db_test!(a_hit_after_the_window_starts_a_new_one, |db| {
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let first = fixtures::now();
    for _ in 0..3 {
        limiter.hit("k", WINDOW, first).await.expect("hit");
    }

    // The window ends at `first + WINDOW`, exclusive.
    let second = first + WINDOW;
    let count = limiter.hit("k", WINDOW, second).await.expect("hit");
    assert_eq!(
        count,
        WindowCount {
            count: 1,
            resets_at: second + WINDOW,
        }
    );
    let count = limiter
        .hit("k", WINDOW, second + Duration::seconds(5))
        .await
        .expect("hit");
    assert_eq!(
        count,
        WindowCount {
            count: 2,
            resets_at: second + WINDOW,
        }
    );

    // Long after, again from 1.
    let third = second + Duration::days(3);
    let count = limiter.hit("k", WINDOW, third).await.expect("hit");
    assert_eq!(
        count,
        WindowCount {
            count: 1,
            resets_at: third + WINDOW,
        }
    );
});

db_test!(peek_counts_nothing, |db| {
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let first = fixtures::now();

    let unknown = limiter.peek("k", WINDOW, first).await.expect("peek");
    assert_eq!(unknown.count, 0);

    limiter.hit("k", WINDOW, first).await.expect("hit");
    limiter
        .hit("k", WINDOW, first + Duration::seconds(1))
        .await
        .expect("hit");
    for _ in 0..3 {
        let peeked = limiter
            .peek("k", WINDOW, first + Duration::seconds(2))
            .await
            .expect("peek");
        assert_eq!(
            peeked,
            WindowCount {
                count: 2,
                resets_at: first + WINDOW,
            }
        );
    }
    let count = limiter
        .hit("k", WINDOW, first + Duration::seconds(3))
        .await
        .expect("hit");
    assert_eq!(count.count, 3);

    // An expired window reads as empty, and peeking does not restart it.
    let expired = limiter
        .peek("k", WINDOW, first + WINDOW)
        .await
        .expect("peek an expired window");
    assert_eq!(expired.count, 0);
    let still = limiter
        .peek("k", WINDOW, first + Duration::seconds(4))
        .await
        .expect("peek");
    assert_eq!(still.count, 3);
});

db_test!(reset_forgets_the_key, |db| {
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let now = fixtures::now();
    for _ in 0..3 {
        limiter.hit("k", WINDOW, now).await.expect("hit");
    }
    limiter.hit("other", WINDOW, now).await.expect("hit");

    limiter.reset("k").await.expect("reset");
    assert_eq!(limiter.peek("k", WINDOW, now).await.expect("peek").count, 0);
    assert_eq!(
        limiter
            .peek("other", WINDOW, now)
            .await
            .expect("peek")
            .count,
        1
    );
    let later = now + Duration::seconds(1);
    let count = limiter.hit("k", WINDOW, later).await.expect("hit");
    assert_eq!(
        count,
        WindowCount {
            count: 1,
            resets_at: later + WINDOW,
        }
    );

    limiter
        .reset("never-seen")
        .await
        .expect("reset an unknown key");
});

db_test!(purge_deletes_only_windows_started_before, |db| {
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let now = fixtures::now();
    let before = now - Duration::hours(1);
    limiter
        .hit("old", WINDOW, now - Duration::hours(2))
        .await
        .expect("hit");
    limiter
        .hit("just-old", WINDOW, before - Duration::microseconds(1))
        .await
        .expect("hit");
    limiter.hit("boundary", WINDOW, before).await.expect("hit");
    limiter.hit("recent", WINDOW, now).await.expect("hit");

    assert_eq!(limiter.purge(before).await.expect("purge"), 2);
    // With a window long enough to keep them all alive, only the purged
    // keys read as empty.
    let day = TimeDelta::days(1);
    for (key, count) in [("old", 0), ("just-old", 0), ("boundary", 1), ("recent", 1)] {
        let peeked = limiter.peek(key, day, now).await.expect("peek");
        assert_eq!(peeked.count, count, "{key}");
    }
    assert_eq!(limiter.purge(before).await.expect("purge again"), 0);
});

db_test!(concurrent_hits_are_all_counted, |db| {
    const HITS: usize = 50;
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let now = fixtures::now();
    let start = Arc::new(Barrier::new(HITS));
    let hitters: Vec<_> = (0..HITS)
        .map(|_| {
            let (limiter, start) = (limiter.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                limiter.hit("contended", WINDOW, now).await
            })
        })
        .collect();

    let mut counts = Vec::with_capacity(HITS);
    for hitter in hitters {
        let count = hitter
            .await
            .expect("the hitter did not panic")
            .expect("hit");
        assert_eq!(count.resets_at, now + WINDOW);
        counts.push(count.count);
    }
    // Every hit saw a distinct count: none was lost or counted twice.
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=HITS as u64).collect();
    assert_eq!(counts, expected);
    let peeked = limiter.peek("contended", WINDOW, now).await.expect("peek");
    assert_eq!(peeked.count, HITS as u64);
});

db_test!(
    hit_in_turn_counts_the_second_key_only_within_the_first_limit,
    |db| {
        let limiter = SeaOrmRateLimiter::new(db.db.clone());
        let now = fixtures::now();
        let turns = [("login:p:x", 2), ("login:a:x", 100)];

        for n in 1..=2 {
            let counts = limiter
                .hit_in_turn(&turns, WINDOW, now)
                .await
                .expect("hit in turn");
            let window = |count| WindowCount {
                count,
                resets_at: now + WINDOW,
            };
            assert_eq!(counts, vec![window(n), window(n)], "turn {n}");
        }
        // The first key goes over its limit: it is counted, the second is not.
        let counts = limiter
            .hit_in_turn(&turns, WINDOW, now)
            .await
            .expect("hit in turn");
        assert_eq!(
            counts,
            vec![WindowCount {
                count: 3,
                resets_at: now + WINDOW,
            }]
        );
        let peek = |key| limiter.peek(key, WINDOW, now);
        assert_eq!(peek("login:p:x").await.expect("peek").count, 3);
        assert_eq!(peek("login:a:x").await.expect("peek").count, 2);

        // A window that ended starts afresh for both.
        let later = now + WINDOW;
        let counts = limiter
            .hit_in_turn(&turns, WINDOW, later)
            .await
            .expect("hit in turn");
        assert_eq!(
            counts.iter().map(|c| c.count).collect::<Vec<_>>(),
            vec![1, 1]
        );
    }
);

db_test!(
    concurrent_hits_in_turn_are_all_counted_and_stop_at_the_limit,
    |db| {
        const HITS: usize = 40;
        const PAIR_LIMIT: u64 = 25;
        let limiter = SeaOrmRateLimiter::new(db.db.clone());
        let now = fixtures::now();
        let start = Arc::new(Barrier::new(HITS));
        let hitters: Vec<_> = (0..HITS)
            .map(|_| {
                let (limiter, start) = (limiter.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    limiter
                        .hit_in_turn(&[("pair", PAIR_LIMIT), ("account", 1_000)], WINDOW, now)
                        .await
                })
            })
            .collect();

        let mut pair_counts = Vec::with_capacity(HITS);
        let mut accounts = 0;
        for hitter in hitters {
            let counts = hitter
                .await
                .expect("the hitter did not panic")
                .expect("hit in turn");
            pair_counts.push(counts[0].count);
            if counts[0].count <= PAIR_LIMIT {
                assert_eq!(counts.len(), 2, "within the limit, both are counted");
                accounts += 1;
            } else {
                assert_eq!(counts.len(), 1, "over the limit, only the first");
            }
        }
        pair_counts.sort_unstable();
        assert_eq!(pair_counts, (1..=HITS as u64).collect::<Vec<_>>());
        assert_eq!(accounts, PAIR_LIMIT);
        let peek = |key| limiter.peek(key, WINDOW, now);
        assert_eq!(peek("account").await.expect("peek").count, PAIR_LIMIT);
    }
);

db_test!(
    reset_and_release_forgets_one_key_and_takes_one_back_from_another,
    |db| {
        let limiter = SeaOrmRateLimiter::new(db.db.clone());
        let now = fixtures::now();
        for _ in 0..3 {
            limiter
                .hit_in_turn(&[("pair", 10), ("account", 10)], WINDOW, now)
                .await
                .expect("hit in turn");
        }
        limiter
            .reset_and_release(Some("pair"), "account")
            .await
            .expect("reset and release");
        let peek = |key| limiter.peek(key, WINDOW, now);
        assert_eq!(peek("pair").await.expect("peek").count, 0);
        assert_eq!(peek("account").await.expect("peek").count, 2);

        // Without a key to forget it only releases, and never below zero.
        for _ in 0..3 {
            limiter
                .reset_and_release(None, "account")
                .await
                .expect("release");
        }
        assert_eq!(peek("account").await.expect("peek").count, 0);
    }
);

db_test!(log_ins_settling_while_others_reserve_never_deadlock, |db| {
    // What a burst of right passwords for one account from one address
    // does: each reserves (pair, then account) and, once its password
    // matched, forgets the pair and takes its account event back. The
    // two steps lock the same two rows; taken in opposite orders, two
    // log-ins wait for each other until PostgreSQL aborts one as a
    // deadlock, and every other log-in of the account queues behind
    // them meanwhile.
    const LOG_INS: usize = 24;
    const ROUNDS: usize = 25;
    let limiter = SeaOrmRateLimiter::new(db.db.clone());
    let now = fixtures::now();
    let start = Arc::new(Barrier::new(LOG_INS));
    let log_ins: Vec<_> = (0..LOG_INS)
        .map(|_| {
            let (limiter, start) = (limiter.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..ROUNDS {
                    limiter
                        .hit_in_turn(&[("pair", 1_000_000), ("account", 1_000_000)], WINDOW, now)
                        .await?;
                    limiter.reset_and_release(Some("pair"), "account").await?;
                }
                Ok::<_, auth_domain::common::StorageError>(())
            })
        })
        .collect();
    for log_in in log_ins {
        log_in
            .await
            .expect("the log-in did not panic")
            .expect("no log-in failed");
    }
    // Every event was taken back.
    assert_eq!(
        limiter
            .peek("account", WINDOW, now)
            .await
            .expect("peek")
            .count,
        0
    );
});
