//! The AMQP bus over TLS (`amqps://`) against the machine's real RabbitMQ (127.0.0.1:5672,
//! guest/guest, or `TRANSLOAD_AMQP_URI`), reached through a TLS proxy this test runs on a
//! real socket (tokio-rustls, with the certificates of `tests/fixtures/tls`): the broker
//! itself listens without TLS here. No RabbitMQ is a failure, not a skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lapin::uri::AMQPUri;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use transload::bus::amqp::{AmqpBus, AmqpConfig, ClientIdentity};
use transload_core::bus::{Bus, BusMessage, Consumer, ConsumerOptions, Stage};
use uuid::Uuid;

fn broker() -> AMQPUri {
    std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
        .parse()
        .unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS listener on 127.0.0.1 that forwards what it decrypts to the broker.
struct TlsProxy {
    port: u16,
    /// TLS handshakes completed.
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn certificates(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(fixture(name))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Whether the proxy asks the client for a certificate of the test CA.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    Required,
}

async fn tls_proxy(client_auth: ClientAuth) -> TlsProxy {
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(certificates("ca.pem"));
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certificates("server.pem"), key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handshakes);
    let broker = broker();
    let upstream = format!("{}:{}", broker.authority.host, broker.authority.port);
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (acceptor, counted, upstream) =
                (acceptor.clone(), Arc::clone(&counted), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsProxy {
        port,
        handshakes,
        task,
    }
}

/// The bus's configuration for the broker behind `proxy`, by the name its certificate
/// gives (`localhost`).
fn over_tls(proxy: &TlsProxy, ca_certificates: Option<String>) -> AmqpConfig {
    over_tls_as(proxy, ca_certificates, None)
}

fn over_tls_as(
    proxy: &TlsProxy,
    ca_certificates: Option<String>,
    client_identity: Option<ClientIdentity>,
) -> AmqpConfig {
    let broker = broker();
    AmqpConfig {
        uri: format!(
            "amqps://{}:{}@localhost:{}/%2f",
            broker.authority.userinfo.username, broker.authority.userinfo.password, proxy.port
        ),
        ca_certificates,
        client_identity,
        prefix: format!("tl-test-tls-{}", Uuid::now_v7().simple()),
        connect_timeout: Duration::from_secs(5),
        operation_timeout: Duration::from_secs(5),
        confirm_timeout: Duration::from_secs(5),
        startup_timeout: Duration::from_secs(2),
        ..AmqpConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_through_a_broker_reached_over_tls_with_the_configured_ca() {
    let proxy = tls_proxy(ClientAuth::None).await;
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    let bus = match AmqpBus::connect(over_tls(&proxy, Some(ca))).await {
        Ok(bus) => bus,
        Err(error) => panic!(
            "RabbitMQ is not reachable through the TLS proxy ({error}); these tests need a \
             running broker (`rabbitmq-server`, or set TRANSLOAD_AMQP_URI)"
        ),
    };
    let (sent, received) = round_trip(bus).await;
    assert_eq!(received, [(sent.id, sent.body)]);
    assert!(
        proxy.handshakes.load(Ordering::SeqCst) >= 1,
        "the bus went around the TLS proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_whose_certificate_chains_to_no_trusted_ca_is_refused() {
    let proxy = tls_proxy(ClientAuth::None).await;
    let Err(error) = AmqpBus::connect(over_tls(&proxy, None)).await else {
        panic!("a certificate of an unknown CA was accepted");
    };
    let error = error.to_string();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(proxy.handshakes.load(Ordering::SeqCst), 0);
}

/// Publishes one message on the bus and consumes it; the message sent, and the ids and
/// bodies of what came back.
async fn round_trip(bus: AmqpBus) -> (BusMessage, Vec<(Uuid, Vec<u8>)>) {
    let sent = BusMessage::new("acme.odfl.214", b"ST*214*0001~".to_vec());
    bus.publish(Stage::Inbound, vec![sent.clone()])
        .await
        .unwrap();
    let mut consumer = bus
        .consumer(Stage::Inbound, ConsumerOptions::default())
        .await
        .unwrap();
    let deliveries = consumer
        .next_batch(10, Duration::from_secs(10))
        .await
        .unwrap();
    let received = deliveries
        .iter()
        .map(|delivery| (delivery.message.id, delivery.message.body.clone()))
        .collect();
    consumer.ack(&deliveries).await.unwrap();
    drop(consumer);
    bus.delete_topology().await.unwrap();
    bus.close().await;
    (sent, received)
}

fn hub_identity() -> ClientIdentity {
    ClientIdentity::Pem {
        certificate_chain: std::fs::read_to_string(fixture("client.pem")).unwrap(),
        private_key: std::fs::read_to_string(fixture("client.key")).unwrap(),
    }
}

/// The same certificate and key in one PKCS#12 archive (`client.p12`).
fn hub_identity_pkcs12(password: &str) -> ClientIdentity {
    ClientIdentity::Pkcs12 {
        der: std::fs::read(fixture("client.p12")).unwrap(),
        password: password.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_asks_for_a_client_certificate_gets_the_configured_one() {
    let proxy = tls_proxy(ClientAuth::Required).await;
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    let bus = AmqpBus::connect(over_tls_as(&proxy, Some(ca), Some(hub_identity())))
        .await
        .unwrap();
    let (sent, received) = round_trip(bus).await;
    assert_eq!(received, [(sent.id, sent.body)]);
    assert!(proxy.handshakes.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_may_come_in_a_pkcs12_archive() {
    let proxy = tls_proxy(ClientAuth::Required).await;
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    let bus = AmqpBus::connect(over_tls_as(
        &proxy,
        Some(ca.clone()),
        Some(hub_identity_pkcs12("transload-test")),
    ))
    .await
    .unwrap();
    let (sent, received) = round_trip(bus).await;
    assert_eq!(received, [(sent.id, sent.body)]);
    assert!(proxy.handshakes.load(Ordering::SeqCst) >= 1);
    // With the wrong password the archive cannot be opened, and nothing connects.
    let handshakes = proxy.handshakes.load(Ordering::SeqCst);
    let outcome = AmqpBus::connect(over_tls_as(
        &proxy,
        Some(ca),
        Some(hub_identity_pkcs12("not-the-password")),
    ))
    .await;
    let Err(error) = outcome else {
        panic!("a PKCS#12 archive opened with the wrong password");
    };
    assert_eq!(
        proxy.handshakes.load(Ordering::SeqCst),
        handshakes,
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_a_broker_that_asks_for_one_is_not_reached() {
    let proxy = tls_proxy(ClientAuth::Required).await;
    let ca = std::fs::read_to_string(fixture("ca.pem")).unwrap();
    let outcome = AmqpBus::connect(over_tls(&proxy, Some(ca))).await;
    let Err(error) = outcome else {
        panic!("the broker was reached without a client certificate");
    };
    // rustls: "received fatal alert: CertificateRequired".
    let error = error.to_string();
    assert!(error.contains("Certificate"), "{error}");
    assert_eq!(proxy.handshakes.load(Ordering::SeqCst), 0);
}
