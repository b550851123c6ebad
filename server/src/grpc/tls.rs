//! TLS on the server's port, done here rather than by tonic.
//!
//! tonic's acceptor offers only `h2` in ALPN. A calendar app that fetches a subscription
//! feed (`GET /ics/…`) over HTTP/1.1 offers only `http/1.1`, and rustls then refuses the
//! handshake. This acceptor offers both; gRPC clients negotiate `h2` as before. The
//! settings are otherwise tonic's: rustls with ring, the certificate chain and key given,
//! and with a client CA, client certificates required and verified (mutual TLS).
//! Handshakes run concurrently, each with a time limit, so a slow or silent client never
//! holds up the accept loop.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_stream::{Stream, StreamExt};

use super::limits::Limited;
use crate::Tls;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An acceptor for `tls`, or why the material is refused.
pub fn acceptor(tls: &Tls) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca, "client CA")? {
                roots.add(cert).map_err(|e| format!("client CA: {e}"))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("client CA: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::from_pem_slice(&tls.key).map_err(|e| format!("private key: {e}"))?;
    let mut config = builder
        .with_single_cert(certificates(&tls.cert, "certificate")?, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate found"));
    }
    Ok(certs)
}

/// The connections `plain` accepts, after their TLS handshakes; failed handshakes are
/// logged and dropped.
pub fn incoming(
    plain: impl Stream<Item = std::io::Result<Limited>> + Send + 'static,
    acceptor: TlsAcceptor,
) -> impl Stream<Item = std::io::Result<Limited>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut plain = std::pin::pin!(plain);
        loop {
            // The server dropping its end (shutdown) ends the loop at once, and with it
            // the listener: the port is free when `serve` returns.
            let conn = tokio::select! {
                conn = plain.next() => conn,
                () = tx.closed() => break,
            };
            let io = match conn {
                None => break,
                Some(Ok(io)) => io,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, io.tls(&acceptor)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
