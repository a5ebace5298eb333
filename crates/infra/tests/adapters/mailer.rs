//! `SmtpMailer` against a minimal in-test SMTP server, and `LogMailer`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_domain::common::TokenHash;
use auth_domain::mail::{Mailer as _, OutgoingMail};
use auth_domain::user::Email;
use auth_infra::mail::{LogMailer, SmtpMailer};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const FROM: &str = "Auth <no-reply@auth.test>";

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
struct Received {
    /// The `MAIL FROM` command line.
    mail_from: String,
    /// The `RCPT TO` command lines.
    rcpt_to: Vec<String>,
    /// The message lines, dot-unstuffed, without line endings.
    lines: Vec<String>,
}

impl Received {
    /// The header lines (before the first empty line).
    fn headers(&self) -> &[String] {
        let end = self
            .lines
            .iter()
            .position(String::is_empty)
            .unwrap_or(self.lines.len());
        &self.lines[..end]
    }

    /// The body lines (after the first empty line).
    fn body(&self) -> &[String] {
        let start = self.headers().len();
        self.lines.get(start + 1..).unwrap_or_default()
    }

    fn has_header(&self, line: &str) -> bool {
        self.headers().iter().any(|h| h == line)
    }
}

/// A plain SMTP server on 127.0.0.1 that accepts everything and keeps what
/// it receives.
struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    accept: JoinHandle<()>,
}

