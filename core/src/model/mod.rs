//! The canonical model: what every partner format is translated into and out of.

pub mod ack;
pub mod invoice;
pub mod measure;
pub mod money;
pub mod order;
pub mod party;
pub mod shipment;
pub mod status;
pub mod tender;
pub mod time;

pub use ack::{Ack, AckError, AckKind, AckStatus};
pub use invoice::{ChargeLine, ChargeType, Invoice, InvoiceKind};
pub use measure::{Volume, VolumeUnit, Weight, WeightUnit};
pub use money::Money;
pub use order::{
    HandlingUnit, Hazmat, Order, OrderCancellation, OrderLine, PackingGroup, PickCompletion,
    PickedLine, ServiceLevel,
};
pub use party::{Address, Contact, GeoPoint, Location, Party, PartyRole, Reference};
pub use shipment::{
    Appointment, AppointmentStatus, CarrierRef, EquipmentRequirement, EquipmentType, LoadExtent,
    Mode, Shipment, ShipmentTotals, SpecialService, SpecialServiceKind, Stop, StopRole,
    TemperatureRange,
};
pub use status::{StatusEvent, StatusOrigin, StatusType};
pub use tender::{PaymentTerms, Tender, TenderDecision, TenderPurpose, TenderResponse};
pub use time::{TimeWindow, ZoneSource, ZonedTime};
