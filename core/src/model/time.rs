//! Partner-local times: what the partner sent, the zone used to read it, and the instant.
//!
//! Logistics messages carry wall-clock times ("deliver by 16:00") whose zone is often only
//! implied (X12 G62 without a time code, AT7 without AT707). The model keeps what was
//! sent, the zone it was resolved in, and how that zone was chosen, so that a wrong guess
//! can be found and corrected later.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::ZoneName;

/// How the zone of a [`ZonedTime`] was chosen, most to least trustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// The message said so (an offset, AT707/G62 time code, an IANA name).
    Explicit,
    /// The zone of the stop's location.
    StopLocation,
    /// The zone configured for the sending partner.
    PartnerDefault,
    /// The hub's zone, for lack of anything better.
    HubDefault,
    /// No zone was found; `utc` is absent.
    Unresolved,
}

/// A wall-clock time as a partner sent it, with its resolution to an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ZonedTime {
    /// The local date and time exactly as sent.
    #[schemars(with = "crate::schema_types::LocalDateTimeSchema")]
    pub local: DateTime,
    /// The zone `local` was read in; absent when unresolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<ZoneName>,
    /// The instant; absent when the zone is unresolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema_types::TimestampSchema>")]
    pub utc: Option<Timestamp>,
    /// How `zone` was chosen.
    pub zone_source: ZoneSource,
}

impl ZonedTime {
    /// Reads `local` in `zone` (named `zone_name`), choosing the earlier instant for an
    /// ambiguous time (DST fall-back) and the later for a gap (spring-forward), as
    /// carriers' systems do.
    ///
    /// # Errors
    /// When the instant falls outside the supported range.
    pub fn resolve(
        local: DateTime,
        zone_name: ZoneName,
        zone: &TimeZone,
        source: ZoneSource,
    ) -> Result<Self, jiff::Error> {
        let instant = zone.to_timestamp(local)?;
        Ok(Self {
            local,
            zone: Some(zone_name),
            utc: Some(instant),
            zone_source: source,
        })
    }

    /// A local time whose zone is not known.
    #[must_use]
    pub fn unresolved(local: DateTime) -> Self {
        Self {
            local,
            zone: None,
            utc: None,
            zone_source: ZoneSource::Unresolved,
        }
    }

    /// A UTC instant sent as such (zone `+00:00`, explicit).
    ///
    /// # Errors
    /// Never in practice; the conversion to a civil time in UTC cannot fail.
    pub fn from_utc(instant: Timestamp) -> Result<Self, ModelViolation> {
        let zone_name = ZoneName::new("+00:00")
            .map_err(|error| ModelViolation::new("/zone", error.to_string()))?;
        Ok(Self {
            local: TimeZone::UTC.to_datetime(instant),
            zone: Some(zone_name),
            utc: Some(instant),
            zone_source: ZoneSource::Explicit,
        })
    }

    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        match (&self.zone, self.utc, self.zone_source) {
            (None, None, ZoneSource::Unresolved) => Ok(()),
            (Some(_), Some(_), source) if source != ZoneSource::Unresolved => Ok(()),
            _ => Err(ModelViolation::new(
                path,
                "zone and utc are both present exactly when zone_source is not `unresolved`",
            )),
        }
    }
}

/// A window of time, open on either side but not both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimeWindow {
    /// Not before (X12 G62 qualifiers 37/53/69 "no earlier than").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<ZonedTime>,
    /// Not after (X12 G62 qualifiers 38/54/70 "no later than").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<ZonedTime>,
}

impl TimeWindow {
    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        if let Some(earliest) = &self.earliest {
            earliest.check(&format!("{path}/earliest"))?;
        }
        if let Some(latest) = &self.latest {
            latest.check(&format!("{path}/latest"))?;
        }
        match (&self.earliest, &self.latest) {
            (None, None) => Err(ModelViolation::new(
                path,
                "a window needs earliest or latest",
            )),
            (Some(earliest), Some(latest)) => {
                let ordered = match (earliest.utc, latest.utc) {
                    (Some(from), Some(to)) => from <= to,
                    _ => earliest.local <= latest.local,
                };
                if ordered {
                    Ok(())
                } else {
                    Err(ModelViolation::new(path, "earliest is after latest"))
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chicago() -> (ZoneName, TimeZone) {
        (
            ZoneName::new("America/Chicago").unwrap(),
            TimeZone::get("America/Chicago").unwrap(),
        )
    }

    #[test]
    fn resolves_local_time_in_its_zone() {
        let (name, zone) = chicago();
        let local: DateTime = "2026-07-01T08:00:00".parse().unwrap();
        let time = ZonedTime::resolve(local, name, &zone, ZoneSource::StopLocation).unwrap();
        assert_eq!(time.utc.unwrap().to_string(), "2026-07-01T13:00:00Z");
        assert!(time.check("/t").is_ok());
    }

    #[test]
    fn picks_the_earlier_instant_when_dst_makes_a_time_ambiguous() {
        let (name, zone) = chicago();
        let local: DateTime = "2026-11-01T01:30:00".parse().unwrap();
        let time = ZonedTime::resolve(local, name, &zone, ZoneSource::Explicit).unwrap();
        assert_eq!(time.utc.unwrap().to_string(), "2026-11-01T06:30:00Z");
    }

    #[test]
    fn an_unresolved_time_must_not_claim_an_instant() {
        let mut time = ZonedTime::unresolved("2026-07-01T08:00:00".parse().unwrap());
        assert!(time.check("/t").is_ok());
        time.utc = Some(Timestamp::UNIX_EPOCH);
        assert!(time.check("/t").is_err());
    }

    #[test]
    fn windows_must_be_ordered_and_not_empty() {
        let at = |hour: i8| {
            ZonedTime::from_utc(
                TimeZone::UTC
                    .to_timestamp(jiff::civil::date(2026, 7, 1).at(hour, 0, 0, 0))
                    .unwrap(),
            )
            .unwrap()
        };
        let good = TimeWindow {
            earliest: Some(at(8)),
            latest: Some(at(16)),
        };
        assert!(good.check("/w").is_ok());
        let reversed = TimeWindow {
            earliest: Some(at(16)),
            latest: Some(at(8)),
        };
        assert_eq!(
            reversed.check("/w").unwrap_err().rule,
            "earliest is after latest"
        );
        assert!(
            TimeWindow {
                earliest: None,
                latest: None
            }
            .check("/w")
            .is_err()
        );
    }
}
