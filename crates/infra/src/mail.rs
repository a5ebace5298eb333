//! Mailers: SMTP through lettre, or the log when no SMTP server is set.

use anyhow::Context as _;
use async_trait::async_trait;
use auth_domain::mail::{MailError, Mailer, OutgoingMail};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

/// Writes every message to the log at INFO level (development, and
/// deployments without mail).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            body = %mail.text,
            "mail (no SMTP server configured)"
        );
        Ok(())
    }
}

/// Sends mail through an SMTP server: `smtp://host:port` (plain),
/// `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port` (TLS),
/// with credentials as `user:pass@`.
///
/// Delivery happens in the background: the caller gets an answer at once,
/// whatever the server's latency, so the time a request takes does not tell
/// whether a mail was sent. Failures are logged.
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
        let transport = self.transport.clone();
        tokio::spawn(async move {
            if let Err(error) = transport.send(message).await {
                tracing::error!(error = %error, subject = %mail.subject, "mail delivery failed");
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::user::Email;

    use super::*;

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
