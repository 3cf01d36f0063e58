//! The senders against real receivers: a hyper HTTP server started here on port 0 (webhook),
//! an appended file (file), and a real SMTP server, Python's aiosmtpd, started here on a free
//! port (smtp). Without aiosmtpd (`make tools` installs it into .tools/venv) the SMTP tests
//! print SKIPPED; with CI=true they fail instead.
use bytes::Bytes;
use crm_campaigns::senders::{OutboundMessage, SendError, Sender};
use crm_campaigns::settings::{SenderSettings, Settings};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt as _, Full};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use uuid::Uuid;

const SECRET: &str = "webhook-test-secret";

fn settings() -> SenderSettings {
    Settings::load(None).expect("defaults").campaigns.sender
}

fn message(to: &str) -> OutboundMessage {
    let campaign = Uuid::now_v7();
    let customer = Uuid::now_v7();
    OutboundMessage {
        delivery_id: Uuid::now_v7(),
        delivery: format!("campaigns/{campaign}/deliveries/{customer}"),
        campaign: format!("campaigns/{campaign}"),
        customer: format!("customers/{customer}"),
        channel: "email".into(),
        variant: "a".into(),
        to: to.into(),
        subject: "Spring sale".into(),
        body: "Hi Wei, 20% off with SPRING-10".into(),
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crm-senders-{what}-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write_pem(dir: &Path, name: &str, label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let pem = format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    );
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write pem");
    path.to_string_lossy().into_owned()
}

// ---- webhook ------------------------------------------------------------------------------

/// One request the test server received.
struct Seen {
    path: String,
    headers: http::HeaderMap,
    body: Bytes,
}

/// A real HTTP/1.1 server on 127.0.0.1:0 answering by path: /ok 200, /fail 500, /busy 429,
/// /bad 400, /hang never (within the tests' timeouts).
async fn webhook_server() -> (String, mpsc::UnboundedReceiver<Seen>) {
    serve(None).await
}

/// The same server behind TLS (a certificate for localhost from `ca`): `https://localhost:<port>`.
async fn https_webhook_server(ca: &TestCa) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (base, rx) = serve(Some(ca.server_acceptor())).await;
    (base.replace("http://127.0.0.1", "https://localhost"), rx)
}

async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (tx, tls) = (tx.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => answer(hyper_util::rt::TokioIo::new(tcp), tx).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            answer(hyper_util::rt::TokioIo::new(stream), tx).await;
                        }
                    }
                }
            });
        }
    });
    (base, rx)
}

async fn answer<I>(io: I, tx: mpsc::UnboundedSender<Seen>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let tx = tx.clone();
        async move {
            let path = req.uri().path().to_owned();
            let headers = req.headers().clone();
            let body = req.into_body().collect().await?.to_bytes();
            let status = match path.as_str() {
                "/ok" => 200,
                "/fail" => 500,
                "/busy" => 429,
                "/bad" => 400,
                _ => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    200
                }
            };
            tx.send(Seen {
                path,
                headers,
                body,
            })
            .ok();
            let mut resp = http::Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = http::StatusCode::from_u16(status).expect("status");
            Ok::<_, hyper::Error>(resp)
        }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
        .ok();
}

/// A CA made for the test and a localhost server certificate it issued.
struct TestCa {
    ca_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl TestCa {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        let key = KeyPair::generate().expect("key");
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        Self {
            ca_der: issuer.der().to_vec(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: key.serialize_der(),
        }
    }

    /// The CA as a PEM file in `dir`.
    fn write_ca(&self, dir: &Path) -> String {
        write_pem(dir, "ca.pem", "CERTIFICATE", &self.ca_der)
    }

    /// The server's certificate and key as PEM files in `dir`.
    fn write_server(&self, dir: &Path) -> (String, String) {
        (
            write_pem(dir, "server.pem", "CERTIFICATE", &self.leaf_der),
            write_pem(dir, "server.key", "PRIVATE KEY", &self.leaf_key_der),
        )
    }

    fn server_acceptor(&self) -> tokio_rustls::TlsAcceptor {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.leaf_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone())),
            )
            .expect("server cert");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
    }
}

fn webhook(url: &str) -> Sender {
    let mut s = settings();
    s.kind = "webhook".into();
    s.webhook_url = url.into();
    s.webhook_secret = SECRET.into();
    s.timeout_ms = 2000;
    Sender::from_settings(&s).expect("webhook sender")
}

