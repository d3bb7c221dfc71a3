//! `transload demo`: plays a day of sample messages through a running hub.
//!
//! The demo is every partner around the hub at once: the OMS posts signed orders, the WMS
//! signed pick completions, and each carrier of the configuration answers its tenders:
//! the X12 carriers (a `[file_drop]` and a 204 outbound route) by reading the 204s the hub
//! writes to `<drop>/outbound/` and dropping 997, 990, 214 and 210 files in their folder;
//! the REST carriers (an `[endpoint]` on this machine) with a small simulator listening on
//! the endpoint's address, which answers through the intake (a JSON tender response, then
//! 214 and 210 as X12). Hazmat loads wait for a person's approval: the demo gives it the way
//! `transload load approve` does, and says so. Some tenders are declined (the waterfall
//! moves to the next carrier), one load runs late, one invoice bills fuel above tolerance.
//! At the end it prints what the store says about the loads it played.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::State;
use axum::routing::post;
use indicatif::{ProgressBar, ProgressStyle};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use transload::config::Config;
use transload::stages::decide::OverrideMessage;
use transload::store::AnyStore;
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_core::bus::Stage;
use transload_core::ids::ShipperLoadId;
use transload_core::store::{AuditEntry, StateKey, Store, UnitOfWork};
use transload_orchestrator::load::LOAD_KIND;
use transload_orchestrator::process::Override;

mod cast;
mod summary;
mod x12_carrier;

use cast::{Carrier, Cast};

/// `transload demo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// The configuration of the running hub (its partners, carriers and store).
    #[arg(long, short, default_value = "examples/quickstart/transload.toml")]
    config: PathBuf,
    /// The hub's HTTP address (default: `[http] listen` of the configuration).
    #[arg(long)]
    url: Option<String>,
    /// How many orders to play.
    #[arg(long, default_value_t = 20)]
    orders: usize,
    /// Pace of the day: 2 plays it twice as fast, 0.5 at half speed.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Give up waiting for the loads after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

/// Plays the day; exit status 1 when the hub does not answer `/ready` or a load does not
/// finish in time.
pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(play(args))
}

/// One order of the day, and how far the demo took its load.
#[derive(Debug, Default)]
struct DemoLoad {
    index: usize,
    order: String,
    load: String,
    hazmat: bool,
    late: bool,
    fuel_over: bool,
    destination: &'static str,
    approved: bool,
    departed: bool,
    eta_sent: bool,
    delivered: bool,
    invoiced: bool,
    done: Option<String>,
}

/// Everything the demo keeps while it plays.
struct Demo {
    base: String,
    http: reqwest::Client,
    cast: Cast,
    store: AnyStore,
    bar: ProgressBar,
    isa: u32,
    seen_204: HashSet<PathBuf>,
    tenders_answered: usize,
}

