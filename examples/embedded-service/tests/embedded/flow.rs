//! The use-cases end to end on the in-memory adapters, as `main.rs` runs
//! them, with a clock the tests move instead of sleeping.

use auth_domain::auth::{AuthSettings, AuthenticateError, LoginError, LoginLimits, SignupError};
use auth_domain::session::{ClientInfo, RefreshError};
use auth_domain::user::AccountError;
use chrono::TimeDelta;
use embedded_service::{RegisterError, RegistrationForm, Settings};
use secrecy::{ExposeSecret as _, SecretString};

use crate::helpers::{PASSWORD, login_command, register, wired};

#[tokio::test]
async fn sign_up_log_in_authenticate_refresh_log_out() {
    let (embedded, _clock) = wired(Settings::default()).await;

    let (user, signup_tokens) = register(&embedded, " Ada@Example.COM ").await;
    assert_eq!(user.email.as_str(), "ada@example.com");

    let (logged_in, tokens) = embedded
        .auth
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("log-in succeeds");
    assert_eq!(logged_in.id, user.id);
    assert_ne!(tokens.session_id, signup_tokens.session_id);

    let caller = embedded
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .expect("the access token is accepted");
    assert_eq!(caller.user.id, user.id);
    assert_eq!(caller.session_id, tokens.session_id);

    let refreshed = embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("refresh succeeds");
    assert_eq!(refreshed.session_id, tokens.session_id);
    assert_ne!(
        refreshed.refresh_token.expose_secret(),
        tokens.refresh_token.expose_secret()
    );
    embedded
        .auth
        .authenticate(refreshed.access_token.expose_secret())
        .await
        .expect("the refreshed access token is accepted");

    embedded
        .sessions
        .logout(user.id, caller.session_id, &ClientInfo::default())
        .await
        .expect("log-out succeeds");

    for access_token in [&tokens.access_token, &refreshed.access_token] {
        assert!(matches!(
            embedded
                .auth
                .authenticate(access_token.expose_secret())
                .await,
            Err(AuthenticateError::SessionInvalid)
        ));
    }
    assert!(matches!(
        embedded
            .sessions
            .refresh(
                refreshed.refresh_token.expose_secret(),
                &ClientInfo::default()
            )
            .await,
        Err(RefreshError::InvalidToken)
    ));
    // The sign-up's own session is another session and lives on.
    embedded
        .auth
        .authenticate(signup_tokens.access_token.expose_secret())
        .await
        .expect("the other session is untouched");
}

#[tokio::test]
async fn access_tokens_expire_with_the_clock() {
    let (embedded, clock) = wired(Settings::default()).await;
    let (_, tokens) = register(&embedded, "ada@example.com").await;
    clock.advance(AuthSettings::default().access_ttl - TimeDelta::seconds(1));
    embedded
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .expect("valid until its expiry");
    clock.advance(TimeDelta::seconds(1));
    assert!(matches!(
        embedded
            .auth
            .authenticate(tokens.access_token.expose_secret())
            .await,
        Err(AuthenticateError::Rejected(
            auth_domain::auth::TokenRejection::Expired
        ))
    ));
    // The refresh token outlives it and yields a fresh pair.
    let refreshed = embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("refresh succeeds");
    embedded
        .auth
        .authenticate(refreshed.access_token.expose_secret())
        .await
        .expect("the new access token is accepted");
}

#[tokio::test]
async fn a_second_sign_up_with_the_address_is_refused() {
    let (embedded, _clock) = wired(Settings::default()).await;
    register(&embedded, "ada@example.com").await;
    let second = embedded
        .register(RegistrationForm::new(
            "ADA@example.com",
            "another fine passphrase",
        ))
        .await;
    assert!(matches!(
        second,
        Err(RegisterError::Signup(SignupError::EmailTaken))
    ));
}

#[tokio::test]
async fn an_invalid_form_names_every_field_at_fault() {
    let (embedded, _clock) = wired(Settings::default()).await;
    let form = RegistrationForm {
        display_name: Some("line\nbreak".into()),
        ..RegistrationForm::new("not-an-address", "password")
    };
    let Err(RegisterError::Invalid(fields)) = embedded.register(form).await else {
        panic!("the form is invalid");
    };
    let names: Vec<_> = fields.iter().map(|f| f.field).collect();
    assert_eq!(names, ["email", "password", "display_name"]);
}

#[tokio::test]
async fn wrong_passwords_are_counted_and_limited() {
    let settings = Settings {
        limits: LoginLimits {
            max_pair_failures: 2,
            ..LoginLimits::default()
        },
        ..Settings::default()
    };
    let (embedded, clock) = wired(settings).await;
    register(&embedded, "ada@example.com").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        assert!(matches!(
            embedded
                .auth
                .login(login_command(email, "not the password"))
                .await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    for _ in 0..2 {
        let _ = embedded
            .auth
            .login(login_command("ada@example.com", "not the password"))
            .await;
    }
    assert!(matches!(
        embedded
            .auth
            .login(login_command("ada@example.com", PASSWORD))
            .await,
        Err(LoginError::RateLimited { .. })
    ));
    clock.advance(LoginLimits::default().window);
    embedded
        .auth
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("a new window allows the right password");
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let (embedded, _clock) = wired(Settings::default()).await;
    let (user, phone) = register(&embedded, "ada@example.com").await;
    let (_, laptop) = embedded
        .auth
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("log-in succeeds");
    let new_password = auth_domain::user::Password::parse(
        SecretString::from("a brand new passphrase"),
        &auth_domain::user::PasswordPolicy::default(),
        None,
    )
    .expect("valid password");

    assert!(matches!(
        embedded
            .account
            .change_password(
                &user,
                laptop.session_id,
                &ClientInfo::default(),
                &SecretString::from("wrong"),
                &new_password
            )
            .await,
        Err(AccountError::WrongPassword)
    ));
    embedded
        .account
        .change_password(
            &user,
            laptop.session_id,
            &ClientInfo::default(),
            &SecretString::from(PASSWORD),
            &new_password,
        )
        .await
        .expect("password changed");

    assert!(matches!(
        embedded
            .auth
            .authenticate(phone.access_token.expose_secret())
            .await,
        Err(AuthenticateError::SessionInvalid)
    ));
    embedded
        .auth
        .authenticate(laptop.access_token.expose_secret())
        .await
        .expect("the caller's own session stays");
    embedded
        .auth
        .login(login_command("ada@example.com", "a brand new passphrase"))
        .await
        .expect("the new password works");
}

#[tokio::test]
async fn a_deleted_account_takes_its_sessions_along() {
    let (embedded, _clock) = wired(Settings::default()).await;
    let (user, tokens) = register(&embedded, "ada@example.com").await;
    embedded
        .account
        .delete_account(&user, &ClientInfo::default(), &SecretString::from(PASSWORD))
        .await
        .expect("account deleted");
    assert!(matches!(
        embedded
            .auth
            .authenticate(tokens.access_token.expose_secret())
            .await,
        Err(AuthenticateError::SessionInvalid)
    ));
    assert!(matches!(
        embedded
            .sessions
            .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
            .await,
        Err(RefreshError::InvalidToken)
    ));
    // The address is free again.
    register(&embedded, "ada@example.com").await;
}
