//! Sign up, call the API, refresh and log out with reqwest.
use anyhow::{Context as _, bail};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
}

/// A problem document: switch on `code`.
#[derive(Debug, Deserialize)]
struct Problem {
    status: u16,
    code: String,
    detail: String,
}

async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let problem: Problem = response.json().await.context("not a problem document")?;
    bail!("{} {}: {}", problem.status, problem.code, problem.detail)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let http = Client::new();

    // Sign up: 201 with a token pair and the user.
    let signup = json!({"email": "linus@example.com", "password": "correct horse battery staple"});
    let response = http
        .post(format!("{base}/auth/signup"))
        .json(&signup)
        .send()
        .await?;
    let pair: TokenPair = check(response).await?.json().await?;

    // Who am I.
    let response = http
        .get(format!("{base}/users/me"))
        .bearer_auth(&pair.access_token)
        .send()
        .await?;
    let me: Value = check(response).await?.json().await?;
    println!("me: {}", me["email"]);

    // Refresh: a new pair; the old refresh token is spent.
    let body = json!({"refresh_token": pair.refresh_token});
    let response = http
        .post(format!("{base}/auth/refresh"))
        .json(&body)
        .send()
        .await?;
    let pair: TokenPair = check(response).await?.json().await?;

    // Log out: 204, and the access token is refused from now on.
    let response = http
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&pair.access_token)
        .send()
        .await?;
    check(response).await?;
    let response = http
        .get(format!("{base}/users/me"))
        .bearer_auth(&pair.access_token)
        .send()
        .await?;
    anyhow::ensure!(response.status() == StatusCode::UNAUTHORIZED);
    println!("after logout: {}", response.status());
    Ok(())
}
