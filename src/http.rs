//! The hub's HTTP API. Today: liveness and readiness; the intake endpoints arrive with
//! the connectors issue (#5) and /metrics with the observability issue (#7).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configured bus, as named in the configuration.
    pub bus: &'static str,
    /// The configured store, as named in the configuration.
    pub store: &'static str,
}

/// The router of the HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
}

/// Liveness: the process answers.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the hub can take traffic.
async fn ready(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ready", "bus": state.bus, "store": state.store }))
}
