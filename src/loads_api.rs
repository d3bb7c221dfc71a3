//! The orchestrator's HTTP API, for a tenant's systems and operators (Bearer API key of
//! the tenant, as for the intake):
//!
//! - `GET /v1/carriers`: the carriers and contracts the hub decides with, those whose
//!   partner profile belongs to the key's tenant;
//! - `GET /v1/loads/{load}`: a load of the key's tenant: its state and decision records
//!   (another tenant's load is a 404, as a load that does not exist);
//! - `POST /v1/loads/{load}/overrides`: a person's decision (`{"override": "approve",
//!   "by": "alice", "reason": "…"}` or `"retender"` with an optional `"carrier"`), queued
//!   for the decide stage through the store's outbox (202); the decide stage applies it
//!   to the load's current state and writes it to the audit log with who and why.
//!
//! Errors answer RFC 9457 `application/problem+json`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde_json::{Value, json};
use transload_connectors::partner::PartnerDirectory;
use transload_core::bus::Stage;
use transload_core::ids::{ShipperLoadId, TenantId};
use transload_core::store::{AuditEntry, StateKey, Store, StoreError, UnitOfWork};
use transload_orchestrator::carrier::CarrierMaster;
use transload_orchestrator::load::LOAD_KIND;
use transload_orchestrator::process::Override;
use uuid::Uuid;

use crate::intake::auth::{ApiKeys, bearer_token};
use crate::intake::problem::{PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE};
use crate::stages::decide::OverrideMessage;

/// The carriers route.
pub const CARRIERS_ROUTE: &str = "/v1/carriers";
/// The load route.
pub const LOAD_ROUTE: &str = "/v1/loads/{load}";
/// The overrides route.
pub const OVERRIDES_ROUTE: &str = "/v1/loads/{load}/overrides";

/// The routes of this module, as `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", CARRIERS_ROUTE),
    ("GET", LOAD_ROUTE),
    ("POST", OVERRIDES_ROUTE),
];

/// What the handlers share.
#[derive(Debug)]
pub struct LoadsApi<S> {
    store: S,
    keys: ApiKeys,
    carriers: Option<Arc<CarrierMaster>>,
    partners: Arc<PartnerDirectory>,
}

impl<S: Store> LoadsApi<S> {
    /// The API over `store`, authenticating with `keys`; `carriers` is the master the
    /// decide stage uses (none when the hub runs no orchestrator), each carrier shown to
    /// the tenant of its partner profile in `partners` only.
    #[must_use]
    pub fn new(
        store: S,
        keys: ApiKeys,
        carriers: Option<Arc<CarrierMaster>>,
        partners: Arc<PartnerDirectory>,
    ) -> Self {
        Self {
            store,
            keys,
            carriers,
            partners,
        }
    }
}

/// The routes, to merge into the hub's router.
pub fn router<S: Store>(api: LoadsApi<S>) -> Router {
    Router::new()
        .route(CARRIERS_ROUTE, get(carriers::<S>))
        .route(LOAD_ROUTE, get(load::<S>))
        .route(OVERRIDES_ROUTE, post(override_load::<S>))
        .with_state(Arc::new(api))
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or an unknown API key.
    #[error("an API key of the tenant is needed: Authorization: Bearer <key>")]
    Unauthorized,
    /// The hub runs no orchestrator.
    #[error("this hub runs no orchestrator (no [orchestrator] table)")]
    NoOrchestrator,
    /// No such load for the key's tenant.
    #[error("tenant {tenant} has no load {load}")]
    UnknownLoad {
        /// The tenant.
        tenant: TenantId,
        /// The load as requested.
        load: String,
    },
    /// The body is not an override.
    #[error("not an override: {0}")]
    BadOverride(String),
    /// The store failed.
    #[error("the store cannot be used now: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NoOrchestrator | ApiError::UnknownLoad { .. } => StatusCode::NOT_FOUND,
            ApiError::BadOverride(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::NoOrchestrator => "no-orchestrator",
            ApiError::UnknownLoad { .. } => "unknown-load",
            ApiError::BadOverride(_) => "bad-override",
            ApiError::Store(_) => "store-unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let instance = Uuid::now_v7();
        if status.is_server_error() {
            tracing::warn!(%instance, error = %self, "loads API");
        }
        let body = json!({
            "type": format!("{PROBLEM_TYPE_BASE}{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
            "instance": format!("urn:uuid:{instance}"),
        });
        let mut response = (status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"transload\""),
            );
        }
        response
    }
}

