//! A typed async client for entente, and the building blocks of the `entente` CLI.
//!
//! [`Client`] connects once and hands out the generated `entente.v1` stubs with the bearer
//! token attached to every call; [`timearg`] recognises the time formats people type;
//! [`json`] renders any reply as canonical proto3 JSON (the same mapping `grpcurl` uses).
//!
//! # Examples
//!
//! ```no_run
//! use entente_client::{Client, proto as pb};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("http://127.0.0.1:50051").await?;
//! let venue = client
//!     .directory()
//!     .get_venue(pb::GetVenueRequest { id: "kazan-expo".into() })
//!     .await?
//!     .into_inner()
//!     .venue;
//! println!("{venue:?}");
//! # Ok(()) }
//! ```

pub mod json;
pub mod timearg;

pub use entente_proto::v1 as proto;

use entente_proto::v1::audit_service_client::AuditServiceClient;
use entente_proto::v1::calendar_service_client::CalendarServiceClient;
use entente_proto::v1::change_service_client::ChangeServiceClient;
use entente_proto::v1::conflict_service_client::ConflictServiceClient;
use entente_proto::v1::directory_service_client::DirectoryServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_proto::v1::i_calendar_service_client::ICalendarServiceClient;
use entente_proto::v1::proposal_service_client::ProposalServiceClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The address is not a URL tonic accepts.
    #[error("{0:?} is not a server address (for example http://127.0.0.1:50051)")]
    BadAddress(String),
    /// The token cannot be sent in a header.
    #[error("the token contains characters that cannot be sent in a header")]
    BadToken,
    /// The TLS settings were refused.
    #[error("TLS: {0}")]
    Tls(String),
    /// Nothing answered.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// Where.
        address: String,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// TLS material for [`Client::connect_tls`], PEM-encoded.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// The CA that signed the server's certificate.
    pub ca: Option<Vec<u8>>,
    /// A client certificate and key, for servers that require mutual TLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Adds `authorization: Bearer <token>` to every call when a token is set.
#[derive(Debug, Clone, Default)]
pub struct Auth(Option<AsciiMetadataValue>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

type Svc = InterceptedService<Channel, Auth>;

/// A connection to an entente server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    auth: Auth,
}

impl Client {
    /// Connects to `address` ("http://127.0.0.1:50051").
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), entente_client::ClientError> {
    /// let client = entente_client::Client::connect("http://127.0.0.1:50051").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(address: &str) -> Result<Client, ClientError> {
        Client::connect_tls(address, &TlsOptions::default()).await
    }

    /// Connects to an `https://` address, trusting `tls.ca` (PEM) and presenting
    /// `tls.identity` (certificate and key, PEM) when the server asks for one.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), entente_client::ClientError> {
    /// let ca = std::fs::read("ca.pem").unwrap_or_default();
    /// let tls = entente_client::TlsOptions { ca: Some(ca), identity: None };
    /// let client = entente_client::Client::connect_tls("https://entente.mfa.example:50051", &tls).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_tls(address: &str, tls: &TlsOptions) -> Result<Client, ClientError> {
        let mut endpoint = Endpoint::from_shared(address.to_string())
            .map_err(|_| ClientError::BadAddress(address.to_string()))?
            .tcp_nodelay(true);
        if address.starts_with("https://") || tls.ca.is_some() || tls.identity.is_some() {
            let mut t = tonic::transport::ClientTlsConfig::new();
            if let Some(ca) = &tls.ca {
                t = t.ca_certificate(tonic::transport::Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &tls.identity {
                t = t.identity(tonic::transport::Identity::from_pem(cert, key));
            }
            endpoint = endpoint
                .tls_config(t)
                .map_err(|e| ClientError::Tls(e.to_string()))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|source| ClientError::Connect {
                address: address.to_string(),
                source,
            })?;
        Ok(Client::from_channel(channel))
    }

    /// Wraps an existing channel.
    pub fn from_channel(channel: Channel) -> Client {
        Client {
            channel,
            auth: Auth::default(),
        }
    }

    /// Sends `token` as a bearer token on every call.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), entente_client::ClientError> {
    /// let client = entente_client::Client::connect("http://127.0.0.1:50051")
    ///     .await?
    ///     .with_token("s3cret")?;
    /// # Ok(()) }
    /// ```
    pub fn with_token(mut self, token: &str) -> Result<Client, ClientError> {
        let v = format!("Bearer {token}")
            .parse::<AsciiMetadataValue>()
            .map_err(|_| ClientError::BadToken)?;
        self.auth = Auth(Some(v));
        Ok(self)
    }

    /// Countries, participants, venues and forums.
    pub fn directory(&self) -> DirectoryServiceClient<Svc> {
        DirectoryServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Events, programmes, agendas.
    pub fn events(&self) -> EventServiceClient<Svc> {
        EventServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Conflict checks and free/busy.
    pub fn conflicts(&self) -> ConflictServiceClient<Svc> {
        ConflictServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Proposals.
    pub fn proposals(&self) -> ProposalServiceClient<Svc> {
        ProposalServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// The audit log (ADMIN tokens).
    pub fn audit(&self) -> AuditServiceClient<Svc> {
        AuditServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Working calendars and the slot finder.
    pub fn calendars(&self) -> CalendarServiceClient<Svc> {
        CalendarServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// iCalendar: export, import, subscription feeds.
    pub fn ics(&self) -> ICalendarServiceClient<Svc> {
        ICalendarServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// The change feed: watch or list every committed write your office may see.
    pub fn changes(&self) -> ChangeServiceClient<Svc> {
        ChangeServiceClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Watches the change feed: the stream of batches and progress messages after
    /// `request.after_revision`, as `WatchChanges` sends them.
    ///
    /// ```no_run
    /// use entente_client::{Client, proto as pb};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::connect("http://127.0.0.1:50051").await?;
    /// let mut feed = client
    ///     .watch(pb::WatchChangesRequest { from_now: true, ..Default::default() })
    ///     .await?;
    /// while let Some(m) = feed.message().await? {
    ///     if let Some(pb::watch_changes_response::Message::Batch(b)) = m.message {
    ///         println!("revision {}: {} change(s)", b.revision, b.changes.len());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(
        &self,
        request: proto::WatchChangesRequest,
    ) -> Result<tonic::Streaming<proto::WatchChangesResponse>, tonic::Status> {
        self.changes()
            .watch_changes(request)
            .await
            .map(tonic::Response::into_inner)
    }
}
