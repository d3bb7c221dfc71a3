//! What the demo prints at the end: the loads it played, as the store has them.

use std::collections::{BTreeMap, BTreeSet};

use super::{Demo, DemoLoad, at};

impl Demo {
    /// What the store says about the loads of this run.
    pub(super) async fn summary(&self, loads: &[DemoLoad]) -> anyhow::Result<()> {
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_carrier: BTreeMap<String, usize> = BTreeMap::new();
        let mut tenders: BTreeMap<String, usize> = BTreeMap::new();
        let mut tenders_sent = 0;
        let mut statuses = 0;
        let mut invoices: BTreeMap<String, usize> = BTreeMap::new();
        let mut alerts: BTreeMap<String, usize> = BTreeMap::new();
        let mut approvals = 0;
        let mut carriers_seen = BTreeSet::new();
        for load in loads {
            let state = self.state(&load.load).await?;
            let status = at(&state, "/status/state")
                .as_str()
                .unwrap_or(if state.is_null() { "not built" } else { "?" })
                .to_owned();
            *by_status.entry(status).or_default() += 1;
            if let Some(carrier) = at(&state, "/carrier/carrier").as_str() {
                *by_carrier.entry(carrier.to_owned()).or_default() += 1;
            }
            for tender in at(&state, "/tenders").as_array().into_iter().flatten() {
                tenders_sent += 1;
                let outcome = at(tender, "/outcome").as_str().unwrap_or("?").to_owned();
                *tenders.entry(outcome).or_default() += 1;
                if let Some(carrier) = at(tender, "/carrier").as_str() {
                    carriers_seen.insert(carrier.to_owned());
                }
            }
            statuses += at(&state, "/tracking/log").as_array().map_or(0, Vec::len);
            for entry in self.audit(&load.load).await? {
                match entry.action.as_str() {
                    "decision" if at(&entry.details, "/action") == "invoice_audited" => {
                        let kind = at(&entry.details, "/details/disposition/kind")
                            .as_str()
                            .or_else(|| at(&entry.details, "/rule").as_str())
                            .unwrap_or("?")
                            .to_owned();
                        *invoices.entry(kind).or_default() += 1;
                    }
                    "alert" => {
                        let code = at(&entry.details, "/code")
                            .as_str()
                            .unwrap_or("?")
                            .to_owned();
                        *alerts.entry(code).or_default() += 1;
                    }
                    "override" => approvals += 1,
                    _ => {}
                }
            }
        }
        let list = |map: &BTreeMap<String, usize>| {
            if map.is_empty() {
                "none".to_owned()
            } else {
                map.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        println!();
        println!("summary (read back from the store)");
        println!("  loads:      {} ({})", loads.len(), list(&by_status));
        println!("  carriers:   {}", list(&by_carrier));
        println!(
            "  tenders:    {tenders_sent} sent to {} carriers ({}); {} answered by the demo",
            carriers_seen.len(),
            list(&tenders),
            self.tenders_answered
        );
        println!("  statuses:   {statuses} received");
        println!(
            "  invoices:   {} audited ({})",
            invoices.values().sum::<usize>(),
            list(&invoices)
        );
        println!("  approvals:  {approvals} (hazmat, by the demo as operator)");
        println!(
            "  alerts:     {} ({})",
            alerts.values().sum::<usize>(),
            list(&alerts)
        );
        if let Some(first) = loads.first() {
            println!(
                "\nlook closer: transload load --config … --tenant {} show {}",
                self.cast.tenant, first.load
            );
        }
        Ok(())
    }
}
