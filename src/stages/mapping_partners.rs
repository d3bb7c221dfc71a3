//! The partner profiles as mapping programs read them (`$partner`), converted once when
//! a stage starts instead of for every message (serializing a profile and converting it
//! for jaq was a tenth of translate's work on small messages).

use std::collections::BTreeMap;
use std::sync::Arc;

use transload_connectors::partner::{PartnerDirectory, PartnerProfile};
use transload_core::ids::PartnerId;
use transload_mappings::Partner;

use crate::pipeline::HandlerError;

/// `$partner` of every profile of a directory. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct MappingPartners {
    converted: Arc<BTreeMap<PartnerId, Arc<Partner>>>,
}

impl MappingPartners {
    /// Converts every profile of `directory`. A profile that cannot be converted is left
    /// out: [`MappingPartners::get`] tries again for each of its messages and fails them
    /// with the reason.
    pub(crate) fn of(directory: &PartnerDirectory) -> Self {
        let converted = directory
            .iter()
            .filter_map(|profile| {
                convert(profile)
                    .map(|partner| (profile.id.clone(), Arc::new(partner)))
                    .ok()
            })
            .collect();
        Self {
            converted: Arc::new(converted),
        }
    }

    /// `$partner` for `profile`.
    ///
    /// # Errors
    /// When the profile cannot be passed to mapping programs.
    pub(crate) fn get(&self, profile: &PartnerProfile) -> Result<Arc<Partner>, HandlerError> {
        match self.converted.get(&profile.id) {
            Some(partner) => Ok(Arc::clone(partner)),
            None => convert(profile).map(Arc::new),
        }
    }
}

/// The profile as JSON, converted for jaq.
fn convert(profile: &PartnerProfile) -> Result<Partner, HandlerError> {
    let json = serde_json::to_value(profile)
        .map_err(|e| HandlerError::Permanent(format!("cannot pass the partner profile: {e}")))?;
    Partner::new(json).map_err(|e| HandlerError::Permanent(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn profile(id: &str) -> PartnerProfile {
        toml::from_str(&format!(
            "id = \"{id}\"\ntenant = \"acme\"\ntime_zone = \"America/Chicago\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn each_profile_is_converted_once_and_an_unknown_one_on_demand() {
        let directory = PartnerDirectory::from_profiles([profile("odfl")]);
        let partners = MappingPartners::of(&directory);
        let odfl = directory.get(&PartnerId::new("odfl").unwrap()).unwrap();
        let first = partners.get(odfl).unwrap();
        assert!(Arc::ptr_eq(&first, &partners.get(odfl).unwrap()));
        assert_eq!(first.json()["id"], "odfl");
        let saia = partners.get(&profile("saia")).unwrap();
        assert_eq!(saia.json()["id"], "saia");
    }
}
