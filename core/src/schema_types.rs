//! JSON Schema descriptions of the foreign types the model uses (jiff has no schemars
//! support for its 1.x line), referenced with `#[schemars(with = "...")]`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// An instant, RFC 3339 in UTC (`2026-11-25T14:05:00Z`); serialized from `jiff::Timestamp`.
#[derive(Debug)]
pub(crate) struct TimestampSchema;

impl JsonSchema for TimestampSchema {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An instant, RFC 3339 (`2026-11-25T14:05:00Z`).",
            "type": "string",
            "format": "date-time",
        })
    }
}

/// A wall-clock date and time with no zone (`2026-11-25T08:00:00`); `jiff::civil::DateTime`.
#[derive(Debug)]
pub(crate) struct LocalDateTimeSchema;

impl JsonSchema for LocalDateTimeSchema {
    fn schema_name() -> Cow<'static, str> {
        "LocalDateTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A wall-clock date and time without zone (`2026-11-25T08:00:00`).",
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?$",
        })
    }
}

/// A calendar date (`2026-11-25`); `jiff::civil::Date`.
#[derive(Debug)]
pub(crate) struct DateSchema;

impl JsonSchema for DateSchema {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A calendar date (`2026-11-25`).",
            "type": "string",
            "format": "date",
        })
    }
}
