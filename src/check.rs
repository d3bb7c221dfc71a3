//! `transload validate`: every configuration, partner and mapping file checked at once,
//! and checked against each other (a route naming a mapping that does not exist, or one
//! of the wrong direction or format, an endpoint with a bad URL, a secret that cannot be
//! resolved). Every problem is reported with the file it is in, not just the first.

use std::path::PathBuf;

use transload_connectors::http_out::{HttpSender, SenderOptions};
use transload_connectors::partner::{DocumentFormat, PartnerDirectory, PartnerProfile};
use transload_mappings::{Direction, Format, MappingSet};

use crate::config::{Config, OrchestratorSection};

/// What `validate` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Partner profiles loaded.
    pub partners: usize,
    /// Mappings compiled.
    pub mappings: usize,
    /// Every problem, each naming its file (and position where known).
    pub errors: Vec<String>,
}

/// Checks everything `config` names.
#[must_use]
pub fn check_all(config: &Config) -> CheckReport {
    let mut report = CheckReport::default();
    let partners = if config.partners_dir_explicit || config.partners_dir.exists() {
        match PartnerDirectory::load(&config.partners_dir) {
            Ok(partners) => partners,
            Err(errors) => {
                report.errors.extend(errors.iter().map(ToString::to_string));
                PartnerDirectory::default()
            }
        }
    } else {
        PartnerDirectory::default()
    };
    report.partners = partners.len();
    let mappings = match MappingSet::load(&config.mappings_dirs) {
        Ok(set) => set,
        Err(errors) => {
            report.errors.extend(errors.iter().map(ToString::to_string));
            // Check the routes against what does compile, directory by directory.
            MappingSet::from_mappings(
                config
                    .mappings_dirs
                    .iter()
                    .filter_map(|dir| transload_mappings::mapping_files(dir).ok())
                    .flatten()
                    .filter_map(|file| transload_mappings::load_file(&file).ok()),
            )
        }
    };
    report.mappings = mappings.len();
    for profile in partners.iter() {
        let file = partners
            .path(&profile.id)
            .map_or_else(|| config.partners_dir.clone(), std::path::Path::to_path_buf);
        let mut problem = |what: String| {
            report.errors.push(format!(
                "{} (partner `{}`): {what}",
                file.display(),
                profile.id
            ));
        };
        check_routes(profile, &mappings, &mut problem);
        if let Err(error) = profile.webhook_secret() {
            problem(format!("[webhook]: {error}"));
        }
        if let Some(endpoint) = &profile.endpoint
            && let Err(error) =
                HttpSender::new(profile.id.clone(), endpoint, SenderOptions::default())
        {
            problem(format!("[endpoint]: {error}"));
        }
    }
    if let Some(orchestrator) = &config.orchestrator {
        check_orchestrator(config, orchestrator, &partners, &mut report);
    }
    for dir in &config.mappings_dirs {
        if !dir.is_dir() {
            report.errors.push(format!(
                "{}: mappings_dirs names a folder that does not exist",
                dir.display()
            ));
        }
    }
    report
}

/// The carrier files load, every carrier can be sent a tender (a partner profile with an
/// outbound route for `transload.tender.offered`), and every partner to notify exists and
/// has outbound routes for what it is sent.
fn check_orchestrator(
    config: &Config,
    orchestrator: &OrchestratorSection,
    partners: &PartnerDirectory,
    report: &mut CheckReport,
) {
    let at = config.path.display();
    match transload_orchestrator::load_dir(&orchestrator.carriers_dir) {
        Err(error) => report
            .errors
            .push(format!("{at} [orchestrator] carriers: {error}")),
        Ok(carriers) => {
            for carrier in carriers.iter() {
                match partners.get(&carrier.id) {
                    None => report.errors.push(format!(
                        "{at} [orchestrator]: carrier `{}` has no partner profile to send its tenders to",
                        carrier.id
                    )),
                    Some(profile) if !has_outbound(profile, "transload.tender.offered") => {
                        report.errors.push(format!(
                            "{at} [orchestrator]: partner `{}` has no [[outbound]] route for transload.tender.offered",
                            carrier.id
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let notify = &orchestrator.notify;
    let roles = [
        (
            "wms",
            &notify.wms,
            &[
                "transload.shipment.planned",
                "transload.shipment.status",
                "transload.order.cancelled",
            ][..],
        ),
        (
            "erp",
            &notify.erp,
            &["transload.shipment.status", "transload.invoice.received"][..],
        ),
        (
            "consignee",
            &notify.consignee,
            &["transload.shipment.status"][..],
        ),
    ];
    for (role, partner, events) in roles {
        let Some(partner) = partner else { continue };
        let Some(profile) = partners.get(partner) else {
            report.errors.push(format!(
                "{at} [orchestrator.notify] {role} = `{partner}`: no such partner"
            ));
            continue;
        };
        for event in events {
            if !has_outbound(profile, event) {
                report.errors.push(format!(
                    "{at} [orchestrator.notify] {role} = `{partner}`: no [[outbound]] route for {event}"
                ));
            }
        }
    }
}

fn has_outbound(profile: &PartnerProfile, event: &str) -> bool {
    profile.outbound.iter().any(|route| route.event == event)
}

fn check_routes(profile: &PartnerProfile, mappings: &MappingSet, problem: &mut impl FnMut(String)) {
    for route in &profile.routes {
        let Some(mapping) = mappings.by_id(&route.mapping) else {
            problem(format!("route to `{}`: no such mapping", route.mapping));
            continue;
        };
        if mapping.direction() != Direction::Inbound {
            problem(format!(
                "route to `{}`: the mapping is not inbound",
                route.mapping
            ));
        }
        let format = match route.format {
            DocumentFormat::X12 => Format::X12,
            DocumentFormat::Json => Format::Json,
            DocumentFormat::Xml => Format::Xml,
        };
        if mapping.format() != format {
            problem(format!(
                "route to `{}`: the route is {}, the mapping reads {}",
                route.mapping,
                route.format.as_str(),
                mapping.format().as_str()
            ));
        }
        if let (Some(set), Some(key)) = (&route.x12_set, mapping.x12())
            && &key.set != set
        {
            problem(format!(
                "route for X12 {set} to `{}`: the mapping reads X12 {}",
                route.mapping, key.set
            ));
        }
    }
    for route in &profile.outbound {
        let Some(mapping) = mappings.by_id(&route.mapping) else {
            problem(format!(
                "outbound route to `{}`: no such mapping",
                route.mapping
            ));
            continue;
        };
        if mapping.direction() != Direction::Outbound {
            problem(format!(
                "outbound route to `{}`: the mapping is not outbound",
                route.mapping
            ));
        }
        if !mapping.events().is_empty() && !mapping.events().iter().any(|e| e == &route.event) {
            problem(format!(
                "outbound route for {} to `{}`: the mapping writes {}",
                route.event,
                route.mapping,
                mapping.events().join(", ")
            ));
        }
    }
}

/// The folders `validate` looked at, for its summary.
#[must_use]
pub fn folders(config: &Config) -> Vec<PathBuf> {
    let mut dirs = vec![config.partners_dir.clone()];
    dirs.extend(config.mappings_dirs.iter().cloned());
    dirs
}
