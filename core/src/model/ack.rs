//! Acknowledgements received from partners (X12 997, 999, TA1).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which kind of acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckKind {
    /// X12 997 functional acknowledgement.
    Functional,
    /// X12 999 implementation acknowledgement.
    Implementation,
    /// X12 TA1 interchange acknowledgement.
    Interchange,
}

/// The verdict (X12 AK501/AK901/IK501, TA104).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Accepted (A).
    Accepted,
    /// Accepted, but errors were noted (E).
    AcceptedWithErrors,
    /// Some transaction sets accepted, others rejected (P).
    PartiallyAccepted,
    /// Rejected (R).
    Rejected,
}

/// One error the partner reported, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AckError {
    /// Transaction set control number the error is in (AK202).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_control_number: Option<String>,
    /// Segment tag (AK301).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_tag: Option<String>,
    /// Segment position in the transaction set, ST = 1 (AK302).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_position: Option<u32>,
    /// Loop identifier (AK303).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_id: Option<String>,
    /// Element position in the segment (AK401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_position: Option<u32>,
    /// The error code as sent (AK304, AK403, AK502, TA105).
    pub code: String,
    /// Bad data as echoed (AK404).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_value: Option<String>,
}

/// A partner's acknowledgement of something the hub sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    /// 997, 999 or TA1.
    pub kind: AckKind,
    /// The acknowledged interchange control number (TA101), for a TA1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interchange_control_number: Option<String>,
    /// The acknowledged functional group's id (AK101: `SM` for 204s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functional_id: Option<String>,
    /// The acknowledged group control number (AK102).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_control_number: Option<String>,
    /// The acknowledged transaction set id (AK201: `204`), when one set is acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_set_id: Option<String>,
    /// The acknowledged transaction set control number (AK202).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_control_number: Option<String>,
    /// The verdict.
    pub status: AckStatus,
    /// The errors reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<AckError>,
}
