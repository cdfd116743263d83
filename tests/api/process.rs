//! Real `latchkey serve` processes for the multi-node and crash tests,
//! driven over HTTP with a blocking client.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A server process; killed (SIGKILL) when dropped.
pub struct Server {
    pub base: String,
    child: Child,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts `latchkey serve` without waiting for it.
    pub fn spawn(database_url: &str, master_key: &str, data_dir: &std::path::Path) -> Server {
        Self::spawn_with_env(database_url, master_key, data_dir, &[])
    }

    /// [`Server::spawn`] with more environment variables.
    pub fn spawn_with_env(
        database_url: &str,
        master_key: &str,
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("serve")
            .envs(env.iter().copied())
            .env("DATABASE_URL", database_url)
            .env("LATCHKEY_MASTER_KEY", master_key)
            .env("LATCHKEY_DATA_DIR", data_dir)
            .env("LATCHKEY_BIND", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_IP_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn latchkey");
        Server {
            base: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// Waits until `/readyz` answers 200 (up to 60 s).
    pub fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("latchkey exited during start-up: {status}");
            }
            if ureq::get(&format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("latchkey did not become ready");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A request; returns (status, JSON body or Null).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(30));
        if let Some(token) = token {
            req = req.set("authorization", &format!("Bearer {token}"));
        }
        let result = match body {
            Some(body) => req.send_json(body),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return (0, Value::String(e.to_string())),
        };
        let status = response.status();
        let text = response.into_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call("POST", path, token, Some(body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Current TOTP code (plus `offset` steps) for a base32 secret, real time.
pub fn code_now(secret_b32: &str, offset: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    latchkey::crypto::totp::code_for_step(&secret, latchkey::crypto::totp::step_at(now) + offset)
}
