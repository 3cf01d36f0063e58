//! One service on a fresh port for its integration tests: what every service's test harness
//! does before its own request builders.
use super::Storage;
use crate::app::{Service, ServiceSettings};
use crate::client::{Credentials, TracedChannel, with_metadata};
use tonic::transport::Channel;

/// A running test server of one service.
pub struct Spawned<U> {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its use cases, for tests that go below the API.
    pub service: U,
    /// A connected channel carrying a token with every scope of the service, for its
    /// generated client (`XClient::new(channel)`).
    pub channel: TracedChannel,
    /// The same connection without credentials (authentication tests).
    pub raw: Channel,
}

/// The default settings of `S` pointed at `storage` (127.0.0.1 port 0), then changed by `tweak`.
pub fn settings<S: Service>(
    storage: &Storage,
    tweak: impl FnOnce(&mut S::Settings),
) -> S::Settings {
    let mut s = S::Settings::load(None).expect("default settings");
    storage.apply(s.platform_mut());
    tweak(&mut s);
    s
}

/// Builds `S` on `storage` with [`settings`], serves it in the background until the test ends,
/// and connects to it.
pub async fn spawn<S: Service>(
    storage: &Storage,
    tweak: impl FnOnce(&mut S::Settings),
) -> Spawned<S::UseCases> {
    let app = crate::app::application::<S>(settings::<S>(storage, tweak))
        .await
        .expect("app builds");
    let port = app.port();
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let credentials = Credentials::token(&super::auth::token_for(S::POLICY)).expect("ascii token");
    Spawned {
        port,
        service,
        channel: with_metadata(channel.clone(), credentials),
        raw: channel,
    }
}
