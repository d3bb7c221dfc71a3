//! The outbound HTTP sender against a real local HTTP server (axum on 127.0.0.1:0).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use transload_connectors::http_out::{
    CircuitConfig, CircuitState, HttpSender, OutboundRequest, SendErrorKind, SenderOptions,
};
use transload_connectors::partner::{HttpEndpoint, RateLimit, WebhookProfile};
use transload_connectors::webhook::{SignedHeaders, WebhookSecret};
use transload_core::ids::PartnerId;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

/// What the server answers: a script consumed in order, then the fallback.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: "",
        delay: Duration::ZERO,
    }
}

#[derive(Clone)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Arc<Mutex<Reply>>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn set_fallback(&self, r: Reply) {
        *self.fallback.lock().unwrap() = r;
    }
}

async fn handle(State(server): State<Server>, headers: HeaderMap, body: Bytes) -> Response {
    server.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        headers,
        body,
    });
    let next = server.script.lock().unwrap().pop_front();
    let r = next.unwrap_or_else(|| server.fallback.lock().unwrap().clone());
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    let mut response = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (name, value) in r.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn start(script: Vec<Reply>) -> (String, Server) {
    let server = Server {
        seen: Arc::default(),
        script: Arc::new(Mutex::new(script.into())),
        fallback: Arc::new(Mutex::new(Reply {
            body: r#"{"ok":true}"#,
            ..reply(200)
        })),
    };
    let app = Router::new()
        .route("/inbound", post(handle))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/inbound"), server)
}

fn endpoint(url: &str) -> HttpEndpoint {
    HttpEndpoint {
        url: url.to_owned(),
        timeout_ms: 2_000,
        max_attempts: 4,
        rate_limit: None,
        headers: BTreeMap::new(),
        signing: None,
    }
}

fn fast_options() -> SenderOptions {
    SenderOptions {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..SenderOptions::default()
    }
}

