//! The HTTP intake over real sockets, with a real HTTP client, on a real SQLite store
//! and a real PostgreSQL one.
//!
//! The PostgreSQL tests use `host=127.0.0.1 port=5432 user=postgres` (trust auth), or the
//! libpq key=value string in `TRANSLOAD_TEST_POSTGRES`, as the store conformance suite
//! does; each creates its own database and drops it at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio_postgres::NoTls;
use transload::config::{ApiKeyConfig, ApiKeySource, IntakeConfig, RateLimitConfig};
use transload::http::{AppState, hub_router};
use transload::intake::IntakeState;
use transload::intake::problem::IntakeError;
use transload::store::AnyStore;
use transload::store::postgres::PostgresStore;
use transload::store::sqlite::SqliteStore;
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_connectors::webhook::WebhookSecret;
use transload_core::bus::Stage;
use transload_core::store::Store;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Partners, keys and sample messages
// ---------------------------------------------------------------------------------------

const WMS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ACME_KEY: &str = "acme-oms-0c8f2b7e41d9";
const ACME_SLOW_KEY: &str = "acme-slow-77aa01c3";
const GLOBEX_KEY: &str = "globex-oms-5e3d9a10";

/// Signs with a secret, posts `pick_complete` JSON.
const WMS: &str = r#"
id = "acme-wms"
tenant = "acme"
time_zone = "America/Chicago"
[webhook]
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[routes]]
format = "json"
kind = "pick_complete"
mapping = "wms-pick-complete-in"
"#;

