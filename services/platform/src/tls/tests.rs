//! Real TLS on loopback with certificates made here: the served port (`server::serve`), the
//! identity a tower layer reads, reloads, and `client::channel` as the caller.
use super::acceptor::Acceptor;
use super::*;
use crate::client::{ClientSettings, channel};
use crate::config::{ServerSettings, Validate};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).expect("base64 is ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A certificate and its key, PEM-encoded.
struct Pair {
    cert: String,
    key: String,
}

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca"),
        }
    }

    fn cert(&self) -> String {
        pem("CERTIFICATE", self.issuer.der())
    }

    /// A leaf for both server and client use, naming `dns` (DNS or IP) and `uris`.
    fn leaf(&self, dns: &[&str], uris: &[&str]) -> Pair {
        let names: Vec<String> = dns.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        for uri in uris {
            params
                .subject_alt_names
                .push(SanType::URI((*uri).try_into().expect("ia5")));
        }
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        Pair {
            cert: pem("CERTIFICATE", cert.der()),
            key: pem("PRIVATE KEY", &key.serialize_der()),
        }
    }

    fn server_leaf(&self) -> Pair {
        self.leaf(&["localhost", "127.0.0.1"], &[])
    }
}

/// A directory of PEM files, removed at the end of the test.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("crm-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        Self(dir)
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).expect("write");
        path_str(&path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_owned()
}

/// TLS settings serving `server`, requiring client certificates of `client_ca` when given.
fn server_tls(dir: &Dir, server: &Pair, client_ca: Option<&Ca>) -> TlsSettings {
    TlsSettings {
        enabled: true,
        cert_file: dir.write("server.pem", &server.cert),
        key_file: dir.write("server.key", &server.key),
        client_ca_file: client_ca
            .map(|ca| dir.write("client-ca.pem", &ca.cert()))
            .unwrap_or_default(),
        reload_secs: 1,
        client: TlsClientSettings::default(),
    }
}

/// `[tls.client]` trusting `ca`, presenting `identity` when given (files named after `tag`).
fn client_tls(dir: &Dir, tag: &str, ca: &Ca, identity: Option<&Pair>) -> TlsClientSettings {
    let (cert_file, key_file) = match identity {
        Some(p) => (
            dir.write(&format!("{tag}.pem"), &p.cert),
            dir.write(&format!("{tag}.key"), &p.key),
        ),
        None => Default::default(),
    };
    TlsClientSettings {
        ca_file: dir.write(&format!("{tag}-ca.pem"), &ca.cert()),
        cert_file,
        key_file,
    }
}

fn server_settings() -> ServerSettings {
    ServerSettings {
        host: "127.0.0.1".into(),
        port: 0,
        request_timeout_ms: 5_000,
        concurrency_limit: 64,
        max_message_bytes: 1 << 20,
        shutdown_grace_ms: 1_000,
    }
}

/// `server::serve` (health and reflection only) with `tls`, in the background; its port.
async fn serve(tls: &TlsSettings) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = tls.clone();
    tokio::spawn(async move {
        crate::server::serve(
            &server_settings(),
            &crate::auth::AuthSettings::embedded(),
            &tls,
            listener,
            vec![],
            std::future::pending(),
        )
        .await
    });
    port
}