async fn play(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::load(&args.config)?;
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.http.listen))
        .trim_end_matches('/')
        .to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    match http.get(format!("{base}/ready")).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("error: the hub at {base} is not ready ({status}): {body}");
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => {
            eprintln!(
                "error: no hub answers at {base}/ready ({error}); start it first:\n  \
                 transload run --config {}",
                args.config.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let partners = PartnerDirectory::load(&config.partners_dir).map_err(|errors| {
        anyhow::anyhow!(
            "partner profiles: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let cast = Cast::from(&partners)?;
    if config.orchestrator.is_none() {
        bail!("the configuration has no [orchestrator]: nothing would tender the loads");
    }
    let store = transload::backends::open_store(&config).await?;
    let speed = if args.speed.is_finite() && args.speed > 0.0 {
        args.speed
    } else {
        1.0
    };
    let tick = Duration::from_secs_f64((0.4 / speed).clamp(0.05, 5.0));

    // The REST carriers' simulators.
    let (offers_tx, mut offers) = mpsc::unbounded_channel::<(String, Value)>();
    for (profile, address) in &cast.rest {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| {
                format!(
                    "carrier simulator of {} on {address} (its [endpoint] url)",
                    profile.id
                )
            })?;
        let state = (profile.id.to_string(), offers_tx.clone());
        let router = axum::Router::new()
            .fallback(post(simulator))
            .with_state(Arc::new(state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
    }

    println!(
        "transload demo: {} orders against {base} (tenant {}); OMS {}, WMS {}, carriers: {}",
        args.orders,
        cast.tenant,
        cast.oms.id,
        cast.wms.id,
        cast.x12
            .iter()
            .map(|p| format!("{} (X12 files)", p.id))
            .chain(
                cast.rest
                    .iter()
                    .map(|(p, a)| format!("{} (REST, simulated on {a})", p.id))
            )
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bar = ProgressBar::new(args.orders as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:32.cyan/blue} {pos}/{len} loads settled  {msg}",
        )?
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));

    let run = Timestamp::now().as_second().rem_euclid(1_000_000);
    let mut demo = Demo {
        base,
        http,
        cast,
        store,
        bar,
        isa: u32::try_from(run.rem_euclid(100_000)).unwrap_or(0) * 1000,
        seen_204: HashSet::new(),
        tenders_answered: 0,
    };
    // 204s of earlier runs are answered already.
    demo.seen_204 = demo
        .tenders_204()
        .into_iter()
        .map(|(_, _, path)| path)
        .collect();
    let mut loads: Vec<DemoLoad> = (0..args.orders)
        .map(|index| {
            let order = format!("SO-{run:06}-{:02}", index + 1);
            DemoLoad {
                index,
                load: format!("L{order}"),
                order,
                hazmat: index % 5 == 2,
                late: index % 10 == 0,
                fuel_over: index % 10 == 2,
                destination: if index % 2 == 0 { "Atlanta" } else { "Dallas" },
                ..DemoLoad::default()
            }
        })
        .collect();

    // Morning: the OMS sends the orders, the WMS picks them.
    demo.bar.set_message("posting orders");
    for load in &loads {
        demo.order(load).await?;
        tokio::time::sleep(tick / 2).await;
    }
    demo.say(format!(
        "OMS {}: {} orders posted ({} with hazmat lines)",
        demo.cast.oms.id,
        loads.len(),
        loads.iter().filter(|l| l.hazmat).count()
    ));
    demo.bar.set_message("picking");
    for load in &loads {
        demo.wait_decided(&load.order, "order_recorded/").await?;
        demo.pick(load).await?;
        tokio::time::sleep(tick / 2).await;
    }
    demo.say(format!(
        "WMS {}: {} orders picked",
        demo.cast.wms.id,
        loads.len()
    ));

    // The rest of the day: carriers answer, trucks move, invoices come.
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    while loads.iter().any(|l| l.done.is_none()) {
        if Instant::now() > deadline {
            break;
        }
        demo.answer_x12_tenders(&loads)?;
        while let Ok((carrier, offer)) = offers.try_recv() {
            demo.answer_rest_tender(&carrier, &offer, &loads).await?;
        }
        for load in &mut loads {
            if load.done.is_none() {
                demo.advance(load).await?;
            }
        }
        let settled = loads.iter().filter(|l| l.done.is_some()).count();
        demo.bar.set_position(settled as u64);
        tokio::time::sleep(tick).await;
    }
    demo.bar.finish_and_clear();
    let unfinished: Vec<&str> = loads
        .iter()
        .filter(|l| l.done.is_none())
        .map(|l| l.load.as_str())
        .collect();
    demo.summary(&loads).await?;
    if unfinished.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\nnot settled after {} s: {}",
            args.timeout_secs,
            unfinished.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

/// A simulated REST carrier: its partner id, and where the tenders it is sent go.
type Simulated = (String, mpsc::UnboundedSender<(String, Value)>);

/// The REST carrier's endpoint: takes every document the hub sends (tenders as JSON
/// events, anything else is acknowledged and dropped).
async fn simulator(
    State(state): State<Arc<Simulated>>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    if let Ok(event) = serde_json::from_slice::<Value>(&body)
        && at(&event, "/type") == "transload.tender.offered"
    {
        let _ = state.1.send((state.0.clone(), event));
    }
    axum::http::StatusCode::OK
}

impl Demo {
    fn say(&self, line: String) {
        self.bar.suspend(|| println!("  {line}"));
    }

    /// POSTs `body` as `partner`, signed with its webhook secret; expects 202.
    async fn post(
        &self,
        partner: &PartnerProfile,
        kind: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<()> {
        let secret = partner
            .webhook_secret()?
            .with_context(|| format!("partner {} has no webhook secret", partner.id))?;
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let timestamp = Timestamp::now().as_second();
        let signature = secret.sign(&id, timestamp, &body);
        let mut request = self
            .http
            .post(format!("{}/v1/partners/{}/messages", self.base, partner.id))
            .header("content-type", content_type)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        if let Some(kind) = kind {
            request = request.header("transload-kind", kind);
        }
        let response = request.body(body).send().await?;
        let status = response.status();
        if status.as_u16() != 202 {
            bail!(
                "{} POST answered {status}: {}",
                partner.id,
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    async fn order(&self, load: &DemoLoad) -> anyhow::Result<()> {
        let chicago = TimeZone::get("America/Chicago")?;
        let day = chicago
            .to_datetime(Timestamp::now())
            .date()
            .checked_add(3.days())?;
        let deliver_by = day.checked_add(5.days())?;
        let mut items = vec![
            json!({"line": 1, "sku": "SOFA-3S-GRY", "qty": 12, "uom": "EA", "weight_lb": "1080.0"}),
        ];
        if load.hazmat {
            items.push(json!({"line": 2, "sku": "LAMP-OIL-1L", "qty": 40, "uom": "CA", "weight_lb": "380",
                "hazmat": {"un": "UN1223", "class": "3", "packing_group": "III", "name": "Kerosene", "emergency_phone": "+1 800 424 9300"}}));
        }
        let ship_to = if load.destination == "Atlanta" {
            json!({"code": "ST-0412", "name": "Peachtree Home Store 412", "street": "1200 Peachtree St NE", "city": "Atlanta", "state": "GA", "zip": "30309", "country": "US"})
        } else {
            json!({"code": "ST-0288", "name": "Lone Star Home Store 288", "street": "2500 N Pearl St", "city": "Dallas", "state": "TX", "zip": "75201", "country": "US"})
        };
        let body = json!({
            "action": "created",
            "message_id": format!("m-{}", load.order),
            "order": {
                "number": load.order,
                "po": format!("PO-{}", load.order),
                "ship_from": chicago_dc(),
                "ship_to": ship_to,
                "pickup": {"from": format!("{day}T08:00:00"), "to": format!("{day}T15:00:00")},
                "deliver_by": format!("{deliver_by}T16:00:00"),
                "service": "STD",
                "mode": "TL",
                "currency": "USD",
                "items": items
            }
        });
        self.post(
            &self.cast.oms,
            None,
            "application/json",
            serde_json::to_vec(&body)?,
        )
        .await
    }

    async fn pick(&self, load: &DemoLoad) -> anyhow::Result<()> {
        let mut lines =
            vec![json!({"line": 1, "item": "SOFA-3S-GRY", "ordered": 12, "picked": 12})];
        if load.hazmat {
            lines.push(json!({"line": 2, "item": "LAMP-OIL-1L", "ordered": 40, "picked": 40}));
        }
        let mut warehouse = chicago_dc();
        set(&mut warehouse, "timezone", json!("America/Chicago"));
        let body = json!({
            "event": "pick.completed",
            "event_id": format!("p-{}", load.order),
            "order_number": load.order,
            "warehouse": warehouse,
            "completed_at": TimeZone::UTC.to_datetime(Timestamp::now()).strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "lines": lines,
            "total_weight_lb": if load.hazmat { 1460.0 } else { 1080.0 }
        });
        self.post(
            &self.cast.wms,
            Some("pick_complete"),
            "application/json",
            serde_json::to_vec(&body)?,
        )
        .await
    }

    async fn audit(&self, subject: &str) -> anyhow::Result<Vec<AuditEntry>> {
        Ok(self.store.audit_log(&self.cast.tenant, subject).await?)
    }

    /// `action/rule` of the decision records about `subject`.
    async fn decisions(&self, subject: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .audit(subject)
            .await?
            .into_iter()
            .filter(|e| e.action == "decision")
            .map(|e| {
                format!(
                    "{}/{}",
                    at(&e.details, "/action").as_str().unwrap_or("?"),
                    at(&e.details, "/rule").as_str().unwrap_or("?")
                )
            })
            .collect())
    }

    async fn wait_decided(&self, subject: &str, prefix: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .decisions(subject)
            .await?
            .iter()
            .any(|d| d.starts_with(prefix))
        {
            if Instant::now() > deadline {
                bail!("the hub recorded no {prefix}… for {subject} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn state(&self, load: &str) -> anyhow::Result<Value> {
        let key = StateKey {
            tenant: self.cast.tenant.clone(),
            kind: LOAD_KIND.to_owned(),
            key: load.to_owned(),
        };
        Ok(self
            .store
            .load_state(&key)
            .await?
            .map_or(Value::Null, |record| record.value.to_value()))
    }

    /// The REST carrier's answer to a tender it was POSTed.
    async fn answer_rest_tender(
        &mut self,
        carrier: &str,
        offer: &Value,
        loads: &[DemoLoad],
    ) -> anyhow::Result<()> {
        let data = at(offer, "/data");
        let load = at(data, "/shipment/shipper_load_id").as_str().unwrap_or("");
        let tender_id = at(data, "/tender_id").as_str().unwrap_or("");
        let Some(ours) = loads.iter().find(|l| l.load == load) else {
            return Ok(());
        };
        if at(data, "/purpose") != "original" {
            return Ok(());
        }
        let Some(Carrier::Rest(profile)) = self.cast.carrier(carrier) else {
            return Ok(());
        };
        let accept = !declines(ours, tender_id);
        let mut body = json!({
            "load_id": load,
            "tender_id": tender_id,
            "decision": if accept { "accept" } else { "decline" },
        });
        if accept {
            set(
                &mut body,
                "pro_number",
                json!(format!("PRO{}", load.replace('-', ""))),
            );
        } else {
            set(&mut body, "reason", json!("no driver in the area"));
        }
        self.post(
            &profile,
            Some("tender_response"),
            "application/json",
            serde_json::to_vec(&body)?,
        )
        .await?;
        self.tenders_answered += 1;
        self.say(format!(
            "{} (REST): tender {tender_id} received on its API, answered {}",
            profile.id,
            if accept {
                "accept"
            } else {
                "DECLINE (no driver): the waterfall moves on"
            }
        ));
        Ok(())
    }

    /// Takes one load a step further, from what the hub decided so far.
    async fn advance(&mut self, load: &mut DemoLoad) -> anyhow::Result<()> {
        let decisions = self.decisions(&load.load).await?;
        let has = |prefix: &str| decisions.iter().any(|d| d.starts_with(prefix));
        if let Some(done) = decisions
            .iter()
            .find(|d| d.starts_with("invoice_audited/") || d.starts_with("needs_person/"))
        {
            load.done = Some(done.clone());
            return Ok(());
        }
        if has("approval_required/") && !load.approved {
            self.approve(&load.load).await?;
            load.approved = true;
            return Ok(());
        }
        if !has("tender_accepted/") {
            return Ok(());
        }
        let state = self.state(&load.load).await?;
        let Some(carrier_id) = at(&state, "/carrier/carrier").as_str() else {
            return Ok(());
        };
        let Some(carrier) = self.cast.carrier(carrier_id) else {
            return Ok(());
        };
        let stop_zone = if load.destination == "Atlanta" {
            "America/New_York"
        } else {
            "America/Chicago"
        };
        if !load.departed {
            let (date, time) = local(-1, "America/Chicago")?;
            self.status(&carrier, &load.load, 1, "AF", &date, &time)?;
            self.say(format!(
                "{carrier_id}: 214 departed pickup for {}",
                load.load
            ));
            load.departed = true;
            return Ok(());
        }
        if !has("load_in_transit/") {
            return Ok(());
        }
        if load.late && !load.eta_sent {
            let (date, time) = local(24 * 10, stop_zone)?;
            self.status(&carrier, &load.load, 2, "AG", &date, &time)?;
            self.say(format!(
                "{carrier_id}: 214 ETA {date} for {}: ten days late",
                load.load
            ));
            load.eta_sent = true;
            return Ok(());
        }
        if load.late && !has("running_late/") {
            return Ok(());
        }
        if !load.delivered {
            let (date, time) = local(0, stop_zone)?;
            self.status(&carrier, &load.load, 2, "D1", &date, &time)?;
            self.say(format!("{carrier_id}: 214 delivered {}", load.load));
            load.delivered = true;
            return Ok(());
        }
        if !has("load_delivered/") || load.invoiced {
            return Ok(());
        }
        let cost = at(&state, "/carrier/cost");
        let mut lines = vec![
            ("400".to_owned(), cents(at(cost, "/linehaul/amount"))),
            ("FUE".to_owned(), cents(at(cost, "/fuel_surcharge/amount"))),
        ];
        if let Some(accessorials) = at(cost, "/accessorials").as_object() {
            for (code, money) in accessorials {
                lines.push((code.clone(), cents(at(money, "/amount"))));
            }
        }
        if load.fuel_over
            && let Some(fuel) = lines.get_mut(1)
        {
            fuel.1 = fuel.1 * 3 / 2;
        }
        self.invoice(&carrier, &load.load, &format!("INV-{}", load.order), &lines)?;
        self.say(format!(
            "{carrier_id}: 210 invoice for {}{}",
            load.load,
            if load.fuel_over {
                " (fuel billed 50 % over the contract)"
            } else {
                ""
            }
        ));
        load.invoiced = true;
        Ok(())
    }

    /// Approves a load the guardrails held back, the way `transload load approve` does:
    /// an override in the store's outbox, for the running hub's decide stage.
    async fn approve(&self, load: &str) -> anyhow::Result<()> {
        let decision = Override::Approve {
            by: "demo".to_owned(),
            reason: "hazmat paperwork checked (demo)".to_owned(),
        };
        let request = OverrideMessage {
            tenant: self.cast.tenant.clone(),
            load: ShipperLoadId::new(load).with_context(|| format!("`{load}` is no load id"))?,
            decision,
        };
        let message = request.to_message()?;
        self.store
            .commit(UnitOfWork {
                outbox: vec![(Stage::Events, message)],
                audit: vec![AuditEntry {
                    tenant: self.cast.tenant.clone(),
                    actor: format!("operator:{}", request.decision.by()),
                    action: "override_requested".to_owned(),
                    subject: load.to_owned(),
                    details: serde_json::to_value(&request.decision)?,
                    at: Timestamp::now(),
                }],
                ..UnitOfWork::default()
            })
            .await?;
        self.say(format!(
            "{load} carries hazmat: held for approval; the demo approves it as an operator \
             would (transload load --config … --tenant {} approve {load} --by demo --reason …)",
            self.cast.tenant
        ));
        Ok(())
    }
}

/// Posts a REST carrier's X12 documents in the background.
struct Poster {
    http: reqwest::Client,
    base: String,
    bar: ProgressBar,
}

impl Poster {
    async fn post_x12(&self, partner: &PartnerProfile, text: String) {
        let result = async {
            let secret = partner
                .webhook_secret()?
                .with_context(|| format!("partner {} has no webhook secret", partner.id))?;
            let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
            let timestamp = Timestamp::now().as_second();
            let body = text.into_bytes();
            let signature = secret.sign(&id, timestamp, &body);
            let response = self
                .http
                .post(format!("{}/v1/partners/{}/messages", self.base, partner.id))
                .header("content-type", "application/edi-x12")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await?;
            if response.status().as_u16() != 202 {
                bail!(
                    "answered {}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                );
            }
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = result {
            self.bar
                .suspend(|| eprintln!("  {}: X12 POST failed: {error:#}", partner.id));
        }
    }
}

/// The value at `pointer` in `value`, null when there is none.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

/// Sets `key` of the object `value`.
fn set(value: &mut Value, key: &str, new: Value) {
    if let Some(map) = value.as_object_mut() {
        map.insert(key.to_owned(), new);
    }
}

/// Whether the carrier declines this tender: the first tender of every fourth load.
fn declines(load: &DemoLoad, tender_id: &str) -> bool {
    load.index % 4 == 1 && tender_id.ends_with("-T1")
}

fn chicago_dc() -> Value {
    json!({"code": "DC-CHI", "name": "ACME Chicago DC", "street": "1550 S Canal St", "city": "Chicago", "state": "IL", "zip": "60607", "country": "US"})
}

/// Date and time (`CCYYMMDD`, `HHMM`) `offset_hours` from now in `zone`.
fn local(offset_hours: i64, zone: &str) -> anyhow::Result<(String, String)> {
    let at = TimeZone::get(zone)?
        .to_datetime(Timestamp::now().checked_add(SignedDuration::from_hours(offset_hours))?);
    Ok((
        at.strftime("%Y%m%d").to_string(),
        at.strftime("%H%M").to_string(),
    ))
}

/// `"1234.50"` → 123450.
fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap_or("0");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<2}");
    let whole: i64 = whole.parse().unwrap_or(0);
    let fraction: i64 = fraction.get(..2).and_then(|f| f.parse().ok()).unwrap_or(0);
    whole * 100 + fraction
}
