//! Parties, locations and references.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{CountryCode, ZoneName};

/// A reference number with its qualifier, e.g. `{qualifier: "BM", value: "BOL123"}`.
/// Qualifiers are X12 element 128 codes where the partner speaks X12 (`BM` bill of
/// lading, `PO` purchase order, `CR` customer reference, `SI` shipper's identifying
/// number); mappings translate other partners' names to them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Reference {
    /// What kind of number this is.
    pub qualifier: String,
    /// The number.
    pub value: String,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    /// Street lines, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// City.
    pub city: String,
    /// State, province or region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    pub country: CountryCode,
}

/// A point on the earth (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GeoPoint {
    /// Latitude in degrees, -90 to 90.
    #[schemars(range(min = -90.0, max = 90.0))]
    pub lat: f64,
    /// Longitude in degrees, -180 to 180.
    #[schemars(range(min = -180.0, max = 180.0))]
    pub lon: f64,
}

/// A place where freight is picked up, delivered or reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    /// The location's code in the sender's system (dock, DC or store number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its address; a status ping may carry only a city or coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Its coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoPoint>,
    /// The IANA zone its local times are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<ZoneName>,
}

/// The part a party plays in a shipment (X12 N101 entity codes in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// Shipper (SH).
    Shipper,
    /// Consignee (CN).
    Consignee,
    /// Bill-to party (BT).
    BillTo,
    /// Ship-from location (SF).
    ShipFrom,
    /// Ship-to location (ST).
    ShipTo,
    /// Carrier (CA).
    Carrier,
    /// The customer who ordered (BY).
    Customer,
    /// Third-party logistics provider or broker.
    ThirdParty,
    /// A party to notify (N1).
    NotifyParty,
}

/// A person to contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Phone number as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// An organisation taking part in an order or shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Party {
    /// Its role.
    pub role: PartyRole,
    /// Its name.
    pub name: String,
    /// Its identifiers (DUNS, GLN, the partner's own codes), qualified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<Reference>,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Whom to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}