/// One health Check over a new `client::channel` (so a new connection and handshake).
async fn check(url: &str, tls: &TlsClientSettings) -> Result<(), tonic::Status> {
    let mut settings = ClientSettings::new(url, Duration::from_secs(5));
    settings.tls = tls.clone();
    let mut client = HealthClient::new(channel(&settings).expect("channel"));
    client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn mtls_refuses_clients_without_a_certificate_or_from_another_ca() {
    let dir = Dir::new();
    let (server_ca, client_ca, other_ca) = (Ca::new("servers"), Ca::new("clients"), Ca::new("x"));
    let tls = server_tls(&dir, &server_ca.server_leaf(), Some(&client_ca));
    let url = format!("https://127.0.0.1:{}", serve(&tls).await);
    let good = client_ca.leaf(&[], &["spiffe://crm.test/ns/crm/sa/tickets"]);
    let foreign = other_ca.leaf(&[], &["spiffe://crm.test/ns/crm/sa/tickets"]);

    let anonymous = check(&url, &client_tls(&dir, "none", &server_ca, None)).await;
    assert!(anonymous.is_err(), "no client certificate: {anonymous:?}");
    let wrong_ca = check(
        &url,
        &client_tls(&dir, "foreign", &server_ca, Some(&foreign)),
    )
    .await;
    assert!(wrong_ca.is_err(), "certificate of another CA: {wrong_ca:?}");
    let plain = check(&url.replace("https", "http"), &TlsClientSettings::default()).await;
    assert!(plain.is_err(), "plaintext to a TLS port: {plain:?}");
    // The failed handshakes did not stop the server.
    let ok = check(&url, &client_tls(&dir, "good", &server_ca, Some(&good))).await;
    assert!(ok.is_ok(), "valid client certificate: {ok:?}");
    // The client side checks the server too: a CA that did not sign it is refused.
    let untrusted = check(
        &url,
        &client_tls(&dir, "untrusting", &other_ca, Some(&good)),
    )
    .await;
    assert!(
        untrusted.is_err(),
        "server of an untrusted CA: {untrusted:?}"
    );
}

/// Records the identity `peer_identity` gives each request, as the auth layer reads it.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<String>>>>);

impl<S> tower::Layer<S> for Seen {
    type Service = SeenService<S>;
    fn layer(&self, inner: S) -> SeenService<S> {
        SeenService {
            inner,
            seen: self.clone(),
        }
    }
}

#[derive(Clone)]
struct SeenService<S> {
    inner: S,
    seen: Seen,
}

impl<S, B> tower::Service<http::Request<B>> for SeenService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let identity = peer_identity(&req).map(str::to_owned);
        self.seen.0.lock().expect("lock").push(identity);
        self.inner.call(req)
    }
}

#[tokio::test]
async fn the_client_certificates_spiffe_id_else_its_dns_name_reaches_a_server_layer() {
    let dir = Dir::new();
    let (server_ca, client_ca) = (Ca::new("servers"), Ca::new("clients"));
    let tls = server_tls(&dir, &server_ca.server_leaf(), Some(&client_ca));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let incoming = Acceptor::start(&tls)
        .expect("acceptor")
        .incoming(tonic::transport::server::TcpIncoming::from(listener));
    let seen = Seen::default();
    let (_, health) = tonic_health::server::health_reporter();
    let server = tonic::transport::Server::builder()
        .layer(seen.clone())
        .add_service(health)
        .serve_with_incoming(incoming);
    tokio::spawn(server);

    let spiffe = client_ca.leaf(
        &["tickets.crm.svc"],
        &[
            "https://not.an.identity/",
            "spiffe://crm.test/ns/crm/sa/tickets",
        ],
    );
    check(&url, &client_tls(&dir, "spiffe", &server_ca, Some(&spiffe)))
        .await
        .expect("spiffe client");
    let dns = client_ca.leaf(&["loyalty.crm.svc", "other.crm.svc"], &[]);
    check(&url, &client_tls(&dir, "dns", &server_ca, Some(&dns)))
        .await
        .expect("dns client");
    assert_eq!(
        *seen.0.lock().expect("lock"),
        [
            Some("spiffe://crm.test/ns/crm/sa/tickets".to_owned()),
            Some("loyalty.crm.svc".to_owned())
        ]
    );
}

#[test]
fn a_plain_request_has_no_peer_identity() {
    let req = http::Request::new(());
    assert_eq!(peer_identity(&req), None);
}

/// Checks with `tls` until one succeeds; false when none did within 10 s.
async fn eventually_ok(url: &str, tls: &TlsClientSettings) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check(url, tls).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn rotated_server_files_are_used_by_new_connections_without_a_restart() {
    let dir = Dir::new();
    let (client_ca, old_ca, new_ca) = (Ca::new("clients"), Ca::new("old"), Ca::new("new"));
    let tls = server_tls(&dir, &old_ca.server_leaf(), Some(&client_ca));
    let url = format!("https://127.0.0.1:{}", serve(&tls).await);
    let me = client_ca.leaf(&[], &["spiffe://crm.test/ns/crm/sa/tickets"]);
    let trusts_old = client_tls(&dir, "old", &old_ca, Some(&me));
    let trusts_new = client_tls(&dir, "new", &new_ca, Some(&me));
    check(&url, &trusts_old)
        .await
        .expect("old certificate served");
    assert!(check(&url, &trusts_new).await.is_err(), "new CA not yet");

    // A broken file is not taken: the old certificate is still served after a reload period.
    std::fs::write(&tls.cert_file, "not a certificate").expect("break");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    check(&url, &trusts_old)
        .await
        .expect("old certificate kept while the file is broken");

    let rotated = new_ca.server_leaf();
    std::fs::write(&tls.key_file, &rotated.key).expect("rotate key");
    std::fs::write(&tls.cert_file, &rotated.cert).expect("rotate cert");
    assert!(
        eventually_ok(&url, &trusts_new).await,
        "the rotated certificate is never served"
    );
    assert!(
        check(&url, &trusts_old).await.is_err(),
        "the old certificate is still served"
    );
}