fn tenant_of<S>(api: &LoadsApi<S>, headers: &HeaderMap) -> Result<TenantId, ApiError> {
    let token = bearer_token(headers)
        .ok()
        .flatten()
        .ok_or(ApiError::Unauthorized)?;
    api.keys
        .find(token)
        .map(|key| key.tenant.clone())
        .ok_or(ApiError::Unauthorized)
}

async fn carriers<S: Store>(
    State(api): State<Arc<LoadsApi<S>>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&api, &headers)?;
    let master = api.carriers.as_ref().ok_or(ApiError::NoOrchestrator)?;
    // The key's tenant's carriers only: those whose partner profile is the tenant's.
    let carriers: Vec<&transload_orchestrator::Carrier> = master
        .iter()
        .filter(|carrier| {
            api.partners
                .get(&carrier.id)
                .is_some_and(|profile| profile.tenant == tenant)
        })
        .collect();
    Ok(Json(json!({ "carriers": carriers })))
}

async fn load<S: Store>(
    State(api): State<Arc<LoadsApi<S>>>,
    headers: HeaderMap,
    Path(load): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&api, &headers)?;
    let key = StateKey {
        tenant: tenant.clone(),
        kind: LOAD_KIND.to_owned(),
        key: load.clone(),
    };
    let record = api
        .store
        .load_state(&key)
        .await?
        .ok_or_else(|| ApiError::UnknownLoad {
            tenant: tenant.clone(),
            load: load.clone(),
        })?;
    let decisions: Vec<Value> = api
        .store
        .audit_log(&tenant, &load)
        .await?
        .into_iter()
        .map(|entry| {
            json!({
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "details": entry.details,
            })
        })
        .collect();
    Ok(Json(json!({
        "load": load,
        "version": record.version,
        "state": record.value,
        "decisions": decisions,
    })))
}

async fn override_load<S: Store>(
    State(api): State<Arc<LoadsApi<S>>>,
    headers: HeaderMap,
    Path(load): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&api, &headers)?;
    let decision: Override =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadOverride(e.to_string()))?;
    if decision.by().trim().is_empty() {
        return Err(ApiError::BadOverride("`by` names who decides".to_owned()));
    }
    let id = submit_override(&api.store, &tenant, &load, decision).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "override": id.to_string(), "load": load, "status": "queued" })),
    )
        .into_response())
}

/// Queues `decision` about `load` of `tenant` for the decide stage (through the outbox,
/// with an `override_requested` audit entry); returns the message id.
///
/// # Errors
/// [`ApiError::UnknownLoad`] when the tenant has no such load, [`ApiError::Store`] when
/// the store fails.
pub async fn submit_override<S: Store>(
    store: &S,
    tenant: &TenantId,
    load: &str,
    decision: Override,
) -> Result<Uuid, ApiError> {
    let unknown = || ApiError::UnknownLoad {
        tenant: tenant.clone(),
        load: load.to_owned(),
    };
    let key = StateKey {
        tenant: tenant.clone(),
        kind: LOAD_KIND.to_owned(),
        key: load.to_owned(),
    };
    if store.load_state(&key).await?.is_none() {
        return Err(unknown());
    }
    let request = OverrideMessage {
        tenant: tenant.clone(),
        load: ShipperLoadId::new(load).map_err(|_| unknown())?,
        decision,
    };
    let message = request
        .to_message()
        .map_err(|e| ApiError::BadOverride(e.to_string()))?;
    let id = message.id;
    store
        .commit(UnitOfWork {
            outbox: vec![(Stage::Events, message)],
            audit: vec![AuditEntry {
                tenant: tenant.clone(),
                actor: format!("operator:{}", request.decision.by()),
                action: "override_requested".to_owned(),
                subject: load.to_owned(),
                details: serde_json::to_value(&request.decision).unwrap_or_default(),
                at: Timestamp::now(),
            }],
            ..UnitOfWork::default()
        })
        .await?;
    Ok(id)
}
