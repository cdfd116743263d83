//! A real SMTP server for the mail tests: nodemailer's `smtp-server` npm
//! package (`tests/smtp-server/`) in its own process, saving every message
//! it receives into a [`Mailbox`]. Tests stop it, restart it on the same
//! port or make it hold messages, to see what the outbox delivers and how
//! it retries. Needs Node.js; installs the server's packages (`npm ci`) on
//! first use.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

/// How long the server may take to print its port.
const START_TIMEOUT: Duration = Duration::from_secs(20);

fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp-server")
}

/// `npm ci` once per checkout. Tests run in parallel: the first one
/// installs, the others wait for it and share its outcome.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = INSTALLED.get_or_init(install) {
        panic!("{e}");
    }
}

fn install() -> Result<(), String> {
    let dir = server_dir();
    let modules = dir.join("node_modules");
    if ["smtp-server", "mailparser"]
        .into_iter()
        .all(|package| modules.join(package).join("package.json").exists())
    {
        return Ok(());
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("npm (Node.js 20) is needed for the mail tests: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm ci in tests/smtp-server failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// What the server does once it has saved a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers 250: the sender learns the message was delivered.
    Normal,
    /// Never answers the end of DATA: the message is saved but the sender
    /// does not learn it, so a test can kill the sender in between.
    Hold,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Hold => "hold",
        }
    }
}

/// The directory the server saves messages to: `<n>.eml` (the data as
/// received) and `<n>.json` (envelope and decoded parts), numbered in
/// arrival order. Clones share it and it goes with the last one, so it
/// outlives server restarts.
#[derive(Clone)]
pub struct Mailbox {
    dir: Arc<TempDir>,
}

/// One received message, decoded by the server (mailparser):
/// quoted-printable, base64, encoded words and multipart/alternative.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The envelope's recipients (RCPT TO), not the `To` header.
    pub to: Vec<String>,
    pub subject: String,
    /// The text/plain part; empty when there is none.
    pub text: String,
    /// The text/html part.
    pub html: Option<String>,
    /// The message data as received (RFC 5322: headers and MIME body).
    pub raw: String,
}

/// The part of `<n>.json` read here (it holds more: `from`, `user`,
/// `headerFrom`, `headerTo`, `messageId`).
#[derive(Deserialize)]
struct Sidecar {
    to: Vec<String>,
    subject: String,
    text: String,
    html: Option<String>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::new()
    }
}

impl Mailbox {
    pub fn new() -> Mailbox {
        Mailbox {
            dir: Arc::new(tempfile::tempdir().expect("a temporary directory for the mailbox")),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every message received so far, in arrival order. The server writes
    /// `<n>.json` last and both files by rename, so a message listed here is
    /// complete.
    pub fn messages(&self) -> Vec<Mail> {
        let mut numbers: Vec<u64> = fs::read_dir(self.path())
            .expect("read the mailbox directory")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        numbers.into_iter().map(|n| self.read(n)).collect()
    }

    fn read(&self, n: u64) -> Mail {
        let json = self.path().join(format!("{n}.json"));
        let sidecar: Sidecar = serde_json::from_slice(&fs::read(&json).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", json.display()));
        let raw = fs::read(self.path().join(format!("{n}.eml"))).unwrap();
        Mail {
            to: sidecar.to,
            subject: sidecar.subject,
            text: sidecar.text,
            html: sidecar.html,
            raw: String::from_utf8_lossy(&raw).into_owned(),
        }
    }

    /// At least `n` messages, polling every 50 ms; panics with the messages
    /// seen so far after `timeout`. It blocks the thread: the sender must
    /// not need this thread (or its runtime) to make progress.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                let seen: String = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("\n--- message {}, to {:?}:\n{}", i + 1, m.to, m.raw))
                    .collect();
                panic!(
                    "expected {n} messages within {timeout:?}, got {}:{seen}",
                    messages.len()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The messages with `address` among their envelope recipients (the
    /// address compared without regard to ASCII case).
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect()
    }
}

impl Mail {
    /// The first `http(s)://…#token=…` URL in the text part: the link a
    /// user would follow, with trailing sentence punctuation left out.
    pub fn link(&self) -> Option<String> {
        self.text
            .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '(' | ')'))
            .filter_map(|word| {
                let start = word.find("https://").or_else(|| word.find("http://"))?;
                Some(word[start..].trim_end_matches(['.', ',', ';', ':', '!', '?']))
            })
            .find(|url| url.contains("#token="))
            .map(str::to_string)
    }
}

/// What the server prints once it listens.
#[derive(Deserialize)]
struct Ready {
    port: u16,
}

/// The server process. It exits when its stdin (a pipe held here) closes,
/// so a test that panics or dies leaves no server behind; `Drop` kills it
/// as well.
pub struct SmtpServer {
    child: Option<Child>,
    port: u16,
    mailbox: Mailbox,
}

impl SmtpServer {
    /// On a free port, into a new mailbox, accepting everything.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(&Mailbox::new(), None, Mode::Normal)
    }

    /// On `port` (a free one for `None`), saving into `mailbox`. After
    /// `stop`, `start_with(server.mailbox(), Some(server.port()), mode)`
    /// brings the same server back, as a restarted mail host would be.
    pub fn start_with(mailbox: &Mailbox, port: Option<u16>, mode: Mode) -> SmtpServer {
        ensure_installed();
        let mut child = Command::new("node")
            .arg(server_dir().join("server.mjs"))
            .arg("--port")
            .arg(port.unwrap_or(0).to_string())
            .args(["--mode", mode.arg(), "--dir"])
            .arg(mailbox.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Quiet unless something goes wrong: then it shows in the test's output.
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("node (Node.js 20) is needed for the mail tests: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (ready, started) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = ready.send(line);
            // Keep reading what it prints later (a closed pipe would kill it).
            std::io::copy(&mut stdout, &mut std::io::sink())
        });
        let line = started.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let Ok(ready) = serde_json::from_str::<Ready>(&line) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smtp-server did not start ({port:?}, {mode:?}): {line:?}, see its stderr");
        };
        SmtpServer {
            child: Some(child),
            port: ready.port,
            mailbox: mailbox.clone(),
        }
    }

    /// Kills the server and waits for it to be gone; connected clients see
    /// the connection drop. The port and the mailbox stay for a restart.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, no STARTTLS offered.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
