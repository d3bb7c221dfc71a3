//! The hub's HTTP API: liveness, readiness and the partner intake ([`crate::intake`]);
//! /metrics arrives with the observability issue (#7). `schemas/openapi.json` documents
//! every route.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use transload_core::store::Store;

use crate::intake::IntakeState;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configured bus, as named in the configuration.
    pub bus: &'static str,
    /// The configured store, as named in the configuration.
    pub store: &'static str,
}

/// The routes of this module, as `(method, path)` (the intake's are in
/// [`crate::intake::ROUTES`]).
pub const ROUTES: &[(&str, &str)] = &[("GET", "/health"), ("GET", "/ready")];

/// The router of the HTTP API without the intake (health and readiness).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

/// The whole HTTP API: health, readiness and the partner intake.
pub fn hub_router<S: Store>(state: AppState, intake: IntakeState<S>) -> Router {
    router(state).merge(crate::intake::router(intake))
}

/// Liveness: the process answers.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the hub can take traffic.
async fn ready(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ready", "bus": state.bus, "store": state.store }))
}
