//! A Redis of one fault test (`redis-server` as a child process on a free port), which the
//! test may stop and start again; the shared test Redis is never stopped.
//!
//! It keeps an append-only file fsynced on every write in its own directory: a production
//! Redis carrying the event streams runs with persistence (see `crm_platform::events`),
//! so what it acknowledged (XADD, XACK, consumer groups) survives a `kill -9` and a restart,
//! and a lost event is the backbone's fault, not the test Redis's.
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// From spawn to answering PING (an AOF of a few thousand entries loads in milliseconds).
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PrivateRedis {
    port: u16,
    dir: PathBuf,
    /// `None` while stopped.
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port with its files in `dir`.
    pub fn start(dir: &Path) -> PrivateRedis {
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir).expect("create the redis dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = PrivateRedis {
            port,
            dir,
            child: None,
        };
        redis.launch();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `kill -9`: clients' connections are cut and new ones are refused until
    /// [`start_again`](Self::start_again).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and files (its append-only file restores the
    /// streams and groups); returns once it answers PING.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis: start_again while running");
        self.launch();
    }

    fn launch(&mut self) {
        // The same override as scripts/test-servers.sh (it reads it before the harness
        // drops CRM_* from the children's environment).
        let program = std::env::var("CRM_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&program)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program} (CRM_REDIS_SERVER, else on PATH; the fault tests start their own Redis): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.answers_ping() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} not answering in time",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 5];
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG"
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
