//! TLS (rustls) and mutual TLS over a real socket, with certificates made for the test.

use entente_proto::v1 as pb;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_server::{Config, Tls};
use entente_tests::TestServer;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &ca)
            .expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf(vec!["localhost".into()]),
        client: leaf(vec!["ru-protocol.example".into()]),
    }
}

async fn server(pki: &Pki, mutual: bool) -> TestServer {
    let temp = tempfile::tempdir().expect("temp");
    let config = Config {
        data_dir: temp.path().join("store"),
        tls: Some(Tls {
            cert: pki.server.0.clone().into_bytes(),
            key: pki.server.1.clone().into_bytes(),
            client_ca: mutual.then(|| pki.ca.clone().into_bytes()),
        }),
        ..Config::default()
    };
    // The harness's own plaintext channel cannot connect, so it is started lazily here.
    let mut s = TestServer::start_config_lazy(config).await;
    s.own_dir(temp);
    s
}

async fn call(s: &TestServer, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut ep = Endpoint::from_shared(format!("{scheme}://localhost:{}", s.addr.port()))
        .map_err(|e| e.to_string())?;
    if let Some(t) = tls {
        ep = ep.tls_config(t).map_err(|e| e.to_string())?;
    }
    let ch = ep.connect().await.map_err(|e| format!("connect: {e}"))?;
    EventServiceClient::new(ch)
        .list_events(pb::ListEventsRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e}"))
}

#[tokio::test]
async fn tls_serves_only_clients_that_trust_it() {
    let pki = pki();
    let s = server(&pki, false).await;
    let trusting = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    call(&s, Some(trusting))
        .await
        .expect("a client trusting the CA gets through");
    assert!(call(&s, None).await.is_err(), "plaintext is refused");
    let other = pki_other_ca();
    let untrusting = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(other))
        .domain_name("localhost");
    assert!(
        call(&s, Some(untrusting)).await.is_err(),
        "a certificate from another CA is not trusted"
    );
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate() {
    let pki = pki();
    let s = server(&pki, true).await;
    let base = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    assert!(
        call(&s, Some(base.clone())).await.is_err(),
        "no client certificate"
    );
    let with_id = base.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    call(&s, Some(with_id))
        .await
        .expect("a client certificate from the CA gets through");
}

fn pki_other_ca() -> String {
    pki().ca
}

/// A calendar app subscribing over HTTPS offers only `http/1.1` in ALPN: the server's
/// port serves it the feed, while gRPC clients still negotiate h2.
#[tokio::test]
async fn a_calendar_feed_is_served_over_https_to_http1_clients() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = pki();
    let s = server(&pki, false).await;
    let ch = Endpoint::from_shared(format!("https://localhost:{}", s.addr.port()))
        .expect("endpoint")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&pki.ca))
                .domain_name("localhost"),
        )
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    let feed = entente_proto::v1::i_calendar_service_client::ICalendarServiceClient::new(ch)
        .create_calendar_feed(pb::CreateCalendarFeedRequest {
            feed: Some(pb::CalendarFeed::default()),
            ..Default::default()
        })
        .await
        .expect("feed over gRPC and TLS")
        .into_inner()
        .feed
        .expect("feed");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca.as_bytes()).expect("ca"))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(s.addr).await.expect("tcp");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("an http/1.1-only client completes the handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(
        format!(
            "GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            feed.path
        )
        .as_bytes(),
    )
    .await
    .expect("send");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("BEGIN:VCALENDAR"), "{raw}");
}