impl SmtpSink {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("local address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    if let Err(error) = serve(stream, store).await {
                        eprintln!("SMTP sink connection failed: {error}");
                    }
                });
            }
        });
        Self {
            port,
            received,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received, once there are `n` of them; panics after a
    /// few seconds (delivery runs in the background).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..100 {
            {
                let received = self.received.lock().expect("lock");
                if received.len() >= n {
                    return received.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMTP sink did not receive {n} message(s) within 5 s");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One line without its line ending; `None` at the end of the stream.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<String>> {
    let mut raw = Vec::new();
    if reader.read_until(b'\n', &mut raw).await? == 0 {
        return Ok(None);
    }
    while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        raw.pop();
    }
    Ok(Some(String::from_utf8_lossy(&raw).into_owned()))
}

/// Answers one client: every command is accepted.
async fn serve(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut current = Received::default();
    while let Some(line) = read_line(&mut reader).await? {
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-x\r\n250 8BITMIME\r\n").await?,
            "MAIL" => {
                current = Received {
                    mail_from: line,
                    ..Received::default()
                };
                write.write_all(b"250 OK\r\n").await?;
            }
            "RCPT" => {
                current.rcpt_to.push(line);
                write.write_all(b"250 OK\r\n").await?;
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                loop {
                    let Some(data) = read_line(&mut reader).await? else {
                        return Ok(());
                    };
                    if data == "." {
                        break;
                    }
                    let unstuffed = data.strip_prefix('.').unwrap_or(&data).to_owned();
                    current.lines.push(unstuffed);
                }
                store
                    .lock()
                    .expect("lock")
                    .push(std::mem::take(&mut current));
                write.write_all(b"250 queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
    Ok(())
}

fn mail(to: &str, subject: &str, text: String) -> OutgoingMail {
    OutgoingMail {
        to: Email::parse(to).expect("valid e-mail address"),
        subject: subject.to_owned(),
        text,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_delivers_a_long_link_on_one_line() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::new(&sink.url(), FROM).expect("a valid mailer");
    let token = TokenHash::of("a reset token").as_str().to_owned();
    assert_eq!(token.len(), 43);
    let link_line =
        format!("To choose a new password, open this link: https://x.test/reset?token={token}");
    assert!(link_line.len() > 78, "long enough to be folded if encoded");
    let text = format!(
        "Hello,\n\n{link_line}\n\nIt works for one hour. If you did not ask, ignore this mail.\n"
    );

    mailer
        .send(mail("ada@example.com", "Reset your password", text))
        .await
        .expect("the message is handed over");

    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert!(
        message.mail_from.contains("<no-reply@auth.test>"),
        "{}",
        message.mail_from
    );
    assert_eq!(message.rcpt_to.len(), 1);
    assert!(
        message.rcpt_to[0].contains("<ada@example.com>"),
        "{:?}",
        message.rcpt_to
    );
    for header in [
        "From: Auth <no-reply@auth.test>",
        "To: ada@example.com",
        "Subject: Reset your password",
        "Content-Transfer-Encoding: 7bit",
    ] {
        assert!(
            message.has_header(header),
            "{header:?} missing in {:#?}",
            message.headers()
        );
    }
    let body = message.body();
    assert!(
        body.contains(&link_line),
        "the link is not on one line: {body:#?}"
    );
    assert!(
        body.iter().all(|line| !line.ends_with('=')),
        "soft line breaks: {body:#?}"
    );
    assert!(body.iter().all(|line| !line.contains("=3D")), "{body:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_delivers_a_non_ascii_body() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::new(&sink.url(), FROM).expect("a valid mailer");
    let text = "Hallo Jürgen,\n\nbitte bestätige deine Adresse: https://x.test/verify?token=abc\n"
        .to_owned();

    mailer
        .send(mail("jurgen@example.com", "Confirm your address", text))
        .await
        .expect("the message is handed over");

    let received = sink.wait_for(1).await;
    let message = &received[0];
    assert!(message.has_header("To: jurgen@example.com"));
    assert!(message.has_header("Subject: Confirm your address"));
    assert!(message.has_header("Content-Transfer-Encoding: 8bit"));
    let body = message.body();
    assert!(body.iter().any(|line| line == "Hallo Jürgen,"), "{body:#?}");
    assert!(
        body.iter()
            .any(|line| line == "bitte bestätige deine Adresse: https://x.test/verify?token=abc"),
        "{body:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_encodes_a_line_too_long_for_smtp() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::new(&sink.url(), FROM).expect("a valid mailer");
    let long_line = "x".repeat(1_200);

    mailer
        .send(mail("ada@example.com", "Long", format!("{long_line}\n")))
        .await
        .expect("the message is handed over");

    let received = sink.wait_for(1).await;
    let message = &received[0];
    assert!(
        message.has_header("Content-Transfer-Encoding: quoted-printable")
            || message.has_header("Content-Transfer-Encoding: base64"),
        "{:#?}",
        message.headers()
    );
    assert!(message.lines.iter().all(|line| line.len() <= 998));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sends_several_messages() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::new(&sink.url(), FROM).expect("a valid mailer");
    for n in 0..3 {
        mailer
            .send(mail(
                &format!("user{n}@example.com"),
                &format!("Message {n}"),
                format!("Body {n}\n"),
            ))
            .await
            .expect("the message is handed over");
    }

    let received = sink.wait_for(3).await;
    for n in 0..3 {
        let subject = format!("Subject: Message {n}");
        let message = received
            .iter()
            .find(|m| m.has_header(&subject))
            .unwrap_or_else(|| panic!("message {n} missing"));
        assert!(message.has_header(&format!("To: user{n}@example.com")));
        let text: Vec<&String> = message.body().iter().filter(|l| !l.is_empty()).collect();
        assert_eq!(text, [&format!("Body {n}")]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_reported_for_a_retry() {
    // A port nobody listens on any more.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("local address").port()
    };
    let mailer =
        SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), FROM).expect("a valid mailer");
    // The outbox worker retries what fails; requests never wait for this.
    mailer
        .send(mail("ada@example.com", "Hello", "Hi.\n".to_owned()))
        .await
        .expect_err("an undelivered message is an error");
}

#[tokio::test]
async fn smtp_mailer_refuses_a_malformed_url_or_sender() {
    for url in [
        "not a url",
        "",
        "ftp://127.0.0.1:25",
        "smtp://127.0.0.1:25?tls=sometimes",
    ] {
        assert!(SmtpMailer::new(url, FROM).is_err(), "{url:?}");
    }
    for from in [
        "",
        "not an address",
        "Auth <no-reply>",
        "Auth no-reply@auth.test>",
    ] {
        assert!(
            SmtpMailer::new("smtp://127.0.0.1:25", from).is_err(),
            "{from:?}"
        );
    }
    for from in [
        FROM,
        "no-reply@auth.test",
        "\"Auth, Inc.\" <no-reply@auth.test>",
    ] {
        assert!(
            SmtpMailer::new("smtp://127.0.0.1:25", from).is_ok(),
            "{from:?}"
        );
    }
}

#[tokio::test]
async fn log_mailer_accepts_everything() {
    LogMailer::new(false)
        .send(mail("ada@example.com", "Hello", "Jürgen\n".to_owned()))
        .await
        .expect("logged");
}