fn sender(endpoint: &HttpEndpoint, options: SenderOptions) -> HttpSender {
    HttpSender::new(PartnerId::new("odfl").unwrap(), endpoint, options).unwrap()
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn delivers_with_idempotency_key_and_expanded_headers() {
    let (url, server) = start(vec![]).await;
    let mut ep = endpoint(&url);
    ep.headers
        .insert("X-Path".to_owned(), "path=${PATH}".to_owned());
    let s = sender(&ep, fast_options());
    let delivered = s
        .send(&OutboundRequest::json("doc-1", br#"{"a":1}"#.to_vec()))
        .await
        .unwrap();
    assert_eq!(delivered.status, 200);
    assert_eq!(delivered.attempts, 1);
    assert_eq!(delivered.body, br#"{"ok":true}"#);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(header(&seen[0], "idempotency-key"), Some("doc-1"));
    assert_eq!(header(&seen[0], "content-type"), Some("application/json"));
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        header(&seen[0], "x-path"),
        Some(format!("path={path}").as_str())
    );
    assert_eq!(header(&seen[0], "webhook-signature"), None, "not signed");
    assert_eq!(&seen[0].body[..], br#"{"a":1}"#);
}

#[tokio::test]
async fn a_missing_environment_variable_is_a_configuration_error() {
    let mut ep = endpoint("http://127.0.0.1:9/x");
    ep.headers.insert(
        "Authorization".to_owned(),
        "Bearer ${TRANSLOAD_TEST_SURELY_UNSET_TOKEN}".to_owned(),
    );
    let e = HttpSender::new(PartnerId::new("odfl").unwrap(), &ep, fast_options()).unwrap_err();
    assert!(
        e.to_string().contains("TRANSLOAD_TEST_SURELY_UNSET_TOKEN"),
        "{e}"
    );
}

#[tokio::test]
async fn retries_503_honouring_retry_after_with_the_same_key() {
    // Read after the first retry (~1 s from now): then still 2 to 3 s ahead (an
    // HTTP-date drops the fraction of a second).
    let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(4));
    let (url, server) = start(vec![
        Reply {
            headers: vec![("retry-after", "1".to_owned())],
            ..reply(503)
        },
        Reply {
            headers: vec![("retry-after", soon)],
            ..reply(503)
        },
    ])
    .await;
    let s = sender(&endpoint(&url), fast_options());
    let delivered = s
        .send(&OutboundRequest::json("doc-retry", b"{}".to_vec()))
        .await
        .unwrap();
    assert_eq!(delivered.attempts, 3);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(header(s, "idempotency-key"), Some("doc-retry"));
    }
    let first_gap = seen[1].at - seen[0].at;
    let second_gap = seen[2].at - seen[1].at;
    // The backoff alone would wait at most 50 ms.
    assert!(first_gap >= Duration::from_millis(950), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(1500), "{second_gap:?}");
    assert!(second_gap <= Duration::from_millis(3500), "{second_gap:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_call_with_the_wait() {
    let (url, server) = start(vec![Reply {
        headers: vec![("retry-after", "3600".to_owned())],
        ..reply(429)
    }])
    .await;
    let s = sender(&endpoint(&url), fast_options());
    let e = s
        .send(&OutboundRequest::json("doc-later", b"{}".to_vec()))
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.attempts, 1);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_400_is_permanent_and_not_retried() {
    let (url, server) = start(vec![Reply {
        body: "bad scac",
        ..reply(400)
    }])
    .await;
    let s = sender(&endpoint(&url), fast_options());
    let e = s
        .send(&OutboundRequest::json("doc-bad", b"{}".to_vec()))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert_eq!(e.attempts, 1);
    assert!(
        matches!(&e.kind, SendErrorKind::Status { status: 400, body, .. } if body == "bad scac"),
        "{e}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_slow_partner_times_out_on_every_attempt() {
    let (url, server) = start(vec![]).await;
    server.set_fallback(Reply {
        delay: Duration::from_secs(3),
        ..reply(200)
    });
    let mut ep = endpoint(&url);
    ep.timeout_ms = 200;
    ep.max_attempts = 2;
    let s = sender(&ep, fast_options());
    let started = Instant::now();
    let e = s
        .send(&OutboundRequest::json("doc-slow", b"{}".to_vec()))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e.kind, SendErrorKind::Timeout(_)), "{e}");
    assert!(e.is_transient());
    assert_eq!(e.attempts, 2);
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn the_circuit_opens_refuses_fast_then_half_opens() {
    let (url, server) = start(vec![]).await;
    server.set_fallback(reply(500));
    let mut ep = endpoint(&url);
    ep.max_attempts = 1;
    let options = SenderOptions {
        circuit: CircuitConfig {
            failure_threshold: 3,
            cooldown: Duration::from_millis(1000),
        },
        ..fast_options()
    };
    let s = sender(&ep, options);
    let doc = OutboundRequest::json("doc-circuit", b"{}".to_vec());
    for _ in 0..3 {
        let e = s.send(&doc).await.unwrap_err();
        assert!(
            matches!(e.kind, SendErrorKind::Status { status: 500, .. }),
            "{e}"
        );
    }
    assert_eq!(s.circuit_state(), CircuitState::Open);
    let started = Instant::now();
    let e = s.send(&doc).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(200));
    assert!(matches!(e.kind, SendErrorKind::CircuitOpen { .. }), "{e}");
    assert!(e.is_transient());
    assert_eq!(e.attempts, 0);
    assert_eq!(server.seen().len(), 3, "nothing sent while open");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.circuit_state(), CircuitState::HalfOpen);
    // The probe fails: open again, for another cooldown.
    s.send(&doc).await.unwrap_err();
    assert_eq!(server.seen().len(), 4);
    assert_eq!(s.circuit_state(), CircuitState::Open);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set_fallback(reply(200));
    let delivered = s.send(&doc).await.unwrap();
    assert_eq!(delivered.attempts, 1);
    assert_eq!(s.circuit_state(), CircuitState::Closed);
    assert_eq!(server.seen().len(), 5);
}

#[tokio::test]
async fn the_rate_limit_spaces_requests_at_the_server() {
    let (url, server) = start(vec![]).await;
    let mut ep = endpoint(&url);
    ep.rate_limit = Some(RateLimit {
        per_second: 10,
        burst: 1,
    });
    let s = sender(&ep, fast_options());
    let sends = (0..6).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.send(&OutboundRequest::json(format!("doc-{i}"), b"{}".to_vec()))
                .await
                .unwrap()
        })
    });
    for task in sends.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    let mut at: Vec<Instant> = server.seen().iter().map(|s| s.at).collect();
    at.sort();
    assert_eq!(at.len(), 6);
    let span = at[5] - at[0];
    // 10 per second, no burst: 5 gaps of 100 ms at the client (a little less may be
    // seen at the server when one request travels slower than the next).
    assert!(span >= Duration::from_millis(400), "{span:?}");
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(40), "gap {gap:?}");
    }
}

#[tokio::test]
async fn signed_requests_verify_with_the_webhook_module() {
    let (url, server) = start(vec![reply(503)]).await;
    let mut ep = endpoint(&url);
    ep.signing = Some(WebhookProfile {
        secret: Some(SECRET.to_owned()),
        secret_env: None,
        tolerance_secs: 300,
    });
    let s = sender(&ep, fast_options());
    let body = br#"{"tender":"TND-1"}"#.to_vec();
    s.send(&OutboundRequest::json("doc-signed", body.clone()))
        .await
        .unwrap();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(header(request, "webhook-id"), Some("doc-signed"));
        let headers = SignedHeaders {
            id: header(request, "webhook-id"),
            timestamp: header(request, "webhook-timestamp"),
            signature: header(request, "webhook-signature"),
        };
        let now = jiff::Timestamp::now().as_second();
        secret.verify(&headers, &request.body, now, 300).unwrap();
        assert!(
            secret
                .verify(&headers, b"{\"tender\":\"TND-2\"}", now, 300)
                .is_err(),
            "a changed body does not verify"
        );
    }
}