/// Authenticates with an API key of tenant acme; sends JSON, XML and X12.
const ERP: &str = r#"
id = "acme-erp"
tenant = "acme"
time_zone = "America/New_York"
[x12]
isa_qualifier = "02"
isa_id = "ODFL"
gs_id = "ODFL"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"
[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"
[[routes]]
format = "json"
mapping = "oms-order-in"
[[routes]]
format = "xml"
mapping = "sample-asn-xml-in"
"#;

/// A partner of another tenant.
const GLOBEX: &str = r#"
id = "globex-tms"
tenant = "globex"
time_zone = "Europe/Berlin"
[[routes]]
format = "json"
mapping = "oms-order-in"
"#;

const PICK: &[u8] =
    br#"{"event":"pick_complete","order":"SO-1001","lines":[{"sku":"A-1","qty":4}]}"#;
const X12_214: &[u8] = b"ISA*00*          *00*          *02*ODFL           *ZZ*ACMEHUB        *260101*1200*U*00401*000000001*0*P*>~GS*QM*ODFL*ACMEHUB*20260101*1200*1*X*004010~ST*214*0001~B10*PRO1*LOAD1*ODFL~SE*3*0001~GE*1*1~IEA*1*000000001~";
const ASN: &[u8] =
    b"<?xml version=\"1.0\"?>\n<asn id=\"A-1\">\n  <line sku=\"A-1\" qty=\"4\"/>\n</asn>\n";

fn partners() -> PartnerDirectory {
    PartnerDirectory::from_profiles(
        [WMS, ERP, GLOBEX].map(|text| PartnerProfile::parse(Path::new("test.toml"), text).unwrap()),
    )
}

fn sha256_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn limit(per_second: u32, burst: u32) -> RateLimitConfig {
    RateLimitConfig {
        per_second: NonZeroU32::new(per_second).unwrap(),
        burst: NonZeroU32::new(burst),
    }
}

fn api_keys() -> Vec<ApiKeyConfig> {
    let key = |name: &str, tenant: &str, key: &str, rate_limit| ApiKeyConfig {
        name: name.to_owned(),
        tenant: transload_core::ids::TenantId::new(tenant).unwrap(),
        source: ApiKeySource::Sha256(sha256_hex(key)),
        rate_limit,
    };
    vec![
        key("acme-oms", "acme", ACME_KEY, Some(limit(10_000, 10_000))),
        key("acme-slow", "acme", ACME_SLOW_KEY, Some(limit(1, 2))),
        key("globex-oms", "globex", GLOBEX_KEY, None),
    ]
}

/// 64 KiB bodies at most, so the 413 test stays small.
const MAX_BODY: usize = 64 * 1024;

fn intake_config() -> IntakeConfig {
    IntakeConfig {
        max_body_bytes: MAX_BODY,
        ..IntakeConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------

/// A real store of its own, and a way to count what it holds.
enum Backend {
    Sqlite {
        dir: PathBuf,
        store: SqliteStore,
    },
    Postgres {
        database: String,
        url: String,
        store: PostgresStore,
    },
}

fn postgres_server() -> String {
    std::env::var("TRANSLOAD_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".to_owned())
}

async fn postgres_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "the intake tests need a PostgreSQL server at `{url}` (trust auth for user \
                 postgres): {error}. Start it (CI does) or point TRANSLOAD_TEST_POSTGRES at one."
            )
        });
    tokio::spawn(connection);
    client
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = std::env::temp_dir().join(format!("transload-intake-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("store.sqlite3")).unwrap();
        Backend::Sqlite { dir, store }
    }

    async fn postgres() -> Backend {
        let database = format!("transload_test_{}", Uuid::now_v7().simple());
        let admin = format!("{} dbname=postgres connect_timeout=10", postgres_server());
        postgres_client(&admin)
            .await
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        let url = format!("{} dbname={database}", postgres_server());
        let store = PostgresStore::connect(&url).await.unwrap();
        Backend::Postgres {
            database,
            url,
            store,
        }
    }

    fn store(&self) -> AnyStore {
        match self {
            Backend::Sqlite { store, .. } => AnyStore::Sqlite(store.clone()),
            Backend::Postgres { store, .. } => AnyStore::Postgres(store.clone()),
        }
    }

    /// Rows in the raw message table and in the outbox, counted with plain SQL.
    async fn counts(&self) -> (i64, i64) {
        const SQL: [&str; 2] = [
            "SELECT count(*) FROM raw_messages",
            "SELECT count(*) FROM outbox",
        ];
        match self {
            Backend::Sqlite { dir, .. } => {
                let db = rusqlite::Connection::open(dir.join("store.sqlite3")).unwrap();
                let count = |sql: &str| db.query_row(sql, [], |row| row.get(0)).unwrap();
                (count(SQL[0]), count(SQL[1]))
            }
            Backend::Postgres { url, .. } => {
                let db = postgres_client(url).await;
                let raw = db.query_one(SQL[0], &[]).await.unwrap().get(0);
                let outbox = db.query_one(SQL[1], &[]).await.unwrap().get(0);
                (raw, outbox)
            }
        }
    }

    async fn destroy(self) {
        match self {
            Backend::Sqlite { dir, store } => {
                drop(store);
                let _ = std::fs::remove_dir_all(dir);
            }
            Backend::Postgres {
                database, store, ..
            } => {
                drop(store);
                let admin = format!("{} dbname=postgres connect_timeout=10", postgres_server());
                postgres_client(&admin)
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .await
                    .unwrap();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The hub under test
// ---------------------------------------------------------------------------------------

/// The hub's HTTP API on 127.0.0.1, on a port of its own.
struct Hub {
    base: String,
    client: reqwest::Client,
    backend: Backend,
    server: tokio::task::JoinHandle<()>,
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

impl Hub {
    async fn start(backend: Backend, config: &IntakeConfig) -> Hub {
        let intake = IntakeState::new(backend.store(), partners(), config, &api_keys()).unwrap();
        let state = AppState {
            bus: "embedded",
            store: "test",
        };
        let app = hub_router(state, intake);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Hub {
            base,
            client: client(),
            backend,
            server,
        }
    }

    fn post(&self, partner: &str, content_type: &str, body: impl Into<Vec<u8>>) -> RequestBuilder {
        self.client
            .post(format!("{}/v1/partners/{partner}/messages", self.base))
            .header(CONTENT_TYPE, content_type)
            .body(body.into())
    }

    /// A JSON message to acme-wms, signed with its secret at `timestamp`.
    fn signed(&self, id: &str, timestamp: i64, body: &[u8]) -> RequestBuilder {
        let signature = WebhookSecret::parse(WMS_SECRET)
            .unwrap()
            .sign(id, timestamp, body);
        self.with_webhook_headers(id, &timestamp.to_string(), &signature, body)
    }

    /// A JSON message to acme-wms with these webhook headers.
    fn with_webhook_headers(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> RequestBuilder {
        self.post("acme-wms", "application/json", body)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .header("transload-kind", "pick_complete")
    }

    async fn stop(self) {
        self.server.abort();
        self.backend.destroy().await;
    }
}

/// The body of `response` as JSON.
async fn json(response: Response) -> Value {
    let bytes = response.bytes().await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&bytes)))
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Asserts an RFC 9457 answer of `status` and problem type `slug`; returns its body.
async fn problem(response: Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{slug}");
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/problem+json",
        "{slug}"
    );
    let body: Value = json(response).await;
    assert_eq!(
        body["type"],
        format!("https://transload.invalid/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(
        body["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with("urn:uuid:")),
        "{body}"
    );
    body
}

// ---------------------------------------------------------------------------------------
// Accepting, and recognising replays
// ---------------------------------------------------------------------------------------

async fn signed_webhook_is_accepted_durably_then_replays_are_refused(backend: Backend) {
    let hub = Hub::start(backend, &intake_config()).await;
    let response = hub.signed("msg_2b8f1", now(), PICK).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = json(response).await;
    assert_eq!(body["status"], "accepted");
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/v1/partners/acme-wms/messages/{id}"));
    assert_eq!(body["links"]["self"], location);

    // The raw message is in the store, the inbound message in the outbox.
    let store = hub.backend.store();
    let raw = store.raw_message(id).await.unwrap().expect("stored");
    assert_eq!(raw.body, PICK);
    assert_eq!(raw.tenant.as_str(), "acme");
    assert_eq!(raw.partner.as_str(), "acme-wms");
    assert_eq!(raw.format, "json");
    assert_eq!(raw.dedupe_key.as_str(), "acme-wms:webhook-id:msg_2b8f1");
    assert_eq!(raw.metadata["webhook-id"], "msg_2b8f1");
    assert_eq!(raw.metadata["auth"], "signature");
    assert_eq!(raw.metadata["content-type"], "application/json");
    let outbox = store.pending_outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].stage, Stage::Inbound);
    let message = &outbox[0].message;
    assert_eq!(message.body, PICK);
    for (header, value) in [
        ("transload-tenant", "acme"),
        ("transload-partner", "acme-wms"),
        ("transload-format", "json"),
        ("transload-kind", "pick_complete"),
        ("transload-endpoint", "http"),
        ("transload-raw-id", id.to_string().as_str()),
    ] {
        assert_eq!(message.headers[header], value, "{header}");
    }
    assert_eq!(hub.backend.counts().await, (1, 1));

    // The same webhook id again (freshly signed, even another body): 409, nothing new.
    for body in [PICK, br#"{"event":"pick_complete","order":"SO-1002"}"#] {
        let response = hub.signed("msg_2b8f1", now(), body).send().await.unwrap();
        let problem = problem(response, 409, "duplicate-message").await;
        assert_eq!(problem["raw_message_id"], id.to_string());
        assert_eq!(problem["duplicate_by"], "webhook-id");
    }
    assert_eq!(hub.backend.counts().await, (1, 1));

    // The message can be looked up where Location says, with a key of the tenant.
    let response = hub
        .client
        .get(format!("{}{location}", hub.base))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let found: Value = json(response).await;
    assert_eq!(found["id"], id.to_string());
    assert_eq!(found["bytes"], PICK.len());
    let response = hub
        .client
        .get(format!("{}{location}", hub.base))
        .bearer_auth(GLOBEX_KEY)
        .send()
        .await
        .unwrap();
    problem(response, 403, "wrong-tenant").await;
    let response = hub
        .client
        .get(format!("{}/v1/partners/acme-erp/messages/{id}", hub.base))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    problem(response, 404, "unknown-message").await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_signed_webhook_is_accepted_durably_then_replays_are_refused() {
    signed_webhook_is_accepted_durably_then_replays_are_refused(Backend::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_signed_webhook_is_accepted_durably_then_replays_are_refused() {
    signed_webhook_is_accepted_durably_then_replays_are_refused(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_senders_are_deduplicated_by_idempotency_key_or_content() {
    let hub = Hub::start(Backend::sqlite().await, &intake_config()).await;
    let send = |body: &'static [u8], content_type: &str, key: Option<&str>| {
        let mut request = hub
            .post("acme-erp", content_type, body)
            .bearer_auth(ACME_KEY);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    // One per format; text/plain is read as X12 when it starts with ISA.
    let mut ids = Vec::new();
    for (body, content_type) in [
        (
            &br#"{"order":"SO-1"}"#[..],
            "application/json; charset=utf-8",
        ),
        (ASN, "application/xml"),
        (X12_214, "text/plain"),
    ] {
        let response = send(body, content_type, None).await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{content_type}");
        let body: Value = json(response).await;
        ids.push(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let raw = hub
        .backend
        .store()
        .raw_message(ids[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.format, "x12");
    assert_eq!(raw.metadata["auth"], "api-key:acme-oms");
    assert!(raw.dedupe_key.as_str().starts_with("acme-erp:sha256:"));

    // The same bytes again, without a key: a replay by content.
    let response = send(ASN, "text/xml", None).await.unwrap();
    let body = problem(response, 409, "duplicate-message").await;
    assert_eq!(body["raw_message_id"], ids[1].to_string());
    assert_eq!(body["duplicate_by"], "content");

    // An Idempotency-Key names the message, whatever the bytes.
    let response = send(
        br#"{"order":"SO-2"}"#,
        "application/json",
        Some("order-SO-2"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let first: Value = json(response).await;
    let response = send(
        br#"{"order":"SO-2","v":2}"#,
        "application/json",
        Some("order-SO-2"),
    )
    .await
    .unwrap();
    let body = problem(response, 409, "duplicate-message").await;
    assert_eq!(body["raw_message_id"], first["id"]);
    assert_eq!(body["duplicate_by"], "Idempotency-Key");
    assert_eq!(hub.backend.counts().await, (4, 4));
    hub.stop().await;
}

// ---------------------------------------------------------------------------------------
// Refusals: each answers problem+json and writes nothing
// ---------------------------------------------------------------------------------------

async fn refusals_answer_problems_and_write_nothing(backend: Backend) {
    let hub = Hub::start(backend, &intake_config()).await;
    let erp = |content_type: &str, body: &[u8]| {
        hub.post("acme-erp", content_type, body.to_vec())
            .bearer_auth(ACME_KEY)
    };
    let fresh = || format!("msg_{}", Uuid::now_v7().simple());

    // (request, status, problem type, check of the body)
    type Check = fn(&Value);
    let no_check: Check = |_| {};
    let cases: Vec<(&str, RequestBuilder, u16, &str, Check)> = vec![
        (
            "bad signature",
            hub.with_webhook_headers(
                &fresh(),
                &now().to_string(),
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                PICK,
            ),
            401,
            "bad-signature",
            no_check,
        ),
        (
            "body changed after signing",
            {
                let id = fresh();
                let ts = now();
                let signature = WebhookSecret::parse(WMS_SECRET).unwrap().sign(&id, ts, PICK);
                hub.post("acme-wms", "application/json", br#"{"event":"pick_complete","order":"SO-9"}"#.to_vec())
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
            },
            401,
            "bad-signature",
            no_check,
        ),
        (
            "old timestamp",
            hub.signed(&fresh(), now() - 600, PICK),
            401,
            "stale-timestamp",
            |body| {
                assert!(body["detail"].as_str().unwrap().contains("replay or clock skew"));
                assert!(body["skew_secs"].as_i64().unwrap() >= 600);
            },
        ),
        (
            "future timestamp",
            hub.signed(&fresh(), now() + 600, PICK),
            401,
            "stale-timestamp",
            no_check,
        ),
        (
            "timestamp not a number",
            hub.with_webhook_headers(&fresh(), "yesterday", "v1,AAAA", PICK),
            401,
            "bad-timestamp",
            no_check,
        ),
        (
            "signing partner without signature",
            hub.post("acme-wms", "application/json", PICK),
            401,
            "missing-credentials",
            no_check,
        ),
        (
            "signing partner with a key but no signature",
            hub.post("acme-wms", "application/json", PICK)
                .bearer_auth(ACME_KEY)
                .header("webhook-id", fresh()),
            401,
            "missing-signature",
            no_check,
        ),
        (
            "missing API key",
            hub.post("acme-erp", "application/json", PICK),
            401,
            "missing-credentials",
            no_check,
        ),
        (
            "unknown API key",
            hub.post("acme-erp", "application/json", PICK).bearer_auth("guess"),
            401,
            "invalid-api-key",
            no_check,
        ),
        (
            "not a bearer token",
            hub.post("acme-erp", "application/json", PICK)
                .basic_auth("acme", Some(ACME_KEY)),
            401,
            "malformed-authorization",
            no_check,
        ),
        (
            "another tenant's key",
            hub.post("acme-erp", "application/json", PICK)
                .bearer_auth(GLOBEX_KEY),
            403,
            "wrong-tenant",
            |body| assert!(body["detail"].as_str().unwrap().contains("globex-oms")),
        ),
        (
            "another tenant's key beside a valid signature",
            hub.signed(&fresh(), now(), PICK).bearer_auth(GLOBEX_KEY),
            403,
            "wrong-tenant",
            no_check,
        ),
        (
            "unknown partner",
            hub.post("nobody", "application/json", PICK).bearer_auth(ACME_KEY),
            404,
            "unknown-partner",
            no_check,
        ),
        (
            "partner id that is no id",
            hub.post("ACME%20WMS", "application/json", PICK).bearer_auth(ACME_KEY),
            404,
            "unknown-partner",
            no_check,
        ),
        (
            "unsupported content type",
            erp("image/png", PICK),
            415,
            "unsupported-media-type",
            no_check,
        ),
        (
            "text/plain that is no X12",
            erp("text/plain", b"hello"),
            415,
            "unsupported-media-type",
            no_check,
        ),
        (
            "a format the partner does not send",
            {
                let id = fresh();
                let ts = now();
                let signature = WebhookSecret::parse(WMS_SECRET).unwrap().sign(&id, ts, ASN);
                hub.post("acme-wms", "application/xml", ASN)
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
            },
            415,
            "unsupported-media-type",
            no_check,
        ),
        (
            "oversized signed body",
            {
                let mut big = br#"{"pad":""#.to_vec();
                big.resize(MAX_BODY + 1, b'x');
                hub.signed(&fresh(), now(), &big)
            },
            413,
            "payload-too-large",
            |body| assert_eq!(body["max_body_bytes"], MAX_BODY),
        ),
        (
            "oversized body with a key",
            erp("application/edi-x12", &vec![b'~'; 3 * MAX_BODY]),
            413,
            "payload-too-large",
            no_check,
        ),
        (
            "malformed JSON",
            erp("application/json", b"{\n  \"order\": \"SO-1\",\n  \"qty\": 4,,\n}"),
            400,
            "malformed-body",
            |body| {
                assert_eq!(body["format"], "JSON");
                assert_eq!(body["errors"][0]["line"], 3);
                assert_eq!(body["errors"][0]["column"], 12);
            },
        ),
        (
            "malformed XML",
            erp("application/xml", b"<asn>\n  <line sku=\"A-1\">\n</asn>\n"),
            400,
            "malformed-body",
            |body| {
                assert_eq!(body["format"], "XML");
                assert_eq!(body["errors"][0]["line"], 3, "{body}");
                assert!(body["errors"][0]["offset"].is_u64(), "{body}");
                assert!(body["errors"][0]["column"].is_u64(), "{body}");
            },
        ),
        (
            "XML with a DOCTYPE",
            erp(
                "text/xml",
                b"<?xml version=\"1.0\"?>\n<!DOCTYPE asn [<!ENTITY lol \"lol\">]>\n<asn>&lol;</asn>",
            ),
            400,
            "malformed-body",
            |body| {
                assert!(body["errors"][0]["message"].as_str().unwrap().contains("DOCTYPE"));
                assert_eq!(body["errors"][0]["line"], 2);
            },
        ),
        (
            "malformed X12",
            erp(
                "application/edi-x12",
                String::from_utf8_lossy(X12_214)
                    .replace("SE*3*0001", "SE*7*0001")
                    .as_bytes(),
            ),
            400,
            "malformed-body",
            |body| {
                assert_eq!(body["format"], "X12");
                let error = &body["errors"][0];
                assert!(error["code"].as_str().unwrap().starts_with("X12-E"), "{body}");
                assert_eq!(error["segment"], 5, "{body}");
                assert!(error["offset"].as_u64().unwrap() > 106, "{body}");
            },
        ),
        (
            "X12 without ISA",
            erp("application/x12", b"ST*214*0001~SE*1*0001~"),
            400,
            "malformed-body",
            no_check,
        ),
        (
            "unusable document kind",
            erp("application/json", br#"{"a":1}"#).header("transload-kind", "Pick Complete"),
            400,
            "invalid-header",
            no_check,
        ),
    ];
    let count = cases.len();
    for (name, request, status, slug, check) in cases {
        let response = request.send().await.unwrap();
        let body = problem(response, status, slug).await;
        check(&body);
        assert_eq!(hub.backend.counts().await, (0, 0), "{name} wrote something");
    }
    assert!(count >= 20);

    // A route with another method: 405, Allow, still problem+json.
    let response = hub
        .client
        .get(format!("{}/v1/partners/acme-erp/messages", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    problem(response, 405, "method-not-allowed").await;
    assert_eq!(hub.backend.counts().await, (0, 0));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refusals_answer_problems_and_write_nothing() {
    refusals_answer_problems_and_write_nothing(Backend::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusals_answer_problems_and_write_nothing() {
    refusals_answer_problems_and_write_nothing(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_refused_while_it_streams() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let hub = Hub::start(Backend::sqlite().await, &intake_config()).await;
    let address = hub.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/partners/acme-erp/messages HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {ACME_KEY}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No Content-Length: the limit can only be found while reading.
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..(MAX_BODY / chunk.len() + 2) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await
        };
        if sent.await.is_err() {
            break; // the hub answered and closed: fine, the answer is read below
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("payload-too-large"), "{answer}");
    assert_eq!(hub.backend.counts().await, (0, 0));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_refused_with_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let config = IntakeConfig {
        body_timeout_secs: 1,
        ..intake_config()
    };
    let hub = Hub::start(Backend::sqlite().await, &config).await;
    let address = hub.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/partners/acme-erp/messages HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {ACME_KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"order\":"
    );
    let started = std::time::Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    // ...and the other 90 bytes never come.
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the hub answers without the body")
    .unwrap();
    let waited = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("body-timeout"), "{answer}");
    assert!(
        (900..5000).contains(&waited.as_millis()),
        "answered after {waited:?}"
    );
    assert_eq!(hub.backend.counts().await, (0, 0));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_failure_answers_503_and_the_unit_is_rolled_back() {
    let hub = Hub::start(Backend::postgres().await, &intake_config()).await;
    let Backend::Postgres { url, .. } = &hub.backend else {
        unreachable!()
    };
    let sql = postgres_client(url).await;
    // The raw message insert succeeds, the outbox insert fails: the whole unit must go.
    sql.batch_execute("ALTER TABLE outbox RENAME TO outbox_away")
        .await
        .unwrap();
    let response = hub.signed("msg_503", now(), PICK).send().await.unwrap();
    assert_eq!(response.headers()[RETRY_AFTER], "5");
    let body = problem(response, 503, "store-unavailable").await;
    assert!(
        !body["detail"].as_str().unwrap().contains("outbox"),
        "no internals in the answer: {body}"
    );
    sql.batch_execute("ALTER TABLE outbox_away RENAME TO outbox")
        .await
        .unwrap();
    assert_eq!(hub.backend.counts().await, (0, 0), "nothing was written");
    // The sender tries again: accepted, once.
    let response = hub.signed("msg_503", now(), PICK).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(hub.backend.counts().await, (1, 1));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after_per_key_and_per_signing_partner() {
    // Signing partners get `[intake] rate_limit`: bursts of 2 here.
    let config = IntakeConfig {
        rate_limit: limit(1, 2),
        ..intake_config()
    };
    let hub = Hub::start(Backend::sqlite().await, &config).await;
    let limited = |response: Response| async move {
        let retry_after: u64 = response.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry_after), "{retry_after}");
        let body = problem(response, 429, "rate-limited").await;
        assert_eq!(body["retry_after_secs"], retry_after);
    };

    // The key with its own limit (1/s, bursts of 2).
    for n in 0..2 {
        let response = hub
            .post("acme-erp", "application/json", format!("{{\"n\":{n}}}"))
            .bearer_auth(ACME_SLOW_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let response = hub
        .post("acme-erp", "application/json", b"{\"n\":2}".to_vec())
        .bearer_auth(ACME_SLOW_KEY)
        .send()
        .await
        .unwrap();
    limited(response).await;
    // Another key of the same tenant is not slowed down.
    let response = hub
        .post("acme-erp", "application/json", b"{\"n\":3}".to_vec())
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // The signing partner: refused signatures do not spend its tokens.
    let bad = hub
        .with_webhook_headers("msg_bad", &now().to_string(), "v1,AAAA", PICK)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    for n in 0..2 {
        let response = hub
            .signed(&format!("msg_{n}"), now(), PICK)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let response = hub.signed("msg_2", now(), PICK).send().await.unwrap();
    limited(response).await;
    assert_eq!(
        hub.backend.counts().await,
        (5, 5),
        "refused requests wrote nothing"
    );

    // After the Retry-After, the key is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = hub
        .post("acme-erp", "application/json", b"{\"n\":4}".to_vec())
        .bearer_auth(ACME_SLOW_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    hub.stop().await;
}

// ---------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_truncated_bodies_never_get_a_server_error() {
    let hub = Hub::start(Backend::sqlite().await, &intake_config()).await;
    let mut rng = fastrand::Rng::with_seed(0x1a7e_5eed);
    let samples: [(&str, &[u8]); 5] = [
        ("application/json", PICK),
        ("application/xml", ASN),
        (
            "text/xml",
            b"<a><b x='1'>&amp;&#x41;<![CDATA[x]]></b><!-- c --></a>",
        ),
        ("application/edi-x12", X12_214),
        ("text/plain", X12_214),
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut sent = 0;
    for (content_type, sample) in samples {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        // Every truncation at a stride, and the sample with random bytes flipped.
        for end in (0..sample.len()).step_by(7) {
            bodies.push(sample[..end].to_vec());
        }
        for _ in 0..20 {
            let mut body = sample.to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..body.len());
                body[at] = rng.u8(..);
            }
            bodies.push(body);
        }
        for _ in 0..20 {
            let len = rng.usize(0..512);
            bodies.push((0..len).map(|_| rng.u8(..)).collect());
        }
        for body in bodies {
            let response = hub
                .post("acme-erp", content_type, body.clone())
                .bearer_auth(ACME_KEY)
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(
                !status.is_server_error(),
                "{content_type} {:?} got {status}",
                String::from_utf8_lossy(&body)
            );
            if status != StatusCode::ACCEPTED {
                assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
            }
            *statuses.entry(status.as_u16()).or_default() += 1;
            sent += 1;
        }
    }
    assert!(sent > 200, "{sent}");
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    hub.stop().await;
}

// ---------------------------------------------------------------------------------------
// The binary, and the API description
// ---------------------------------------------------------------------------------------

/// `transload run` on a configuration with a partner folder, killed when dropped.
struct RunningHub {
    child: Child,
    address: String,
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transload_run_serves_the_intake_of_its_partner_folder() {
    let dir = std::env::temp_dir().join(format!("transload-intake-run-{}", Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::write(dir.join("partners/acme-wms.toml"), WMS).unwrap();
    std::fs::write(
        dir.join("transload.toml"),
        format!(
            "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n[intake]\nmax_body_bytes = 1000\n\
             [[api_keys]]\nname = \"acme-oms\"\ntenant = \"acme\"\nkey_sha256 = \"{}\"\n",
            sha256_hex(ACME_KEY)
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(["run", "--config"])
        .arg(dir.join("transload.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hub = RunningHub {
        child,
        address: line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned(),
    };
    let client = client();
    let id = "msg_run_1";
    let ts = now();
    let signature = WebhookSecret::parse(WMS_SECRET).unwrap().sign(id, ts, PICK);
    let url = format!("{}/v1/partners/acme-wms/messages", hub.address);
    let response = client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(PICK)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let response = client
        .get(format!("{}{location}", hub.address))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The configured body limit applies.
    let response = client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .bearer_auth(ACME_KEY)
        .body(vec![b' '; 1001])
        .send()
        .await
        .unwrap();
    problem(response, 413, "payload-too-large").await;
    let health = client
        .get(format!("{}/health", hub.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    drop(hub);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hub_with_a_broken_partner_file_does_not_start() {
    let dir = std::env::temp_dir().join(format!("transload-intake-bad-{}", Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    std::fs::write(dir.join("partners/bad.toml"), "id = \"bad\"\ntenant = 7\n").unwrap();
    std::fs::write(
        dir.join("transload.toml"),
        "data_dir = \"data\"\npartners_dir = \"partners\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(["run", "--config"])
        .arg(dir.join("transload.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:2:"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hub_whose_secrets_are_not_in_the_environment_does_not_start() {
    let dir = std::env::temp_dir().join(format!("transload-intake-env-{}", Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    let start = |partner: &str, keys: &str| {
        std::fs::write(dir.join("partners/p.toml"), partner).unwrap();
        std::fs::write(
            dir.join("transload.toml"),
            format!("data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n{keys}"),
        )
        .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_transload"))
            .args(["run", "--config"])
            .arg(dir.join("transload.toml"))
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = start(
        GLOBEX,
        "[[api_keys]]\nname = \"erp\"\ntenant = \"globex\"\nkey_env = \"TRANSLOAD_TEST_UNSET_KEY\"\n",
    );
    assert!(
        stderr
            .contains("API key `erp`: environment variable `TRANSLOAD_TEST_UNSET_KEY` is not set"),
        "{stderr}"
    );
    let stderr = start(
        &WMS.replace(
            "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
            "secret_env = \"TRANSLOAD_TEST_UNSET_SECRET\"",
        ),
        "",
    );
    assert!(
        stderr.contains("partner `acme-wms`: webhook secret")
            && stderr.contains("TRANSLOAD_TEST_UNSET_SECRET"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_openapi_document_describes_every_route_and_status() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let routes: Vec<(&str, &str)> = transload::http::ROUTES
        .iter()
        .chain(transload::intake::ROUTES)
        .chain(transload::loads_api::ROUTES)
        .copied()
        .collect();
    for (method, route) in &routes {
        let operation = &doc["paths"][route][method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {route} is not documented");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method == "parameters" {
                continue;
            }
            assert!(
                routes
                    .iter()
                    .any(|(m, r)| r == path && m.eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not routed"
            );
        }
    }
    let statuses = |method: &str, route: &str| -> Vec<String> {
        doc["paths"][route][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let post = statuses("post", transload::intake::MESSAGES_ROUTE);
    assert!(post.contains(&"202".to_owned()));
    for error in IntakeError::examples() {
        if matches!(error, IntakeError::UnknownMessage { .. }) {
            continue;
        }
        let status = error.status().as_u16().to_string();
        assert!(
            post.contains(&status),
            "POST does not document {status} ({error})"
        );
        let content = &doc["paths"][transload::intake::MESSAGES_ROUTE]["post"]["responses"]
            [&status]["content"]["application/problem+json"];
        assert!(content.is_object(), "{status} is not problem+json");
    }
    let get = statuses("get", transload::intake::MESSAGE_ROUTE);
    for status in ["200", "401", "403", "404", "429", "503"] {
        assert!(
            get.contains(&status.to_owned()),
            "GET does not document {status}"
        );
    }
    for route in ["/health", "/ready"] {
        assert!(statuses("get", route).contains(&"200".to_owned()));
    }
}