#[tokio::test]
async fn the_healthcheck_command_speaks_mtls_with_the_client_files() {
    let dir = Dir::new();
    let (server_ca, client_ca) = (Ca::new("servers"), Ca::new("clients"));
    let tls = server_tls(&dir, &server_ca.server_leaf(), Some(&client_ca));
    let url = format!("https://127.0.0.1:{}", serve(&tls).await);
    let me = client_ca.leaf(&["probe.crm.svc"], &[]);
    let timeout = Duration::from_secs(5);
    let mine = client_tls(&dir, "probe", &server_ca, Some(&me));
    crate::cli::healthcheck_with(&url, "", timeout, &mine)
        .await
        .expect("serving over mtls");
    let anonymous = client_tls(&dir, "anonymous", &server_ca, None);
    let refused = crate::cli::healthcheck_with(&url, "", timeout, &anonymous).await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");
    assert_eq!(
        crate::cli::tls_client_settings(None).expect("defaults"),
        TlsClientSettings::default()
    );
}

#[tokio::test]
async fn a_rotated_client_ca_is_used_at_the_next_connection() {
    let dir = Dir::new();
    let (old_ca, new_ca) = (Ca::new("old"), Ca::new("new"));
    let tls = server_tls(&dir, &new_ca.server_leaf(), None);
    let url = format!("https://127.0.0.1:{}", serve(&tls).await);
    let client = client_tls(&dir, "client", &old_ca, None);
    assert!(check(&url, &client).await.is_err(), "old CA refuses");
    std::fs::write(&client.ca_file, new_ca.cert()).expect("rotate ca");
    check(&url, &client).await.expect("new CA read at connect");
}

fn problems(v: &impl Validate) -> Vec<String> {
    let mut p = Vec::new();
    v.validate(&mut p);
    p
}

#[test]
fn settings_problems_are_reported_at_load() {
    let dir = Dir::new();
    let ca = Ca::new("ca");
    let mut tls = TlsSettings {
        enabled: true,
        reload_secs: 0,
        ..TlsSettings::default()
    };
    let p = problems(&tls);
    for want in ["tls.reload_secs", "tls.cert_file", "tls.key_file"] {
        assert!(p.iter().any(|l| l.starts_with(want)), "{want} in {p:?}");
    }

    let leaf = ca.server_leaf();
    tls = server_tls(&dir, &leaf, Some(&ca));
    assert_eq!(problems(&tls), Vec::<String>::new());
    tls.key_file = dir.write("other.key", &ca.server_leaf().key);
    let p = problems(&tls);
    assert!(
        p.len() == 1 && p[0].contains("not a usable certificate and key"),
        "{p:?}"
    );
    tls.key_file = path_str(&dir.0.join("missing.key"));
    tls.client_ca_file = path_str(&dir.0.join("missing-ca.pem"));
    let p = problems(&tls);
    assert!(
        p.len() == 2
            && p[0].starts_with("tls.key_file: cannot read")
            && p[1].starts_with("tls.client_ca_file: cannot read"),
        "{p:?}"
    );
    tls.enabled = false;
    let p = problems(&tls);
    assert!(
        p.len() == 1 && p[0].starts_with("tls.client_ca_file"),
        "{p:?}"
    );

    let mut client = client_tls(&dir, "c", &ca, Some(&leaf));
    assert_eq!(problems(&client), Vec::<String>::new());
    client.key_file.clear();
    assert!(problems(&client)[0].contains("together"));
    client = client_tls(&dir, "c", &ca, None);
    client.ca_file = dir.write("garbage.pem", "garbage");
    assert!(
        problems(&client)[0].contains("no certificate"),
        "{:?}",
        problems(&client)
    );
}
