//! The hashing ceiling of this machine: password verifications per second
//! with the server's own hasher (Argon2id at the OWASP parameters) on its
//! own pool, one thread per CPU, kept busy from the async side as a log-in
//! flood would. `bench/run` prints log-in and sign-up rates against it.
//!
//! `cargo run --release -p auth-infra --example hash_rate [seconds]`

#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_domain::user::{Password, PasswordHasher as _, PasswordPolicy};
use auth_infra::argon2::Argon2PasswordHasher;
use auth_infra::blocking::BlockingPool;
use secrecy::SecretString;

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let pool = Arc::new(BlockingPool::new("argon2", cpus, 1024).expect("pool"));
    let hasher = Arc::new(Argon2PasswordHasher::new(pool));
    let secret = SecretString::from("correct horse battery staple");
    let password = Password::parse(secret.clone(), &PasswordPolicy::default(), None)
        .expect("a valid password");
    let hash = hasher.hash(&password).await.expect("hash");

    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..cpus * 4)
        .map(|_| {
            let (hasher, hash, secret, done) =
                (hasher.clone(), hash.clone(), secret.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    hasher.verify(&secret, &hash).await.expect("verify");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("{rate:.1}");
}
