//! The hub's HTTP API: liveness, readiness, Prometheus metrics and the partner intake
//! ([`crate::intake`]). `schemas/openapi.json` documents every route.
//!
//! `/health` is liveness: the process answers. `/ready` is readiness: with the hub's
//! [`Backends`], it checks that the bus and the store answer now (each within
//! [`PROBE_TIMEOUT`]) and answers 503 (`application/problem+json`) when one does not.
//! `/metrics` renders the process's Prometheus recorder ([`crate::metrics`]).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use transload_core::bus::Stage;
use transload_core::store::Store;
use uuid::Uuid;

use crate::bus::AnyBus;
use crate::intake::IntakeState;
use crate::intake::problem::{PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE};
use crate::metrics;
use crate::store::AnyStore;

/// The content type of `/metrics`: the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long `/ready` waits for the bus or the store to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The consumer name `/ready` asks the store about (with the nil message id, which no
/// stage ever processes).
const READINESS_CONSUMER: &str = "transload-readiness-probe";

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configured bus, as named in the configuration.
    pub bus: &'static str,
    /// The configured store, as named in the configuration.
    pub store: &'static str,
}

/// The running bus and store, for `/ready` to probe and `/metrics` to sample.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The bus.
    pub bus: AnyBus,
    /// The store.
    pub store: AnyStore,
}

/// The state of this module's routes.
#[derive(Debug, Clone)]
struct Api {
    names: AppState,
    backends: Option<Backends>,
}

/// The routes of this module, as `(method, path)` (the intake's are in
/// [`crate::intake::ROUTES`]).
pub const ROUTES: &[(&str, &str)] = &[("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")];

/// Health, readiness and metrics, without probes: `/ready` answers from the
/// configuration alone.
pub fn router(state: AppState) -> Router {
    routes(state, None)
}

/// The whole HTTP API without probes: health, readiness, metrics and the partner intake.
pub fn hub_router<S: Store>(state: AppState, intake: IntakeState<S>) -> Router {
    router(state).merge(crate::intake::router(intake))
}

/// The whole HTTP API of a running hub: `/ready` probes `backends`, `/metrics` samples
/// their queue depths.
pub fn hub_router_with_backends<S: Store>(
    state: AppState,
    intake: IntakeState<S>,
    backends: Backends,
) -> Router {
    routes(state, Some(backends)).merge(crate::intake::router(intake))
}

fn routes(names: AppState, backends: Option<Backends>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(Api { names, backends })
}

/// Liveness: the process answers.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the hub can take traffic (its bus and store answer now).
async fn ready(State(api): State<Api>) -> Response {
    let names = &api.names;
    let body = json!({ "status": "ready", "bus": names.bus, "store": names.store });
    let Some(backends) = &api.backends else {
        return Json(body).into_response();
    };
    let (bus, store) = tokio::join!(probe_bus(&backends.bus), probe_store(&backends.store));
    if bus.is_ok() && store.is_ok() {
        return Json(body).into_response();
    }
    let mut failures = Vec::new();
    if let Err(reason) = &bus {
        failures.push(format!("the bus ({}): {reason}", names.bus));
    }
    if let Err(reason) = &store {
        failures.push(format!("the store ({}): {reason}", names.store));
    }
    let detail = failures.join("; ");
    let check = |result: &Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(reason) => reason.clone(),
    };
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "Not ready",
        &detail,
        json!({
            "bus": names.bus,
            "store": names.store,
            "checks": { "bus": check(&bus), "store": check(&store) },
        }),
    )
}

async fn probe_bus(bus: &AnyBus) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, bus.probe()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

async fn probe_store(store: &AnyStore) -> Result<(), String> {
    let query = store.is_processed(READINESS_CONSUMER, Uuid::nil());
    match tokio::time::timeout(PROBE_TIMEOUT, query).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

/// The Prometheus metrics of this process.
async fn metrics_text(State(api): State<Api>) -> Response {
    if let Some(backends) = &api.backends {
        sample_queue_depths(&backends.bus).await;
    }
    match metrics::render() {
        Ok(text) => ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(reason) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics-unavailable",
            "Metrics unavailable",
            &format!("the Prometheus recorder could not be installed: {reason}"),
            json!({}),
        ),
    }
}

/// Sets the queue-depth gauges, where the bus counts cheaply (the embedded bus); a
/// failure only costs the gauges their update.
async fn sample_queue_depths(bus: &AnyBus) {
    let bus = bus.clone();
    let depths = tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio::task::spawn_blocking(move || bus.depths()),
    )
    .await;
    match depths {
        Ok(Ok(Ok(Some(depths)))) => {
            for (stage, depth) in depths {
                metrics::queue_depth(reader_of(stage), depth);
            }
        }
        Ok(Ok(Ok(None))) => {}
        Ok(Ok(Err(error))) => tracing::debug!(%error, "cannot count the queues"),
        Ok(Err(error)) => tracing::debug!(%error, "cannot count the queues"),
        Err(_) => tracing::debug!("counting the queues took too long"),
    }
}

/// The stage (worker) that reads the queue of `stage`: the `stage` label.
fn reader_of(stage: Stage) -> &'static str {
    match stage {
        Stage::Inbound => "translate",
        Stage::Events => "decide",
        Stage::Outbound => "deliver",
    }
}

/// An RFC 9457 problem answer, logged under its `instance`; `extra` (an object) adds
/// members.
fn problem(status: StatusCode, slug: &str, title: &str, detail: &str, extra: Value) -> Response {
    let instance = format!("urn:uuid:{}", Uuid::now_v7());
    tracing::warn!(%instance, status = status.as_u16(), problem = slug, %detail, "operations endpoint failed");
    let mut body = json!({
        "type": format!("{PROBLEM_TYPE_BASE}{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": instance,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (
        status,
        [(CONTENT_TYPE, PROBLEM_CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}
