//! The whole life of a session against the in-memory adapters: register,
//! log in, authenticate, refresh, log out, and see the tokens refused.
//! Exits with an error if any step does not behave as it should.

use anyhow::{Context as _, bail};
use auth_domain::auth::{AuthenticateError, LoginCommand};
use auth_domain::session::{ClientInfo, RefreshError};
use embedded_service::RegistrationForm;
use secrecy::{ExposeSecret as _, SecretString};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let embedded = embedded_service::wire().await?;
    let client = ClientInfo {
        user_agent: Some("embedded-service demo".into()),
        ip: Some("192.0.2.1".into()),
    };

    let (user, _) = embedded
        .register(RegistrationForm {
            client: client.clone(),
            display_name: Some("Ada".into()),
            ..RegistrationForm::new(EMAIL, PASSWORD)
        })
        .await
        .context("sign-up failed")?;
    println!(
        "1. signed up     {} as user {}",
        user.email.as_str(),
        user.id
    );

    let (_, tokens) = embedded
        .auth
        .login(LoginCommand {
            email: EMAIL.into(),
            password: SecretString::from(PASSWORD),
            client,
        })
        .await
        .context("log-in failed")?;
    println!(
        "2. logged in     session {}, access token valid for {} s",
        tokens.session_id, tokens.expires_in
    );

    let caller = embedded
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .context("authentication failed")?;
    println!(
        "3. authenticated the access token belongs to {} in session {}",
        caller.user.email.as_str(),
        caller.session_id
    );

    let old_refresh_token = tokens.refresh_token;
    let tokens = embedded
        .sessions
        .refresh(old_refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .context("refresh failed")?;
    embedded
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .context("the refreshed access token was refused")?;
    println!(
        "4. refreshed     new token pair for session {}",
        tokens.session_id
    );

    embedded
        .sessions
        .logout(caller.user.id, caller.session_id, &ClientInfo::default())
        .await
        .context("log-out failed")?;
    println!("5. logged out    session {} revoked", caller.session_id);

    match embedded
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
    {
        Err(AuthenticateError::SessionInvalid) => {
            println!("6. refused       access token: its session is revoked");
        }
        other => bail!("the access token still works after log-out: {other:?}"),
    }
    match embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
    {
        Err(RefreshError::InvalidToken) => {
            println!("7. refused       refresh token: its session is revoked");
        }
        other => bail!("the refresh token still works after log-out: {other:?}"),
    }
    Ok(())
}
