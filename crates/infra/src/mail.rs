//! Mailers: SMTP through lettre, or the log when no SMTP server is set.

use std::borrow::Cow;

use anyhow::Context as _;
use async_trait::async_trait;
use auth_domain::mail::{MailError, Mailer, OutgoingMail};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

/// Writes every message to the log at INFO level (development, and
/// deployments without mail).
///
/// With `redact_tokens`, the token of each link (`token=<TOKEN>`) is
/// written as `[redacted]`: logs reach more people and systems than a
/// mailbox, and a reset link read there takes over the account. The
/// composition root redacts everywhere but in development, where the link
/// in the log is how one signs up.
#[derive(Debug, Clone, Copy)]
pub struct LogMailer {
    redact_tokens: bool,
}

impl LogMailer {
    /// A mailer that logs, redacting tokens when `redact_tokens` is set.
    #[must_use]
    pub fn new(redact_tokens: bool) -> Self {
        Self { redact_tokens }
    }

    /// The text as it goes into the log.
    fn loggable<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.redact_tokens {
            Cow::Owned(redact_tokens(text))
        } else {
            Cow::Borrowed(text)
        }
    }
}

/// What replaces a token in the log.
const REDACTED: &str = "[redacted]";

/// `text` with the value of every `token=` parameter (URL-safe characters,
/// `[A-Za-z0-9_-]`, as the tokens are) replaced by [`REDACTED`].
fn redact_tokens(text: &str) -> String {
    const KEY: &str = "token=";
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        redacted.push_str(before);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        if end > 0 {
            redacted.push_str(REDACTED);
        }
        rest = &after[end..];
    }
    redacted.push_str(rest);
    redacted
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            body = %self.loggable(&mail.text),
            "mail (no SMTP server configured)"
        );
        Ok(())
    }
}

/// Sends mail through an SMTP server: `smtp://host:port` (plain),
/// `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port` (TLS),
/// with credentials as `user:pass@`.
///
/// `send` returns once the server accepted the message, and fails when it
/// did not: the outbox worker ([`crate::outbox`]) calls it and retries, and
/// requests only queue their mail, so the time a request takes does not
/// tell whether a mail was sent.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Checks that `url` is an SMTP URL a mailer can be built for (a host,
    /// a known `tls` value), without connecting.
    ///
    /// # Errors
    /// The reason it is not.
    pub fn check_url(url: &str) -> Result<(), String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(drop)
            .map_err(|error| error.to_string())
    }

    /// A mailer for `url`, sending as `from`.
    ///
    /// # Errors
    /// When the URL or the sender address is malformed.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("invalid AUTH__MAIL__SMTP_URL")?
            .build();
        let from = from.parse().context("invalid AUTH__MAIL__FROM")?;
        Ok(Self { transport, from })
    }

    fn message(&self, mail: &OutgoingMail) -> anyhow::Result<Message> {
        let body = plain_body(&mail.text);
        Message::builder()
            .from(self.from.clone())
            .to(mail.to.as_str().parse().context("invalid recipient")?)
            .subject(mail.subject.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .context("could not build the message")
    }
}

/// The longest line RFC 5322 allows, in octets, without its CRLF.
const MAX_LINE_OCTETS: usize = 998;

/// The body as 7bit (or 8bit for non-ASCII) text, which keeps a link on one
/// line, readable as is in the raw message; quoted-printable would fold it.
///
/// `Body::new_with_encoding` refuses 7bit and 8bit for any line of 76
/// characters or more, stricter than RFC 5322: a sentence or a long link
/// would make every message fail. So the CRLF-normalised text goes in as
/// is when each line fits the RFC's 998 octets, and lettre picks
/// quoted-printable or base64 only for text that does not.
fn plain_body(text: &str) -> Body {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let sendable_as_is = lines
        .iter()
        .all(|line| line.len() <= MAX_LINE_OCTETS && !line.contains(['\r', '\0']));
    if !sendable_as_is {
        return Body::new(text.to_owned());
    }
    let encoding = if text.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Body::dangerous_pre_encoded(lines.join("\r\n").into_bytes(), encoding)
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = self.message(&mail).map_err(MailError)?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server did not take the message")
            .map_err(MailError)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::user::Email;

    use super::*;

    #[test]
    fn log_mailer_redacts_link_tokens_when_asked() {
        let text = "Reset your password:\n\
                    https://app.test/reset?token=hT3_x-9Q&lang=en\n\
                    or https://app.test/verify?a=1&token=Zz09_-\n";
        let redacted = LogMailer::new(true).loggable(text);
        assert_eq!(
            redacted,
            "Reset your password:\n\
             https://app.test/reset?token=[redacted]&lang=en\n\
             or https://app.test/verify?a=1&token=[redacted]\n"
        );
        assert!(!redacted.contains("hT3_x-9Q") && !redacted.contains("Zz09_-"));
        assert_eq!(LogMailer::new(false).loggable(text), text);
        for untouched in ["no link here", "token= alone", "ends with token="] {
            assert_eq!(LogMailer::new(true).loggable(untouched), untouched);
        }
    }

    #[tokio::test]
    async fn builds_a_plain_text_message() {
        let mailer =
            SmtpMailer::new("smtp://127.0.0.1:2525", "Auth <no-reply@auth.test>").expect("mailer");
        let mail = OutgoingMail {
            to: Email::parse("m@example.com").expect("email"),
            subject: "Reset your password".into(),
            text: "Open https://x.test/reset?token=abc\n".into(),
        };
        let message = mailer.message(&mail).expect("message");
        let raw = String::from_utf8(message.formatted()).expect("utf-8");
        assert!(raw.contains("https://x.test/reset?token=abc"), "{raw}");
    }
}
