//! The harness for end-to-end tests: a real entente server on `127.0.0.1:0`, reached over
//! gRPC. The listener is bound before the server task starts, so clients connect at once,
//! with no sleeps.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use entente_proto::v1::conflict_service_client::ConflictServiceClient;
use entente_proto::v1::directory_service_client::DirectoryServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_proto::v1::proposal_service_client::ProposalServiceClient;
use entente_server::{Config, ManualClock, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// A running server and a channel to it.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A connected channel.
    pub channel: Channel,
    /// Its data folder.
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), entente_server::ServeError>>>,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh temporary store.
    pub async fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer::start_in(temp.path(), Settings::default()).await;
        s._temp = Some(temp);
        s
    }

    /// A server on a fresh temporary store whose clock only moves when the test says.
    pub async fn start_with_clock(clock: &ManualClock) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            clock: clock.clock(),
            ..Settings::default()
        };
        let mut s = TestServer::start_in(temp.path(), settings).await;
        s._temp = Some(temp);
        s
    }

    /// A server on the store in `dir` (kept after the server stops).
    pub async fn start_in(dir: &Path, settings: Settings) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let config = Config {
            data_dir: dir.to_path_buf(),
            settings,
        };
        let task = tokio::spawn(entente_server::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the test server");
        TestServer {
            addr,
            channel,
            data_dir: dir.to_path_buf(),
            stop: Some(stop),
            task: Some(task),
            _temp: None,
        }
    }

    /// Stops the server gracefully and waits until its store is flushed; returns the data
    /// folder's owner so a test can restart on it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        drop(self.channel.clone());
        if let Some(t) = self.task.take() {
            t.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        self._temp.take()
    }

    /// A directory client.
    pub fn directory(&self) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(self.channel.clone())
    }

    /// An event client.
    pub fn events(&self) -> EventServiceClient<Channel> {
        EventServiceClient::new(self.channel.clone())
    }

    /// A conflict client.
    pub fn conflicts(&self) -> ConflictServiceClient<Channel> {
        ConflictServiceClient::new(self.channel.clone())
    }

    /// A proposal client.
    pub fn proposals(&self) -> ProposalServiceClient<Channel> {
        ProposalServiceClient::new(self.channel.clone())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
