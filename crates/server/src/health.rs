//! `tessera-server healthcheck`: ask the local server's `GET /healthz` and say whether it
//! answered `{"status":"ok"}`, for container health checks and monitoring scripts that have no
//! `curl`.
//!
//! It connects to the configured listen address (a wildcard address such as `0.0.0.0` or `::`
//! becomes the loopback address of its family). When the configuration has a certificate it
//! speaks TLS **without checking the certificate**: it tells whether this process answers, it
//! authenticates nothing and sends nothing secret, and the certificate's name rarely matches
//! `127.0.0.1`.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::config::Config;

/// How long the whole check may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer that is read.
const MAX_ANSWER: u64 = 64 * 1024;

/// Why the server is not healthy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// No connection, a failed handshake, or the connection broke.
    #[error("cannot reach the server at {address}: {source}")]
    Unreachable {
        /// Where.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No complete answer within [`TIMEOUT`].
    #[error("the server at {0} did not answer within 5 seconds")]
    Timeout(SocketAddr),
    /// An answer, but not `200` with `"status":"ok"`.
    #[error("the server at {address} answered {answer:?}")]
    Unhealthy {
        /// Where.
        address: SocketAddr,
        /// The status line (and, for a 200, the body).
        answer: String,
    },
}

/// The address a local client reaches the server on.
pub fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Ask the configured server's `/healthz`; the body on success.
pub async fn check(config: &Config) -> Result<String, HealthError> {
    let address = local_address(config.listen);
    let tls = config.tls.is_some();
    tokio::time::timeout(TIMEOUT, fetch(address, tls))
        .await
        .map_err(|_| HealthError::Timeout(address))?
}

async fn fetch(address: SocketAddr, tls: bool) -> Result<String, HealthError> {
    let unreachable = |source| HealthError::Unreachable { address, source };
    let tcp = TcpStream::connect(address).await.map_err(unreachable)?;
    let answer = if tls {
        let client = unverified_client().map_err(|e| unreachable(std::io::Error::other(e)))?;
        let connector = TlsConnector::from(client);
        let stream = connector
            .connect(ServerName::IpAddress(address.ip().into()), tcp)
            .await
            .map_err(unreachable)?;
        get(stream, address).await
    } else {
        get(tcp, address).await
    }
    .map_err(unreachable)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default();
    let ok = status.split_whitespace().nth(1) == Some("200")
        && serde_json::from_str::<serde_json::Value>(body.trim())
            .is_ok_and(|v| v["status"] == "ok");
    if ok {
        Ok(body.trim().to_owned())
    } else {
        Err(HealthError::Unhealthy {
            address,
            answer: format!("{status} {}", body.trim()).trim().to_owned(),
        })
    }
}

/// One `GET /healthz` with `Connection: close`; the whole answer.
async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    address: SocketAddr,
) -> std::io::Result<String> {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A TLS client that accepts any certificate (it still checks the handshake signatures).
fn unverified_client() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(Arc::clone(&provider)));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
