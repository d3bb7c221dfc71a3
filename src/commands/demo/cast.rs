//! Who plays which partner in the demo: the OMS and WMS, and the carriers of the
//! configuration, by how they answer tenders (files in their drop folder, or a REST
//! simulator on their endpoint's address).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_core::ids::TenantId;

/// The carriers' and shippers' sides, read from the partner profiles.
pub(super) struct Cast {
    pub(super) tenant: TenantId,
    pub(super) oms: PartnerProfile,
    pub(super) wms: PartnerProfile,
    /// X12 carriers answering from their drop folder.
    pub(super) x12: Vec<PartnerProfile>,
    /// REST carriers, with the address their simulator listens on.
    pub(super) rest: Vec<(PartnerProfile, SocketAddr)>,
}

impl Cast {
    pub(super) fn from(partners: &PartnerDirectory) -> anyhow::Result<Cast> {
        let reads = |profile: &PartnerProfile, mapping: &str| {
            profile.routes.iter().any(|route| route.mapping == mapping)
        };
        let oms = partners
            .iter()
            .find(|p| reads(p, "oms-order-in") && p.webhook.is_some())
            .context("no partner with a webhook routed to oms-order-in (the OMS)")?
            .clone();
        let wms = partners
            .iter()
            .find(|p| reads(p, "wms-pick-complete-in") && p.webhook.is_some())
            .context("no partner with a webhook routed to wms-pick-complete-in (the WMS)")?
            .clone();
        let mut x12 = Vec::new();
        let mut rest = Vec::new();
        for profile in partners.iter() {
            let tendered = profile
                .outbound
                .iter()
                .any(|route| route.event == "transload.tender.offered");
            if !tendered || profile.tenant != oms.tenant {
                continue;
            }
            if let Some(endpoint) = &profile.endpoint {
                let address = endpoint_address(&endpoint.url).with_context(|| {
                    format!(
                        "carrier {}: the demo plays REST carriers on this machine; {} is not",
                        profile.id, endpoint.url
                    )
                })?;
                rest.push((profile.clone(), address));
            } else if profile.file_drop.is_some() && profile.x12.is_some() {
                x12.push(profile.clone());
            }
        }
        if x12.is_empty() && rest.is_empty() {
            bail!("no carrier partner with a tender outbound route");
        }
        Ok(Cast {
            tenant: oms.tenant.clone(),
            oms,
            wms,
            x12,
            rest,
        })
    }

    pub(super) fn carrier(&self, id: &str) -> Option<Carrier> {
        if let Some(profile) = self.x12.iter().find(|p| p.id.as_str() == id) {
            return Some(Carrier::Files(profile.clone()));
        }
        self.rest
            .iter()
            .find(|(p, _)| p.id.as_str() == id)
            .map(|(p, _)| Carrier::Rest(p.clone()))
    }
}

/// How a carrier sends its documents.
#[derive(Debug, Clone)]
pub(super) enum Carrier {
    /// As files in its drop folder.
    Files(PartnerProfile),
    /// Through the intake, signed.
    Rest(PartnerProfile),
}

impl Carrier {
    pub(super) fn profile(&self) -> &PartnerProfile {
        match self {
            Carrier::Files(p) | Carrier::Rest(p) => p,
        }
    }

    pub(super) fn scac(&self) -> String {
        let profile = self.profile();
        profile
            .x12
            .as_ref()
            .map_or_else(|| profile.id.to_string(), |x12| x12.gs_id.clone())
    }
}

/// `http://127.0.0.1:8091/tenders` → `127.0.0.1:8091`, for loopback addresses only.
pub(super) fn endpoint_address(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let authority = authority.replace("localhost", "127.0.0.1");
    let address: SocketAddr = authority.parse().ok()?;
    address.ip().is_loopback().then_some(address)
}