/// Checks `X-CRM-Signature` independently: t within a minute, v1 = HMAC-SHA256("<t>.<body>").
fn verify_signature(header: &str, body: &[u8], secret: &[u8]) {
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature header {header:?}"));
    let t: i64 = t.parse().expect("unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "fresh timestamp"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "signature");
}

#[tokio::test]
async fn webhook_posts_the_signed_message_with_its_idempotency_key() {
    let (base, mut seen) = webhook_server().await;
    let m = message("Li Wei");
    webhook(&format!("{base}/ok")).send(&m).await.expect("sent");
    let got = seen.recv().await.expect("a request");
    assert_eq!(got.path, "/ok");
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(got.headers["idempotency-key"], m.delivery_id.to_string());
    let sent: OutboundMessage = serde_json::from_slice(&got.body).expect("json body");
    assert_eq!(sent, m);
    let signature = got.headers["x-crm-signature"].to_str().expect("ascii");
    verify_signature(signature, &got.body, SECRET.as_bytes());
    // A tampered body does not verify.
    let tampered = std::panic::catch_unwind(|| {
        verify_signature(signature, b"{\"to\":\"someone else\"}", SECRET.as_bytes())
    });
    assert!(tampered.is_err(), "the signature covers the body");
}

#[tokio::test]
async fn webhook_over_https_trusts_the_configured_ca_only() {
    let ca = TestCa::new();
    let (base, mut seen) = https_webhook_server(&ca).await;
    let dir = temp_dir("https");
    let mut s = settings();
    s.kind = "webhook".into();
    s.webhook_url = format!("{base}/ok");
    s.webhook_secret = SECRET.into();
    s.timeout_ms = 5000;
    // The public roots do not know the test CA: the handshake fails (retryable, like any
    // connection failure).
    let untrusted = Sender::from_settings(&s).expect("sender");
    let got = untrusted.send(&message("x")).await;
    assert!(
        matches!(&got, Err(SendError::Retryable(why)) if why.contains("tls")),
        "{got:?}"
    );
    s.webhook_ca_file = ca.write_ca(&dir);
    let m = message("Li Wei");
    Sender::from_settings(&s)
        .expect("sender")
        .send(&m)
        .await
        .expect("sent over https");
    let got = seen.recv().await.expect("request");
    assert_eq!(got.headers["idempotency-key"], m.delivery_id.to_string());
    let signature = got.headers["x-crm-signature"].to_str().expect("ascii");
    verify_signature(signature, &got.body, SECRET.as_bytes());
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn webhook_secret_comes_from_a_file() {
    let (base, mut seen) = webhook_server().await;
    let dir = temp_dir("secret");
    let file = dir.join("secret");
    std::fs::write(&file, "from-the-file\n").expect("write");
    let mut s = settings();
    s.kind = "webhook".into();
    s.webhook_url = format!("{base}/ok");
    s.webhook_secret = "inline-ignored".into();
    s.webhook_secret_file = file.to_string_lossy().into_owned();
    let sender = Sender::from_settings(&s).expect("sender");
    sender.send(&message("x")).await.expect("sent");
    let got = seen.recv().await.expect("request");
    let signature = got.headers["x-crm-signature"].to_str().expect("ascii");
    verify_signature(signature, &got.body, b"from-the-file");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn webhook_answers_are_classified() {
    let (base, mut seen) = webhook_server().await;
    let m = message("x");
    for (path, retryable) in [("/fail", true), ("/busy", true), ("/bad", false)] {
        let got = webhook(&format!("{base}{path}")).send(&m).await;
        match (got, retryable) {
            (Err(SendError::Retryable(why)), true) | (Err(SendError::Permanent(why)), false) => {
                assert!(why.contains("answered"), "{path}: {why}");
            }
            (other, _) => panic!("{path}: {other:?}"),
        }
        assert_eq!(seen.recv().await.expect("request").path, path);
    }
}

#[tokio::test]
async fn a_hanging_webhook_is_retryable_after_the_timeout() {
    let (base, _seen) = webhook_server().await;
    let mut s = settings();
    s.kind = "webhook".into();
    s.webhook_url = format!("{base}/hang");
    s.webhook_secret = SECRET.into();
    s.timeout_ms = 300;
    let sender = Sender::from_settings(&s).expect("sender");
    let started = Instant::now();
    let got = sender.send(&message("x")).await;
    let took = started.elapsed();
    assert!(matches!(got, Err(SendError::Retryable(_))), "{got:?}");
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "bounded by timeout_ms: {took:?}"
    );
}

#[tokio::test]
async fn an_unreachable_webhook_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let got = webhook(&format!("http://{addr}/ok"))
        .send(&message("x"))
        .await;
    assert!(matches!(got, Err(SendError::Retryable(_))), "{got:?}");
}

#[test]
fn webhook_settings_are_checked_at_start() {
    let mut s = settings();
    s.kind = "webhook".into();
    s.webhook_url = "ftp://example.com/x".into();
    s.webhook_secret = SECRET.into();
    assert!(Sender::from_settings(&s).is_err(), "scheme");
    s.webhook_url = "https://example.com/hook".into();
    s.webhook_secret = String::new();
    assert!(Sender::from_settings(&s).is_err(), "unsigned");
    s.webhook_secret = SECRET.into();
    assert!(
        Sender::from_settings(&s).is_ok(),
        "https with the webpki roots"
    );
}

// ---- file ---------------------------------------------------------------------------------

#[tokio::test]
async fn file_sender_appends_json_lines_from_concurrent_sends() {
    let dir = temp_dir("file");
    let path = dir.join("messages.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").expect("an earlier line");
    let mut s = settings();
    s.kind = "file".into();
    s.file_path = path.to_string_lossy().into_owned();
    let sender = Sender::from_settings(&s).expect("file sender");
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = Vec::new();
    for i in 0..200 {
        let mut m = message(&format!("customer{i}@example.com"));
        // Long bodies make torn or interleaved lines likely if appends were not whole.
        m.body = format!("{i} ").repeat(2000);
        ids.push(m.delivery_id);
        let sender = sender.clone();
        tasks.spawn(async move { sender.send(&m).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("sent");
    }
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("{\"earlier\":true}"),
        "appended, not truncated"
    );
    let mut got: Vec<Uuid> = lines
        .map(|l| {
            serde_json::from_str::<OutboundMessage>(l)
                .expect("a whole JSON message per line")
                .delivery_id
        })
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn file_sender_needs_a_writable_path() {
    let mut s = settings();
    s.kind = "file".into();
    s.file_path = "/nonexistent-dir/crm/messages.jsonl".into();
    assert!(Sender::from_settings(&s).is_err());
}

#[tokio::test]
async fn log_sender_accepts_everything() {
    let sender = Sender::from_settings(&settings()).expect("log sender");
    assert_eq!(sender.kind(), "log");
    sender
        .send(&message("li.wei@example.com"))
        .await
        .expect("logged");
}

// ---- smtp ---------------------------------------------------------------------------------

/// The capturing handler given to aiosmtpd's command line: each message is written whole to
/// `<dir>/<n>.eml`; recipients starting with "bounce" get 550, with "later" 451.
const CAPTURE_HANDLER: &str = r#"
import os

class Capture:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        tmp = os.path.join(self.directory, ".%d.tmp" % self.count)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.directory, "%d.eml" % self.count))
        return "250 OK"
"#;

/// A Python that can import aiosmtpd: the project venv's first, then python3.
fn python_with_aiosmtpd() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    [venv, PathBuf::from("python3")].into_iter().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// How the test SMTP server speaks TLS.
enum ServerTls<'a> {
    None,
    /// STARTTLS offered (and required before MAIL).
    StartTls(&'a TestCa),
    /// TLS from the first byte (SMTPS).
    Implicit(&'a TestCa),
}

/// A running aiosmtpd, killed on drop, and where its messages land.
struct SmtpServer {
    _child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl SmtpServer {
    /// None (after a loud SKIPPED line) when aiosmtpd is not installed; a failure under CI.
    async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, ServerTls::None).await
    }

    async fn start_with(test: &str, tls: ServerTls<'_>) -> Option<Self> {
        let Some(python) = python_with_aiosmtpd() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "aiosmtpd is required under CI: run `make tools` (scripts/install-tools.sh venv)"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: aiosmtpd not found (run `make tools` to install it into .tools/venv) ***\n"
            );
            return None;
        };
        let dir = temp_dir("smtp");
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).expect("mail dir");
        std::fs::write(dir.join("crm_capture.py"), CAPTURE_HANDLER).expect("handler");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let mut command = tokio::process::Command::new(python);
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        match tls {
            ServerTls::None => {}
            ServerTls::StartTls(ca) => {
                let (cert, key) = ca.write_server(&dir);
                command.args(["--tlscert", &cert, "--tlskey", &key]);
            }
            ServerTls::Implicit(ca) => {
                let (cert, key) = ca.write_server(&dir);
                command.args(["--smtpscert", &cert, "--smtpskey", &key]);
            }
        }
        // Its log (expected handshake failures print tracebacks) stays out of the test output.
        let log = std::fs::File::create(dir.join("aiosmtpd.log")).expect("log file");
        let child = command
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .args(["-c", "crm_capture.Capture"])
            .arg(&mail)
            .env("PYTHONPATH", &dir)
            .kill_on_drop(true)
            .spawn()
            .expect("start aiosmtpd");
        let server = Self {
            _child: child,
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(server)
    }

    fn sender(&self) -> Sender {
        Sender::from_settings(&self.settings()).expect("smtp sender")
    }

    fn settings(&self) -> SenderSettings {
        let mut s = settings();
        s.kind = "smtp".into();
        s.smtp_host = "127.0.0.1".into();
        s.smtp_port = self.port;
        s.smtp_tls = "none".into();
        s.smtp_from = "CRM Campaigns <campaigns@crm.example>".into();
        s.timeout_ms = 5000;
        s
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<String> {
        let mail = self.dir.join("mail");
        let mut files: Vec<_> = std::fs::read_dir(&mail)
            .expect("mail dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("message"))
            .collect()
    }
}

#[tokio::test]
async fn smtp_delivers_to_a_real_server_with_the_delivery_message_id() {
    let Some(server) = SmtpServer::start("smtp_delivers_to_a_real_server").await else {
        return;
    };
    let sender = server.sender();
    let m = message("li.wei@example.com");
    sender.send(&m).await.expect("sent");
    let got = server.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    let has = |line: &str| mail.lines().any(|l| l.eq_ignore_ascii_case(line));
    assert!(
        has(&format!("Message-ID: <{}@crm.example>", m.delivery_id)),
        "{mail}"
    );
    assert!(has("To: li.wei@example.com"), "{mail}");
    assert!(has("Subject: Spring sale"), "{mail}");
    assert!(
        has("From: \"CRM Campaigns\" <campaigns@crm.example>"),
        "{mail}"
    );
    assert!(mail.contains("Hi Wei, 20% off with SPRING-10"), "{mail}");
    // A second attempt of the same delivery carries the same Message-ID.
    sender.send(&m).await.expect("sent again");
    let got = server.messages();
    assert_eq!(got.len(), 2);
    assert!(got[1].contains(&format!("<{}@crm.example>", m.delivery_id)));
}

#[tokio::test]
async fn smtp_refusals_are_classified_without_the_address() {
    let Some(server) = SmtpServer::start("smtp_refusals_are_classified").await else {
        return;
    };
    let sender = server.sender();
    match sender.send(&message("bounce.li@example.com")).await {
        Err(SendError::Permanent(why)) => {
            assert!(why.contains("550"), "{why}");
            assert!(!why.contains("bounce.li"), "no address in errors: {why}");
        }
        other => panic!("550: {other:?}"),
    }
    match sender.send(&message("later.li@example.com")).await {
        Err(SendError::Retryable(why)) => assert!(why.contains("451"), "{why}"),
        other => panic!("451: {other:?}"),
    }
    match sender.send(&message("not an address")).await {
        Err(SendError::Permanent(why)) => assert!(!why.contains("not an address"), "{why}"),
        other => panic!("bad address: {other:?}"),
    }
    let mut sms = message("+4915112345678");
    sms.channel = "sms".into();
    assert!(matches!(
        sender.send(&sms).await,
        Err(SendError::Permanent(_))
    ));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn smtp_starttls_and_implicit_tls_trust_the_configured_ca() {
    let ca = TestCa::new();
    for (mode, tls) in [
        ("starttls", ServerTls::StartTls(&ca)),
        ("tls", ServerTls::Implicit(&ca)),
    ] {
        let Some(server) = SmtpServer::start_with("smtp_starttls_and_implicit_tls", tls).await
        else {
            return;
        };
        let mut s = server.settings();
        s.smtp_tls = mode.into();
        // The public roots do not know the test CA.
        let untrusted = Sender::from_settings(&s).expect("sender");
        let got = untrusted.send(&message("li.wei@example.com")).await;
        assert!(
            matches!(got, Err(SendError::Retryable(_))),
            "{mode}: {got:?}"
        );
        s.smtp_ca_file = ca.write_ca(&server.dir);
        let m = message("li.wei@example.com");
        Sender::from_settings(&s)
            .expect("sender")
            .send(&m)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let got = server.messages();
        assert_eq!(got.len(), 1, "{mode}");
        assert!(got[0].contains(&m.delivery_id.to_string()), "{mode}");
    }
}

#[tokio::test]
async fn smtp_starttls_required_but_not_offered_is_not_sent_in_clear() {
    let Some(server) = SmtpServer::start("smtp_starttls_required").await else {
        return;
    };
    let mut s = server.settings();
    s.smtp_tls = "starttls".into();
    let got = Sender::from_settings(&s)
        .expect("sender")
        .send(&message("li.wei@example.com"))
        .await;
    assert!(matches!(got, Err(SendError::Retryable(_))), "{got:?}");
    assert!(
        server.messages().is_empty(),
        "nothing went out in clear text"
    );
}

#[tokio::test]
async fn smtp_unreachable_is_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let mut s = settings();
    s.kind = "smtp".into();
    s.smtp_host = "127.0.0.1".into();
    s.smtp_port = port;
    s.smtp_tls = "none".into();
    s.smtp_from = "campaigns@crm.example".into();
    s.timeout_ms = 2000;
    let sender = Sender::from_settings(&s).expect("sender");
    let got = sender.send(&message("li.wei@example.com")).await;
    assert!(matches!(got, Err(SendError::Retryable(_))), "{got:?}");
}
