//! The orchestrator through the whole hub, over real sockets and real folders, on the
//! embedded bus + SQLite and on RabbitMQ + PostgreSQL: an OMS order and a WMS pick come in
//! as signed webhooks; the 204 tender leaves as an X12 file in the carrier's outbound
//! folder; the carrier's 997, 990, 214s and 210 are dropped in its folder as X12 files;
//! the WMS and ERP notifications leave as JSON files. What the orchestrator decided is read
//! back from the store's audit log and the load's state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan, tz::TimeZone};
use serde_json::{Value, json};
use transload::bus::AnyBus;
use transload::config::Config;
use transload::hub::Hub;
use transload_connectors::webhook::WebhookSecret;
use transload_core::ids::TenantId;
use transload_core::store::{StateKey, Store};
use uuid::Uuid;

const SECRET: &str = "whsec_YC/Mxsc7BAKnStt+XkD1Y2N41ca0pmAq";
const ACME_KEY: &str = "acme-ops-key-0123456789";
const GLOBEX_KEY: &str = "globex-ops-key-9876543210";

fn sha256_hex(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

trait ToZonedIn {
    fn to_zoned_in(self, zone: TimeZone) -> jiff::civil::DateTime;
}

impl ToZonedIn for Timestamp {
    /// The wall-clock time in `zone`.
    fn to_zoned_in(self, zone: TimeZone) -> jiff::civil::DateTime {
        zone.to_datetime(self)
    }
}

fn library() -> PathBuf {
    transload_mappings::library_dir()
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

/// A carrier of the test's routing guide: partner id, SCAC, flat linehaul, hazmat.
struct TestCarrier {
    id: &'static str,
    scac: &'static str,
    linehaul: &'static str,
    hazmat: bool,
}

const CARRIERS: [TestCarrier; 3] = [
    TestCarrier {
        id: "cheapo",
        scac: "CHPO",
        linehaul: "900.00",
        hazmat: false,
    },
    TestCarrier {
        id: "rapid",
        scac: "RPDX",
        linehaul: "1000.00",
        hazmat: true,
    },
    TestCarrier {
        id: "steady",
        scac: "STDY",
        linehaul: "1100.00",
        hazmat: true,
    },
];

fn carrier_file(carrier: &TestCarrier) -> String {
    format!(
        r#"id = "{id}"
scac = "{scac}"
name = "{id} freight"
currency = "USD"
equipment = ["dry_van"]
hazmat = {hazmat}
tender_lead_time_hours = 24
response_time_hours = 2
allocation_pct = "30"
[quality]
on_time_pct = "95"
acceptance_pct = "90"
[[lanes]]
id = "tx-ga"
origin = {{ country = "US", region = "TX" }}
destination = {{ country = "US", zip3 = "303" }}
effective_from = 2026-01-01
transit_days = 2
capacity_per_day = 50
routing_guide_rank = 1
[[lanes.rates]]
effective_from = 2026-01-01
linehaul = {{ flat = "{linehaul}" }}
fuel_surcharge_pct = "20"
"#,
        id = carrier.id,
        scac = carrier.scac,
        hazmat = carrier.hazmat,
        linehaul = carrier.linehaul,
    )
}

fn carrier_partner(carrier: &TestCarrier) -> String {
    format!(
        r#"id = "{id}"
tenant = "acme"
time_zone = "America/Chicago"
[x12]
isa_qualifier = "02"
isa_id = "{scac}"
gs_id = "{scac}"
our_isa_qualifier = "ZZ"
our_isa_id = "ACMEHUB"
our_gs_id = "ACMEHUB"
[acks]
expect_997 = true
[file_drop]
dir = "../drop/{id}"
[[routes]]
format = "x12"
x12_set = "997"
mapping = "x12-004010-997-in"
[[routes]]
format = "x12"
x12_set = "990"
mapping = "x12-004010-990-in"
[[routes]]
format = "x12"
x12_set = "214"
mapping = "x12-004010-214-in"
[[routes]]
format = "x12"
x12_set = "210"
mapping = "x12-004010-210-in"
[[outbound]]
event = "transload.tender.offered"
mapping = "x12-004010-204-out"
[code_maps.status]
X3 = "arrived_at_pickup"
AF = "departed_pickup"
AG = "eta_updated"
X1 = "arrived_at_delivery"
D1 = "delivered"
CD = "departed_delivery"
[code_maps.charges]
400 = "linehaul"
FUE = "fuel_surcharge"
DET = "accessorial"
TONU = "accessorial"
[code_maps.tender_decisions]
A = "accepted"
D = "declined"
[code_maps.equipment]
TF = "dry_van"
[code_maps.special_services]
HM = "hazmat"
"#,
        id = carrier.id,
        scac = carrier.scac,
    )
}

const OMS: &str = r#"id = "acme-oms"
tenant = "acme"
time_zone = "America/Chicago"
[webhook]
secret = "whsec_YC/Mxsc7BAKnStt+XkD1Y2N41ca0pmAq"
[[routes]]
format = "json"
mapping = "oms-order-in"
"#;

const WMS: &str = r#"id = "acme-wms"
tenant = "acme"
time_zone = "America/Chicago"
[webhook]
secret = "whsec_YC/Mxsc7BAKnStt+XkD1Y2N41ca0pmAq"
[file_drop]
dir = "../drop/acme-wms"
[[routes]]
format = "json"
kind = "pick_complete"
mapping = "wms-pick-complete-in"
[[outbound]]
event = "transload.shipment.planned"
mapping = "json-event-out"
[[outbound]]
event = "transload.shipment.status"
mapping = "json-event-out"
[[outbound]]
event = "transload.order.cancelled"
mapping = "json-event-out"
"#;

const ERP: &str = r#"id = "acme-erp"
tenant = "acme"
time_zone = "America/Chicago"
[file_drop]
dir = "../drop/acme-erp"
[[outbound]]
event = "transload.shipment.status"
mapping = "json-event-out"
[[outbound]]
event = "transload.invoice.received"
mapping = "json-event-out"
"#;

/// A hub on `backends` with the orchestrator, three X12 carriers, an OMS, a WMS and an ERP.
struct World {
    dir: PathBuf,
    hub: Hub,
    base: String,
    isa: AtomicU32,
    /// `dir`, removed with the world (last, after the hub).
    _temp: tempfile::TempDir,
}

impl World {
    async fn start(backends: &str) -> World {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let temp = tempfile::Builder::new()
            .prefix("transload-orch-")
            .tempdir()
            .unwrap();
        let dir = temp.path().to_owned();
        std::fs::create_dir_all(dir.join("hub/partners")).unwrap();
        std::fs::create_dir_all(dir.join("hub/carriers")).unwrap();
        std::fs::write(
            dir.join("hub/transload.toml"),
            format!(
                r#"data_dir = "data"
mappings_dirs = ["{library}"]
{backends}
[http]
listen = "127.0.0.1:0"
[[api_keys]]
name = "acme-ops"
tenant = "acme"
key_sha256 = "{acme_key}"
[[api_keys]]
name = "globex-ops"
tenant = "globex"
key_sha256 = "{globex_key}"
[orchestrator]
carriers_dir = "carriers"
timer_check_secs = 1
[orchestrator.notify]
wms = "acme-wms"
erp = "acme-erp"
consignee = "acme-wms"
[orchestrator.cancellation]
tonu_hours_before_pickup = 96
tonu_fee = {{ amount = "150.00", currency = "USD" }}
"#,
                library = library().display(),
                acme_key = sha256_hex(ACME_KEY),
                globex_key = sha256_hex(GLOBEX_KEY),
            ),
        )
        .unwrap();
        for (name, text) in [("acme-oms", OMS), ("acme-wms", WMS), ("acme-erp", ERP)] {
            std::fs::write(dir.join(format!("hub/partners/{name}.toml")), text).unwrap();
            std::fs::create_dir_all(dir.join(format!("hub/drop/{name}"))).unwrap();
        }
        for carrier in &CARRIERS {
            std::fs::write(
                dir.join(format!("hub/partners/{}.toml", carrier.id)),
                carrier_partner(carrier),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("hub/carriers/{}.toml", carrier.id)),
                carrier_file(carrier),
            )
            .unwrap();
            std::fs::create_dir_all(dir.join(format!("hub/drop/{}", carrier.id))).unwrap();
        }
        let config = Config::load(&dir.join("hub/transload.toml")).unwrap();
        let hub = Hub::start(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = hub.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        World {
            dir,
            hub,
            base: format!("http://{address}"),
            isa: AtomicU32::new(100),
            _temp: temp,
        }
    }

    async fn stop(self) {
        self.hub.stop();
        if let AnyBus::Amqp(bus) = &self.hub.bus {
            bus.delete_topology().await.unwrap();
        }
    }

    /// POSTs a signed webhook from `partner`; expects 202.
    async fn post(&self, partner: &str, kind: Option<&str>, body: &Value) {
        let body = serde_json::to_vec(body).unwrap();
        let id = format!("msg_{}", Uuid::now_v7().simple());
        let timestamp = Timestamp::now().as_second();
        let signature = WebhookSecret::parse(SECRET)
            .unwrap()
            .sign(&id, timestamp, &body);
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/partners/{partner}/messages", self.base))
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        if let Some(kind) = kind {
            request = request.header("transload-kind", kind);
        }
        let response = request.body(body).send().await.unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    }

    /// An OMS order to Atlanta, picked up in three days; `hazmat` adds a lamp-oil line.
    async fn order(&self, number: &str, hazmat: bool) {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let day = Timestamp::now()
            .to_zoned_in(chicago)
            .date()
            .checked_add(3.days())
            .unwrap();
        let deliver_by = day.checked_add(3.days()).unwrap();
        let mut items = vec![
            json!({"line": 1, "sku": "SOFA-3S-GRY", "qty": 12, "uom": "EA", "weight_lb": "1080.0"}),
        ];
        if hazmat {
            items.push(json!({"line": 2, "sku": "LAMP-OIL-1L", "qty": 40, "uom": "CA", "weight_lb": "380",
                "hazmat": {"un": "UN1223", "class": "3", "packing_group": "III", "name": "Kerosene", "emergency_phone": "+1 800 424 9300"}}));
        }
        let body = json!({
            "action": "created",
            "message_id": format!("m-{number}"),
            "order": {
                "number": number,
                "po": format!("PO-{number}"),
                "ship_from": {"code": "DC-DAL", "name": "ACME Dallas DC", "street": "4100 Logistics Pkwy", "city": "Dallas", "state": "TX", "zip": "75241", "country": "US"},
                "ship_to": {"code": "ST-0412", "name": "Peachtree Home Store 412", "street": "1200 Peachtree St NE", "city": "Atlanta", "state": "GA", "zip": "30309", "country": "US"},
                "pickup": {"from": format!("{day}T08:00:00"), "to": format!("{day}T15:00:00")},
                "deliver_by": format!("{deliver_by}T16:00:00"),
                "service": "STD",
                "mode": "TL",
                "currency": "USD",
                "items": items
            }
        });
        self.post("acme-oms", None, &body).await;
    }

    async fn cancel(&self, number: &str) {
        let body = json!({"action": "cancelled", "message_id": format!("c-{number}"),
            "order": {"number": number}, "reason": "customer cancelled"});
        self.post("acme-oms", None, &body).await;
    }

    /// The WMS says `number` is picked (no wave: a load of its own, `L{number}`).
    async fn pick(&self, number: &str) {
        let body = json!({
            "event": "pick.completed",
            "event_id": format!("p-{number}"),
            "order_number": number,
            "warehouse": {"code": "DC-DAL", "name": "ACME Dallas DC", "street": "4100 Logistics Pkwy", "city": "Dallas", "state": "TX", "zip": "75241", "country": "US", "timezone": "America/Chicago"},
            "completed_at": Timestamp::now().to_zoned_in(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "lines": [{"line": 1, "item": "SOFA-3S-GRY", "ordered": 12, "picked": 12}],
            "total_weight_lb": 1080.0
        });
        self.post("acme-wms", Some("pick_complete"), &body).await;
    }

    fn outbound(&self, partner: &str) -> PathBuf {
        self.dir.join(format!("hub/drop/{partner}/outbound"))
    }

    /// Waits for the `n`-th (1-based) 204 in `carrier`'s outbound folder.
    async fn tender(&self, carrier: &str, n: usize) -> Tender204 {
        let folder = self.outbound(carrier);
        let text = wait_for(&format!("204 #{n} to {carrier}"), || {
            let mut files = files_starting(&folder, "204-");
            files.sort_by_key(|(modified, _)| *modified);
            files.get(n - 1).map(|(_, text)| text.clone())
        })
        .await;
        Tender204::parse(&text)
    }

    /// Drops an X12 interchange from `carrier` with `sets` (segments without ST/SE).
    fn drop_x12(&self, carrier: &str, functional_id: &str, sets: &[Vec<String>]) {
        let scac = CARRIERS.iter().find(|c| c.id == carrier).unwrap().scac;
        let isa13 = self.isa.fetch_add(1, Ordering::Relaxed);
        let now = Timestamp::now().to_zoned_in(TimeZone::UTC);
        let (date, time) = (
            now.strftime("%Y%m%d").to_string(),
            now.strftime("%H%M").to_string(),
        );
        let set_id = match functional_id {
            "FA" => "997",
            "GF" => "990",
            "QM" => "214",
            "IM" => "210",
            other => panic!("functional id {other}"),
        };
        let mut text = format!(
            "ISA*00*          *00*          *02*{scac:<15}*ZZ*ACMEHUB        *{}*{time}*U*00401*{isa13:09}*0*P*>~\nGS*{functional_id}*{scac}*ACMEHUB*{date}*{time}*{isa13}*X*004010~\n",
            &date[2..]
        );
        for (n, segments) in sets.iter().enumerate() {
            let control = format!("{:04}", n + 1);
            text.push_str(&format!("ST*{set_id}*{control}~\n"));
            for segment in segments {
                text.push_str(segment);
                text.push_str("~\n");
            }
            text.push_str(&format!("SE*{}*{control}~\n", segments.len() + 2));
        }
        text.push_str(&format!("GE*{}*{isa13}~\nIEA*1*{isa13:09}~\n", sets.len()));
        let folder = self.dir.join(format!("hub/drop/{carrier}"));
        let name = format!("{set_id}-{isa13}.edi");
        std::fs::write(folder.join(format!("{name}.part")), &text).unwrap();
        std::fs::rename(folder.join(format!("{name}.part")), folder.join(name)).unwrap();
    }

    fn ack_204(&self, carrier: &str, tender: &Tender204, accepted: bool) {
        let set = if accepted {
            vec![
                format!("AK1*SM*{}", tender.gs06),
                format!("AK2*204*{}", tender.st02),
                "AK5*A".to_owned(),
                "AK9*A*1*1*1".to_owned(),
            ]
        } else {
            vec![
                format!("AK1*SM*{}", tender.gs06),
                format!("AK2*204*{}", tender.st02),
                "AK3*G62*7*0300*8".to_owned(),
                "AK4*2**8*20261332".to_owned(),
                "AK5*R*5".to_owned(),
                "AK9*R*1*1*0".to_owned(),
            ]
        };
        self.drop_x12(carrier, "FA", &[set]);
    }

    fn respond(&self, carrier: &str, tender: &Tender204, accept: bool) {
        let scac = CARRIERS.iter().find(|c| c.id == carrier).unwrap().scac;
        let today = Timestamp::now()
            .to_zoned_in(TimeZone::UTC)
            .strftime("%Y%m%d")
            .to_string();
        let mut set = vec![
            format!(
                "B1*{scac}*{}*{today}*{}",
                tender.load,
                if accept { "A" } else { "D" }
            ),
            format!("N9*TN*{}", tender.tender_id),
        ];
        if !accept {
            set.push("K1*C*NO EQUIPMENT AVAILABLE".to_owned());
        }
        self.drop_x12(carrier, "GF", &[set]);
    }

    /// A 214 with one AT7 per `(stop, code, date, time, zone)`.
    fn status(&self, carrier: &str, load: &str, events: &[(u16, &str, &str, &str, Option<&str>)]) {
        let scac = CARRIERS.iter().find(|c| c.id == carrier).unwrap().scac;
        let mut set = vec![format!("B10*PRO-{load}*{load}*{scac}")];
        for (stop, code, date, time, zone) in events {
            set.push(format!("LX*{stop}"));
            let mut at7 = format!("AT7*{code}*NS***{date}*{time}");
            if let Some(zone) = zone {
                at7.push('*');
                at7.push_str(zone);
            }
            set.push(at7);
        }
        self.drop_x12(carrier, "QM", &[set]);
    }

    /// A 210 for `load`: `(code, cents)` lines; the total is their sum.
    fn invoice(
        &self,
        carrier: &str,
        load: &str,
        number: &str,
        correction: Option<&str>,
        lines: &[(&str, i64)],
    ) {
        let scac = CARRIERS.iter().find(|c| c.id == carrier).unwrap().scac;
        let today = Timestamp::now()
            .to_zoned_in(TimeZone::UTC)
            .strftime("%Y%m%d")
            .to_string();
        let total: i64 = lines.iter().map(|(_, cents)| cents).sum();
        let mut set = vec![
            format!(
                "B3**{number}*{load}*PP*L*{today}*{total}*{}***{scac}",
                correction.unwrap_or("")
            ),
            "C3*USD".to_owned(),
        ];
        for (n, (code, cents)) in lines.iter().enumerate() {
            set.push(format!("LX*{}", n + 1));
            set.push(format!("L1*{}***{cents}****{code}", n + 1));
        }
        self.drop_x12(carrier, "IM", &[set]);
    }

    async fn load(&self, id: &str) -> Value {
        let key = StateKey {
            tenant: tenant(),
            kind: "load".to_owned(),
            key: id.to_owned(),
        };
        self.hub
            .store
            .load_state(&key)
            .await
            .unwrap()
            .map(|record| record.value.to_value())
            .unwrap_or(Value::Null)
    }

    /// The decision records of `load` as `action/rule`, in order.
    async fn decisions(&self, load: &str) -> Vec<String> {
        self.hub
            .store
            .audit_log(&tenant(), load)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| entry.action == "decision")
            .map(|entry| {
                format!(
                    "{}/{}",
                    entry.details["action"].as_str().unwrap_or("?"),
                    entry.details["rule"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    async fn alerts(&self, load: &str) -> Vec<Value> {
        self.hub
            .store
            .audit_log(&tenant(), load)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| entry.action == "alert")
            .map(|entry| entry.details)
            .collect()
    }

    /// Waits until `load` has a decision record `action/rule`; returns the records.
    async fn until_decided(&self, load: &str, record: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let decisions = self.decisions(load).await;
            if decisions.iter().any(|d| d == record) {
                return decisions;
            }
            assert!(
                Instant::now() < deadline,
                "no {record} for {load}; decisions so far: {decisions:#?}\ndead letters: {:#?}",
                self.hub
                    .store
                    .dead_letters(&Default::default())
                    .await
                    .unwrap()
                    .iter()
                    .map(|l| l.reason.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Takes a load from order to a confirmed tender with the cheapest eligible carrier
    /// (`rapid` for hazmat-free loads is not the cheapest: `cheapo` is).
    async fn tendered(&self, number: &str) -> (String, Tender204) {
        self.order(number, false).await;
        let load = format!("L{number}");
        self.until_decided(number, "order_recorded/order_created")
            .await;
        self.pick(number).await;
        let tender = self.tender("cheapo", 1).await;
        assert_eq!(tender.load, load);
        self.ack_204("cheapo", &tender, true);
        self.until_decided(&load, "tender_transmission_confirmed/997_accepted")
            .await;
        (load, tender)
    }

    async fn accepted(&self, number: &str) -> (String, Tender204) {
        let (load, tender) = self.tendered(number).await;
        self.respond("cheapo", &tender, true);
        self.until_decided(&load, "tender_accepted/open_tender_accepted")
            .await;
        (load, tender)
    }
}

/// What the test reads back from a 204 we sent.
#[derive(Debug, Clone)]
struct Tender204 {
    gs06: String,
    st02: String,
    load: String,
    tender_id: String,
    purpose: String,
}

impl Tender204 {
    fn parse(text: &str) -> Tender204 {
        let segments: Vec<Vec<&str>> = text
            .split('~')
            .map(|s| s.trim().split('*').collect())
            .collect();
        let find = |tag: &str| {
            segments
                .iter()
                .find(|s| s[0] == tag)
                .unwrap_or_else(|| panic!("no {tag} in {text}"))
                .clone()
        };
        let tender_id = segments
            .iter()
            .find(|s| s[0] == "L11" && s.get(2) == Some(&"TN"))
            .map(|s| s[1].to_owned())
            .unwrap_or_else(|| panic!("no L11 TN in {text}"));
        Tender204 {
            gs06: find("GS")[6].to_owned(),
            st02: find("ST")[2].to_owned(),
            load: find("B2")[4].to_owned(),
            tender_id,
            purpose: find("B2A")[1].to_owned(),
        }
    }
}

/// `(modified, text)` of the files in `folder` whose names start with `prefix`.
fn files_starting(folder: &Path, prefix: &str) -> Vec<(std::time::SystemTime, String)> {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| {
                    (
                        e.metadata().unwrap().modified().unwrap(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON events the hub sent `partner` of `event_type`.
fn sent_events(world: &World, partner: &str, event_type: &str) -> Vec<Value> {
    files_starting(&world.outbound(partner), event_type)
        .into_iter()
        .map(|(_, text)| serde_json::from_str(&text).unwrap())
        .collect()
}

fn local_date_time(offset_hours: i64) -> (String, String) {
    let at = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(offset_hours))
        .unwrap()
        .to_zoned_in(TimeZone::get("America/New_York").unwrap());
    (
        at.strftime("%Y%m%d").to_string(),
        at.strftime("%H%M").to_string(),
    )
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// Order → pick → 204 to the cheapest carrier → 997 A starts the clock → 990 accept (WMS
/// told) → 214 departed and delivered (WMS and ERP told) → 210 at the agreed price approved
/// (ERP told).
async fn happy_path(backends: &str) {
    let world = World::start(backends).await;
    let (load, tender) = world.accepted("SO-1").await;
    assert_eq!(tender.tender_id, format!("{load}-T1"));
    assert_eq!(tender.purpose, "00");
    wait_for("the WMS told of the carrier", || {
        let planned = sent_events(&world, "acme-wms", "transload.shipment.planned");
        (planned.len() == 1).then_some(planned)
    })
    .await;
    let (date, time) = local_date_time(-1);
    world.status("cheapo", &load, &[(1, "AF", &date, &time, Some("LT"))]);
    world
        .until_decided(&load, "load_in_transit/departed_pickup")
        .await;
    let (date, time) = local_date_time(0);
    world.status("cheapo", &load, &[(2, "D1", &date, &time, Some("LT"))]);
    world
        .until_decided(&load, "load_delivered/delivered_at_last_stop")
        .await;
    for partner in ["acme-wms", "acme-erp"] {
        let statuses = wait_for(&format!("{partner} told of the delivery"), || {
            let sent = sent_events(&world, partner, "transload.shipment.status");
            (!sent.is_empty()).then_some(sent)
        })
        .await;
        assert_eq!(statuses[0]["data"]["status"], "delivered", "{partner}");
    }
    // Linehaul 900.00, fuel 20 % = 180.00.
    world.invoice(
        "cheapo",
        &load,
        "INV-1",
        None,
        &[("400", 90_000), ("FUE", 18_000)],
    );
    let decisions = world.until_decided(&load, "invoice_audited/approve").await;
    assert_eq!(
        decisions,
        [
            "load_built/dispatch_at_once",
            "carrier_selection/hard_filters_then_score",
            "tender_sent/waterfall_next",
            "tender_transmission_confirmed/997_accepted",
            "tender_accepted/open_tender_accepted",
            "status_recorded/append_only",
            "load_in_transit/departed_pickup",
            "status_recorded/append_only",
            "load_delivered/delivered_at_last_stop",
            "invoice_audited/approve",
        ]
    );
    let state = world.load(&load).await;
    assert_eq!(state["status"]["state"], "delivered");
    assert_eq!(state["carrier"]["carrier"], "cheapo");
    // The carrier history learned the award, the answer and the on-time delivery.
    let ledger = world
        .hub
        .store
        .load_state(&StateKey {
            tenant: tenant(),
            kind: "carrier_history".to_owned(),
            key: "carriers".to_owned(),
        })
        .await
        .unwrap()
        .unwrap()
        .value
        .to_value();
    assert_eq!(ledger["awards"]["cheapo"], 1, "{ledger}");
    assert_eq!(ledger["answers"]["cheapo"], json!({"yes": 1, "total": 1}));
    assert_eq!(
        ledger["deliveries"]["cheapo"],
        json!({"yes": 1, "total": 1})
    );
    assert_eq!(ledger["lane_loads"][0]["lane"], "tx-ga");
    assert_eq!(state["carrier"]["cost"]["total"]["amount"], "1080.00");
    wait_for("the ERP given the invoice", || {
        let sent = sent_events(&world, "acme-erp", "transload.invoice.received");
        (sent.len() == 1).then_some(())
    })
    .await;
    world.stop().await;
}

/// A hazmat order: `cheapo` is not qualified; the load waits for a person's approval
/// (given with the CLI); `rapid` declines, `steady` accepts; its 210 bills fuel above
/// tolerance and is short-paid.
async fn hazmat_decline_waterfall_fuel(backends: &str) {
    let world = World::start(backends).await;
    world.order("SO-2", true).await;
    world
        .until_decided("SO-2", "order_recorded/order_created")
        .await;
    world.pick("SO-2").await;
    let load = "LSO-2";
    world
        .until_decided(load, "approval_required/guardrails")
        .await;
    let selection = world
        .hub
        .store
        .audit_log(&tenant(), load)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.details["action"] == "carrier_selection")
        .unwrap();
    let cheapo = selection.details["details"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["carrier"] == "cheapo")
        .unwrap()
        .clone();
    assert_eq!(
        cheapo["outcome"]["excluded"]["rule"], "hazmat_not_qualified",
        "{cheapo}"
    );
    assert_eq!(world.alerts(load).await[0]["code"], "approval_required");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_transload"))
        .args(["load", "--config"])
        .arg(world.dir.join("hub/transload.toml"))
        .args([
            "--tenant",
            "acme",
            "approve",
            load,
            "--by",
            "alice",
            "--reason",
            "UN1223 checked",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    world.until_decided(load, "approved/manual_override").await;
    let overrides: Vec<_> = world
        .hub
        .store
        .audit_log(&tenant(), load)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "override")
        .collect();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].actor, "operator:alice");
    assert_eq!(overrides[0].details["reason"], "UN1223 checked");

    let first = world.tender("rapid", 1).await;
    world.ack_204("rapid", &first, true);
    world
        .until_decided(load, "tender_transmission_confirmed/997_accepted")
        .await;
    world.respond("rapid", &first, false);
    world
        .until_decided(load, "tender_declined/open_tender_declined")
        .await;
    let second = world.tender("steady", 1).await;
    assert_eq!(second.tender_id, format!("{load}-T2"));
    world.ack_204("steady", &second, true);
    world.respond("steady", &second, true);
    world
        .until_decided(load, "tender_accepted/open_tender_accepted")
        .await;
    // Linehaul 1100.00 and fuel 220.00 agreed; fuel billed 300.00.
    world.invoice(
        "steady",
        load,
        "INV-2",
        None,
        &[("400", 110_000), ("FUE", 30_000)],
    );
    world.until_decided(load, "invoice_audited/short_pay").await;
    let audit = world
        .hub
        .store
        .audit_log(&tenant(), load)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.details["action"] == "invoice_audited")
        .unwrap();
    assert_eq!(
        audit.details["details"]["disposition"],
        json!({"kind": "short_pay", "pay": {"amount": "1320.00", "currency": "USD"}})
    );
    world.stop().await;
}

/// The tender's respond-by passes (the hub's clock moved 3 h): it expires and the next
/// carrier gets one; the first carrier's accept comes late: recorded, the tender withdrawn
/// with a 204 cancellation, the second tender still open.
async fn expiry_and_late_accept(backends: &str) {
    let world = World::start(backends).await;
    let (load, first) = world.tendered("SO-3").await;
    world.hub.clock.advance(Duration::from_secs(3 * 3600));
    world
        .until_decided(&load, "tender_expired/no_response_by_respond_by")
        .await;
    let second = world.tender("rapid", 1).await;
    assert_eq!(second.tender_id, format!("{load}-T2"));
    world.respond("cheapo", &first, true);
    world
        .until_decided(&load, "late_accept_recorded/tender_had_expired")
        .await;
    let withdrawn = world.tender("cheapo", 2).await;
    assert_eq!(withdrawn.purpose, "01");
    assert_eq!(withdrawn.tender_id, first.tender_id);
    let state = world.load(&load).await;
    assert_eq!(state["status"]["state"], "tendering");
    assert_eq!(state["tenders"][0]["outcome"], "late_accepted");
    assert_eq!(state["tenders"][1]["outcome"], "open");
    assert!(
        world
            .alerts(&load)
            .await
            .iter()
            .any(|alert| alert["code"] == "late_accept")
    );
    world.stop().await;
}

/// The OMS cancels an order whose load a carrier accepted, within the TONU window: the
/// carrier gets a 204 cancellation (B2A 01), the WMS is told, and a TONU is owed.
async fn cancellation_after_acceptance(backends: &str) {
    let world = World::start(backends).await;
    let (load, _) = world.accepted("SO-4").await;
    world.cancel("SO-4").await;
    world
        .until_decided(&load, "load_cancelled/last_order_cancelled")
        .await;
    let cancel = world.tender("cheapo", 2).await;
    assert_eq!(cancel.purpose, "01");
    // The carrier's system refuses the cancellation: a person must call it.
    world.ack_204("cheapo", &cancel, false);
    world
        .until_decided(&load, "tender_update_rejected/997_rejected")
        .await;
    assert!(
        world
            .alerts(&load)
            .await
            .iter()
            .any(|alert| alert["code"] == "tender_update_rejected_by_997")
    );
    wait_for("the WMS told of the cancellation", || {
        (sent_events(&world, "acme-wms", "transload.order.cancelled").len() == 1).then_some(())
    })
    .await;
    let decisions = world.decisions(&load).await;
    assert!(
        decisions.contains(&"tonu_owed/cancelled_within_tonu_window".to_owned()),
        "{decisions:?}"
    );
    assert_eq!(world.load(&load).await["tonu"]["amount"], "150.00");
    world.stop().await;
}

/// 214s out of order and resent: delivered before departed, then departed twice.
async fn duplicate_and_out_of_order_statuses(backends: &str) {
    let world = World::start(backends).await;
    let (load, _) = world.accepted("SO-5").await;
    let (d_date, d_time) = local_date_time(0);
    let (a_date, a_time) = local_date_time(-5);
    world.status("cheapo", &load, &[(2, "D1", &d_date, &d_time, Some("LT"))]);
    world
        .until_decided(&load, "load_delivered/delivered_at_last_stop")
        .await;
    world.status("cheapo", &load, &[(1, "AF", &a_date, &a_time, Some("LT"))]);
    world.status("cheapo", &load, &[(1, "AF", &a_date, &a_time, Some("LT"))]);
    world
        .until_decided(&load, "status_duplicate/same_status_seen_before")
        .await;
    let state = world.load(&load).await;
    assert_eq!(state["status"]["state"], "delivered");
    assert_eq!(state["tracking"]["log"].as_array().unwrap().len(), 2);
    world.stop().await;
}

/// An ETA a day after the delivery window: running late, raised once; the consignee (here
/// the WMS) is told with a delayed status.
async fn delay_beyond_the_window(backends: &str) {
    let world = World::start(backends).await;
    let (load, _) = world.accepted("SO-6").await;
    let (date, time) = local_date_time(0);
    // The order is due three days after pickup (in three days): an ETA in ten days is late.
    let (eta_date, eta_time) = local_date_time(24 * 10);
    let scac = "CHPO";
    world.drop_x12(
        "cheapo",
        "QM",
        &[vec![
            format!("B10*PRO-{load}*{load}*{scac}"),
            "LX*2".to_owned(),
            format!("AT7*AG*NS***{eta_date}*{eta_time}*LT"),
            "AT8*G*L*1080".to_owned(),
        ]],
    );
    let _ = (date, time);
    world
        .until_decided(&load, "running_late/eta_beyond_window_plus_tolerance")
        .await;
    let delayed = wait_for("the WMS told of the delay", || {
        let sent = sent_events(&world, "acme-wms", "transload.shipment.status");
        sent.into_iter().find(|e| e["data"]["status"] == "delayed")
    })
    .await;
    assert_eq!(delayed["data"]["raw_code"], "RUNNING_LATE");
    assert!(
        world
            .alerts(&load)
            .await
            .iter()
            .any(|a| a["code"] == "running_late")
    );
    world.stop().await;
}

/// The carrier's 997 rejects our 204: the tender is withdrawn and a person alerted with
/// the segment position.
async fn rejected_204(backends: &str) {
    let world = World::start(backends).await;
    world.order("SO-7", false).await;
    world
        .until_decided("SO-7", "order_recorded/order_created")
        .await;
    world.pick("SO-7").await;
    let load = "LSO-7";
    let tender = world.tender("cheapo", 1).await;
    world.ack_204("cheapo", &tender, false);
    world
        .until_decided(load, "needs_person/tender_rejected_by_997")
        .await;
    let alerts = world.alerts(load).await;
    let alert = alerts
        .iter()
        .find(|a| a["code"] == "tender_rejected_by_997")
        .unwrap();
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.contains("segment G62 at 7 (loop 0300), element 2: code 8"),
        "{message}"
    );
    assert_eq!(world.load(load).await["status"]["state"], "needs_person");
    world.stop().await;
}

/// The same invoice twice is a duplicate; a rebill (B3-08) of it is audited afresh; a
/// detention charge nobody tendered and no dwell supports is not paid.
async fn duplicate_rebill_and_unauthorized_accessorial(backends: &str) {
    let world = World::start(backends).await;
    let (load, _) = world.accepted("SO-8").await;
    world.invoice(
        "cheapo",
        &load,
        "INV-8",
        None,
        &[("400", 90_000), ("FUE", 18_000), ("DET", 7_500)],
    );
    world
        .until_decided(&load, "invoice_audited/short_pay")
        .await;
    world.invoice(
        "cheapo",
        &load,
        "INV-8",
        None,
        &[("400", 90_000), ("FUE", 18_000), ("DET", 7_500)],
    );
    world
        .until_decided(&load, "invoice_audited/duplicate")
        .await;
    world.invoice(
        "cheapo",
        &load,
        "INV-8",
        Some("CO"),
        &[("400", 90_000), ("FUE", 18_000)],
    );
    world.until_decided(&load, "invoice_audited/approve").await;
    let audits: Vec<Value> = world
        .hub
        .store
        .audit_log(&tenant(), &load)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.details["action"] == "invoice_audited")
        .map(|e| e.details["details"].clone())
        .collect();
    assert_eq!(audits.len(), 3);
    assert_eq!(audits[0]["approved_amount"]["amount"], "1080.00");
    let det = audits[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "DET")
        .unwrap()
        .clone();
    assert_eq!(det["rule"], "accessorial_not_authorized", "{det}");
    assert_eq!(audits[2]["kind"], "rebill");
    world.stop().await;
}

/// A 214 without a time code (no AT707) at the Atlanta stop: read in the stop's zone.
async fn zone_without_at707(backends: &str) {
    let world = World::start(backends).await;
    let (load, _) = world.accepted("SO-9").await;
    world.status("cheapo", &load, &[(2, "X1", "20261210", "0800", None)]);
    world
        .until_decided(&load, "status_recorded/append_only")
        .await;
    let state = world.load(&load).await;
    let logged = &state["tracking"]["log"][0]["event"]["occurred_at"];
    assert_eq!(logged["zone"], "America/New_York", "{logged}");
    assert_eq!(logged["zone_source"], "stop_location");
    assert_eq!(logged["utc"], "2026-12-10T13:00:00Z");
    world.stop().await;
}

/// The loads API: a tenant's key reads its load and overrides it; another tenant's key
/// sees no such load; no key is refused.
async fn loads_api(backends: &str) {
    let world = World::start(backends).await;
    world.order("SO-10", true).await;
    world
        .until_decided("SO-10", "order_recorded/order_created")
        .await;
    world.pick("SO-10").await;
    let load = "LSO-10";
    world
        .until_decided(load, "approval_required/guardrails")
        .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/loads/{load}", world.base);

    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
    let other = client
        .get(&url)
        .bearer_auth(GLOBEX_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "another tenant's load is not shown");
    let get_json = |url: String, key: &'static str| {
        let request = client.get(url).bearer_auth(key).send();
        async move {
            let text = request.await.unwrap().text().await.unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let own = get_json(url.clone(), ACME_KEY).await;
    assert_eq!(own["state"]["status"]["state"], "awaiting_approval");
    assert!(own["decisions"].as_array().unwrap().len() >= 3);

    let carriers_url = format!("{}/v1/carriers", world.base);
    let carriers = get_json(carriers_url.clone(), ACME_KEY).await;
    assert_eq!(carriers["carriers"].as_array().unwrap().len(), 3);
    let others = get_json(carriers_url, GLOBEX_KEY).await;
    assert_eq!(
        others["carriers"],
        json!([]),
        "acme's carriers are not shown to globex"
    );

    let approve = json!({"override": "approve", "by": "bob", "reason": "hazmat papers checked"});
    let refused = client
        .post(format!("{url}/overrides"))
        .bearer_auth(GLOBEX_KEY)
        .header("content-type", "application/json")
        .body(approve.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let bad = client
        .post(format!("{url}/overrides"))
        .bearer_auth(ACME_KEY)
        .header("content-type", "application/json")
        .body(json!({"override": "approve"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let accepted = client
        .post(format!("{url}/overrides"))
        .bearer_auth(ACME_KEY)
        .header("content-type", "application/json")
        .body(approve.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    world.until_decided(load, "approved/manual_override").await;
    let tender = world.tender("rapid", 1).await;
    assert_eq!(tender.load, load);
    let audit = world.hub.store.audit_log(&tenant(), load).await.unwrap();
    let override_entry = audit.iter().find(|e| e.action == "override").unwrap();
    assert_eq!(override_entry.actor, "operator:bob");
    assert_eq!(override_entry.details["reason"], "hazmat papers checked");
    world.stop().await;
}

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

const EMBEDDED: &str = "bus = \"embedded\"\nstore = \"sqlite\"";

/// RabbitMQ with a prefix of its own, PostgreSQL with a database of its own.
async fn distributed() -> String {
    let amqp = std::env::var("TRANSLOAD_AMQP_URI")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let server = std::env::var("TRANSLOAD_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".to_owned());
    let database = format!("transload_orch_{}", Uuid::now_v7().simple());
    let (client, connection) =
        tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL must answer for the distributed scenarios");
    tokio::spawn(connection);
    client
        .execute(&format!("CREATE DATABASE {database}"), &[])
        .await
        .unwrap();
    let prefix = format!("orch{}", Uuid::now_v7().simple());
    format!(
        "bus = \"amqp\"\nstore = \"postgres\"\n[amqp]\nurl = \"{amqp}\"\nprefix = \"{prefix}\"\n[postgres]\nurl = \"{server} dbname={database}\""
    )
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::EMBEDDED).await;
                }
            )*
        }
        mod rabbitmq_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::distributed().await).await;
                }
            )*
        }
    };
}

scenarios!(
    happy_path,
    hazmat_decline_waterfall_fuel,
    expiry_and_late_accept,
    cancellation_after_acceptance,
    duplicate_and_out_of_order_statuses,
    delay_beyond_the_window,
    rejected_204,
    duplicate_rebill_and_unauthorized_accessorial,
    zone_without_at707,
    loads_api,
);
