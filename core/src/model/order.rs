//! Orders from the OMS/ERP, and the WMS's word that they are picked.

use jiff::Timestamp;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ModelViolation;
use crate::ids::OrderId;
use crate::model::measure::{Volume, Weight};
use crate::model::money::Money;
use crate::model::party::{Location, Party, Reference};
use crate::model::shipment::Mode;
use crate::model::time::{TimeWindow, ZonedTime};

/// How fast the customer paid for the order to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevel {
    /// Standard transit.
    Standard,
    /// Faster than standard, at a premium.
    Expedited,
    /// Delivery guaranteed by a date and time.
    Guaranteed,
}

/// UN packing group of dangerous goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PackingGroup {
    /// Great danger.
    I,
    /// Medium danger.
    II,
    /// Minor danger.
    III,
}

/// Dangerous-goods data of an order line (49 CFR 172.101; X12 LH1/LH2/LH3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hazmat {
    /// UN or NA identification number, e.g. `UN1203`.
    pub un_number: String,
    /// Hazard class or division, e.g. `3` or `2.1`.
    pub hazard_class: String,
    /// Packing group, when the class has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packing_group: Option<PackingGroup>,
    /// Proper shipping name.
    pub proper_shipping_name: String,
    /// 24-hour emergency response phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_phone: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// Line number, unique within the order.
    pub line_number: u32,
    /// The item.
    pub sku: String,
    /// What the item is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many.
    pub quantity: Decimal,
    /// Unit of the quantity (X12 355 codes: `EA`, `CA`, `PL`…).
    pub unit: String,
    /// Gross weight of the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
    /// Volume of the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<Volume>,
    /// Dangerous-goods data, when the item is hazardous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazmat: Option<Hazmat>,
    /// NMFC freight class, for LTL rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_class: Option<String>,
}

/// An order to be shipped: what, from where, to where, by when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    /// The OMS/ERP order number.
    pub order_id: OrderId,
    /// Other numbers the order is known by (PO, customer reference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// The parties: customer, bill-to, and so on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Party>,
    /// Where it ships from.
    pub ship_from: Location,
    /// Where it goes.
    pub ship_to: Location,
    /// The lines; at least one.
    pub lines: Vec<OrderLine>,
    /// When it may be picked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_window: Option<TimeWindow>,
    /// When the customer wants it delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_window: Option<TimeWindow>,
    /// The service level bought.
    pub service_level: ServiceLevel,
    /// A mode the customer asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_mode: Option<Mode>,
    /// Declared value of the goods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_value: Option<Money>,
    /// Free-text instructions for the carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl Order {
    /// Whether any line is dangerous goods.
    #[must_use]
    pub fn is_hazmat(&self) -> bool {
        self.lines.iter().any(|line| line.hazmat.is_some())
    }

    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        if self.lines.is_empty() {
            return Err(ModelViolation::new(
                format!("{path}/lines"),
                "an order has at least one line",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (index, line) in self.lines.iter().enumerate() {
            if !seen.insert(line.line_number) {
                return Err(ModelViolation::new(
                    format!("{path}/lines/{index}/line_number"),
                    format!("line number {} appears twice", line.line_number),
                ));
            }
            if line.quantity <= Decimal::ZERO {
                return Err(ModelViolation::new(
                    format!("{path}/lines/{index}/quantity"),
                    "quantity must be positive",
                ));
            }
        }
        if let Some(window) = &self.pickup_window {
            window.check(&format!("{path}/pickup_window"))?;
        }
        if let Some(window) = &self.delivery_window {
            window.check(&format!("{path}/delivery_window"))?;
        }
        Ok(())
    }
}

/// The OMS cancelled an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancellation {
    /// The order.
    pub order_id: OrderId,
    /// Why, as the OMS said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was cancelled.
    #[schemars(with = "crate::schema_types::TimestampSchema")]
    pub cancelled_at: Timestamp,
}

/// What the WMS picked of one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PickedLine {
    /// The order line.
    pub line_number: u32,
    /// The item.
    pub sku: String,
    /// How many were picked.
    pub quantity_picked: Decimal,
    /// How many could not be picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_short: Option<Decimal>,
}

/// A pallet, carton or other unit handed to the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HandlingUnit {
    /// Its label id (SSCC-18 or the WMS's license plate number).
    pub id: String,
    /// Kind of unit (X12 753 packaging codes: `PLT`, `CTN`…).
    pub kind: String,
    /// Gross weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
}

/// The WMS finished picking an order: it can be loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PickCompletion {
    /// The order picked.
    pub order_id: OrderId,
    /// The warehouse.
    pub facility: Location,
    /// The wave the order was picked in, which dispatch may group loads by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<String>,
    /// When picking completed.
    pub picked_at: ZonedTime,
    /// What was picked, line by line.
    pub lines: Vec<PickedLine>,
    /// The units staged for loading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handling_units: Vec<HandlingUnit>,
    /// Gross weight of everything picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_weight: Option<Weight>,
}

impl PickCompletion {
    pub(crate) fn check(&self, path: &str) -> Result<(), ModelViolation> {
        self.picked_at.check(&format!("{path}/picked_at"))?;
        if self.lines.is_empty() {
            return Err(ModelViolation::new(
                format!("{path}/lines"),
                "a pick completion reports at least one line",
            ));
        }
        Ok(())
    }
}
