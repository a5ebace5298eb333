//! A minimal SMTP server that keeps every message it receives, so tests can
//! read the mails the application sends through its real SMTP adapter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// The received messages, raw (headers and body).
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A sink on `port` (0: any free port), e.g. a server coming back.
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let sink = Self {
            port: listener.local_addr().expect("addr").port(),
            messages: Arc::default(),
        };
        let messages = sink.messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                messages
                                    .lock()
                                    .expect("lock")
                                    .push(data.take().unwrap_or_default());
                                let _ = write.write_all(b"250 OK\r\n").await;
                            } else {
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn count(&self) -> usize {
        self.messages.lock().expect("lock").len()
    }

    /// Waits for the `n`-th message (1-based) and returns it.
    pub async fn message(&self, n: usize) -> String {
        for _ in 0..200 {
            if let Some(message) = self.messages.lock().expect("lock").get(n - 1) {
                return message.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no message #{n} arrived");
    }
}

/// The `token` query parameter of the first link in a message.
pub fn token_in(message: &str) -> String {
    let start = message.find("token=").expect("a link with token=") + "token=".len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
