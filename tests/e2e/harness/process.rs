//! One service binary as a child process, run the way Kubernetes runs it: `serve`, its whole
//! config in `CRM_*` environment variables, JSON logs on stdout. The harness learns the port
//! it bound (port 0) from its `grpc server listening` log line, waits for grpc.health.v1
//! SERVING, and stops it with SIGTERM (a pod deletion), or `kill -9` (a node loss), and
//! restarts it on the same database and port (a pod restart behind a stable Service address).
//! Every wait has a timeout. The child is killed when the handle is dropped, so a test that
//! ends or panics leaves nothing running; on a panic its log is printed.
use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// From spawn to SERVING: binding, migrating a fresh database, the first readiness check.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd process may drain before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Log lines printed per process when a test fails (the end is where the failure is).
const PRINTED_LINES: usize = 300;
/// Inherited variables that would change what the child runs with; the harness sets its own.
const INHERITED_CONFIG: [&str; 3] = ["CRM_", "OTEL_", "RUST_LOG"];

type Log = Arc<Mutex<Vec<String>>>;

pub struct Process {
    /// Names the process in its log, e.g. `loyalty` (`loyalty-2` for a second replica).
    label: String,
    program: PathBuf,
    env: Vec<(String, String)>,
    /// `None` while stopped.
    child: Option<Child>,
    /// Both streams of every run, in arrival order per stream.
    log: Log,
    addr: SocketAddr,
}

impl Process {
    /// Starts `program serve` with `env` on port 0 and waits until it is SERVING.
    pub async fn start(
        label: impl Into<String>,
        program: impl Into<PathBuf>,
        env: Vec<(String, String)>,
    ) -> Process {
        let mut p = Process {
            label: label.into(),
            program: program.into(),
            env,
            child: None,
            log: Log::default(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        p.launch(0).await;
        p
    }

    /// `http://127.0.0.1:{port}`, for clients and for other services' `CRM_CLIENTS__*_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGTERM, then SIGKILL if it has not exited within [`STOP_GRACE`]. Returns how it
    /// exited after the SIGTERM (`None`: it had to be killed, or was not running).
    pub async fn stop(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "{}: kill -TERM {pid} failed",
            self.label
        );
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                self.note(&format!("exited after SIGTERM: {status}"));
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.note("still running after the SIGTERM grace");
        self.kill();
        None
    }

    /// `kill -9`: no drain, no shutdown hooks; in-flight calls and transactions are cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.note("killed (SIGKILL)");
        }
    }

    /// Starts it again after [`stop`](Self::stop) or [`kill`](Self::kill): same program,
    /// config and storage, on the same port (so the URLs other services were given still
    /// work), and waits until it is SERVING.
    pub async fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "{}: restart while running",
            self.label
        );
        self.launch(self.addr.port()).await;
    }

    async fn launch(&mut self, port: u16) {
        let mut cmd = Command::new(&self.program);
        cmd.arg("serve");
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if INHERITED_CONFIG.iter().any(|p| key.starts_with(p)) {
                cmd.env_remove(&*key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("CRM_SERVER__PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start {:?}: {e}", self.label, self.program));
        self.note(&format!("started, pid {}", child.id()));
        let (listening, bound) = tokio::sync::oneshot::channel();
        if let Some(out) = child.stdout.take() {
            pump(out, self.log.clone(), Some(listening));
        }
        if let Some(err) = child.stderr.take() {
            pump(err, self.log.clone(), None);
        }
        self.child = Some(child);
        self.addr = match tokio::time::timeout(START_TIMEOUT, bound).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => self.fail("exited before it was listening"),
            Err(_) => self.fail("logged no `grpc server listening` in time"),
        };
        self.wait_serving().await;
    }

    /// Polls grpc.health.v1 (the whole server) until SERVING.
    async fn wait_serving(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = self.addr.to_string();
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                self.fail(&format!("exited before SERVING: {status}"));
            }
            let check = crm_platform::cli::healthcheck(&addr, "", Duration::from_secs(1)).await;
            match check {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => self.fail(&format!("not SERVING in time: {e:#}")),
            }
        }
    }

    /// Panics; the drop that follows prints the log.
    fn fail(&self, why: &str) -> ! {
        panic!("{} ({}): {why}", self.label, self.program.display())
    }

    fn note(&self, what: &str) {
        lock(&self.log).push(format!("--- {}: {what} ---", self.label));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = lock(&self.log);
            let from = log.len().saturating_sub(PRINTED_LINES);
            eprintln!(
                "\n===== log of {} (last {} of {} lines) =====",
                self.label,
                log.len() - from,
                log.len()
            );
            for line in &log[from..] {
                eprintln!("[{}] {line}", self.label);
            }
        }
    }
}

fn lock(log: &Log) -> std::sync::MutexGuard<'_, Vec<String>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Copies `stream` into `log` line by line until the process closes it; the first
/// `grpc server listening` line answers `listening`.
fn pump(
    stream: impl Read + Send + 'static,
    log: Log,
    mut listening: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
            buf.clear();
            if let Some(addr) = listening_addr(&line)
                && let Some(tx) = listening.take()
            {
                let _ = tx.send(addr);
            }
            lock(&log).push(line);
        }
    });
}

/// The `addr` of the server's JSON `grpc server listening` event (see
/// `crm_platform::server::serve`); other lines, JSON or not, are `None`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = event.get("fields")?;
    if fields.get("message")?.as_str()? != "grpc server listening" {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_address_is_read_from_the_json_log() {
        let line = r#"{"timestamp":"2026-12-01T12:00:00.000000Z","level":"INFO","fields":{"message":"grpc server listening","addr":"127.0.0.1:40123","services":"[\"crm.loyalty.v1.LoyaltyService\"]"},"target":"crm_platform::server"}"#;
        assert_eq!(
            listening_addr(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        let other = line.replace("grpc server listening", "ready");
        assert_eq!(listening_addr(&other), None);
        assert_eq!(
            listening_addr("CRM suite listening on 127.0.0.1:40123"),
            None
        );
    }
}
