//! How the orchestrator decides where the carrier files are silent: how loads are built,
//! how long a tender may wait, what needs a person's approval, whom to tell. One policy
//! per hub, read from the `[orchestrator]` table of the configuration (every key has a
//! default, so an empty table is a working policy).

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CurrencyCode, PartnerId};
use transload_core::model::{EquipmentType, Money};

use crate::freight_audit::AuditPolicy;

/// The orchestrator's policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Building loads from picked orders.
    pub dispatch: DispatchPolicy,
    /// Tendering.
    pub tender: TenderPolicy,
    /// What needs a person's approval before a tender leaves.
    pub guardrails: Guardrails,
    /// Status tracking and exceptions.
    pub tracking: TrackingPolicy,
    /// Cancellations after acceptance.
    pub cancellation: CancellationPolicy,
    /// Freight audit of invoices.
    pub audit: AuditPolicy,
    /// Partners told about what happens to a load.
    pub notify: NotifyPolicy,
}

/// How picked orders become loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchPolicy {
    /// Minutes a wave stays open after its first pick: orders of the same wave, from the
    /// same facility to the same destination, picked within this time share one load.
    /// 0 dispatches every pick at once.
    pub wave_cutoff_minutes: u32,
    /// Equipment of a load whose orders do not ask for any.
    pub equipment: EquipmentType,
    /// Currency loads are priced in.
    pub currency: CurrencyCode,
    /// Road miles per great-circle mile, for loads whose stops have coordinates.
    pub circuity: Decimal,
    /// Miles assumed when a stop has no coordinates.
    pub default_miles: Decimal,
    /// Hours after the pick that the load is to be picked up, when the order gives no
    /// pickup window.
    pub pickup_after_hours: u32,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        Self {
            wave_cutoff_minutes: 0,
            equipment: EquipmentType::DryVan,
            currency: CurrencyCode::usd(),
            circuity: Decimal::new(117, 2),
            default_miles: Decimal::new(500, 0),
            pickup_after_hours: 24,
        }
    }
}

/// Tendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenderPolicy {
    /// Whether the respond-by clock waits for the carrier's 997 accepting the 204 (X12
    /// carriers). Carriers without X12 start the clock when the tender is sent.
    pub clock_starts_at_997: bool,
    /// The period a carrier's awards count in for its allocation share (the carrier
    /// files' `allocation_pct`): each new period starts with no awards.
    pub allocation_period: AllocationPeriod,
}

impl Default for TenderPolicy {
    fn default() -> Self {
        Self {
            clock_starts_at_997: true,
            allocation_period: AllocationPeriod::default(),
        }
    }
}

/// The calendar period (UTC) carriers' allocation shares are measured over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocationPeriod {
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    #[default]
    Month,
    /// January–March, April–June, July–September, October–December.
    Quarter,
    /// A calendar year.
    Year,
}

impl AllocationPeriod {
    /// The first day of the period `day` is in.
    #[must_use]
    pub fn start(self, day: Date) -> Date {
        match self {
            Self::Week => {
                let back = jiff::Span::new().days(day.weekday().to_monday_zero_offset());
                day.checked_sub(back).unwrap_or(day)
            }
            Self::Month => day.first_of_month(),
            Self::Quarter => {
                let month = (day.month() - 1) / 3 * 3 + 1;
                Date::new(day.year(), month, 1).unwrap_or(day)
            }
            Self::Year => day.first_of_year(),
        }
    }
}

/// Loads that need a person's approval before a tender leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guardrails {
    /// Hazardous materials.
    pub approve_hazmat: bool,
    /// A declared value at or above this.
    pub high_value: Option<Money>,
    /// No carrier within its max pay: tender above it only with approval.
    pub approve_above_max_pay: bool,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            approve_hazmat: true,
            high_value: None,
            approve_above_max_pay: true,
        }
    }
}

/// Status tracking and exceptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackingPolicy {
    /// Minutes an ETA may pass the promised time before the load is running late.
    pub late_tolerance_minutes: u32,
    /// Whether a load running late before pickup is tendered to the next carrier.
    pub retender_when_late_before_pickup: bool,
    /// Metres around a stop within which a GPS ping is an arrival.
    pub geofence_radius_m: f64,
}

impl Default for TrackingPolicy {
    fn default() -> Self {
        Self {
            late_tolerance_minutes: 30,
            retender_when_late_before_pickup: false,
            geofence_radius_m: 500.0,
        }
    }
}

/// Cancellations after a carrier accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CancellationPolicy {
    /// A cancellation this many hours or less before pickup (or after the carrier
    /// arrived) owes the carrier a truck-ordered-not-used fee.
    pub tonu_hours_before_pickup: u32,
    /// The fee.
    pub tonu_fee: Option<Money>,
}

impl Default for CancellationPolicy {
    fn default() -> Self {
        Self {
            tonu_hours_before_pickup: 24,
            tonu_fee: None,
        }
    }
}

/// Partners told about a load, per role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyPolicy {
    /// The warehouse: told of tenders accepted, cancellations, delays and delivery.
    pub wms: Option<PartnerId>,
    /// The ERP: told of delivery and of audited invoices.
    pub erp: Option<PartnerId>,
    /// The consignee: told of delays.
    pub consignee: Option<PartnerId>,
    /// Operations: told of every alert.
    pub alerts: Option<PartnerId>,
}
