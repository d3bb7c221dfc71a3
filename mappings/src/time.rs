//! Local times read in a zone (IANA name or fixed offset), with jiff.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// The time zone named `zone`: an IANA name (`America/Chicago`) or an offset (`-05:00`).
///
/// # Errors
/// When the name is unknown or the offset malformed.
pub fn zone_named(zone: &str) -> Result<TimeZone, String> {
    if let Some(sign) = zone.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits = zone.get(1..).unwrap_or_default();
        let (hours, minutes) = digits.split_once(':').unwrap_or((digits, "0"));
        let hours: i32 = hours.parse().map_err(|_| format!("bad offset {zone:?}"))?;
        let minutes: i32 = minutes
            .parse()
            .map_err(|_| format!("bad offset {zone:?}"))?;
        let seconds = (hours * 3600 + minutes * 60) * if sign == '-' { -1 } else { 1 };
        let offset = Offset::from_seconds(seconds).map_err(|error| error.to_string())?;
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(zone).map_err(|error| format!("unknown time zone {zone:?}: {error}"))
}

/// The UTC instant (RFC 3339, `Z`) of `local` (`2026-11-25T13:42:00`) read in `zone`; an
/// ambiguous time (DST fall-back) takes the earlier instant, a gap the later, as the
/// canonical model's `ZonedTime::resolve` does.
///
/// # Errors
/// When `local` is not a date-time or `zone` is unknown.
pub fn local_to_utc(local: &str, zone: &str) -> Result<String, String> {
    let local: DateTime = local
        .parse()
        .map_err(|error| format!("not a local date-time {local:?}: {error}"))?;
    let zone = zone_named(zone)?;
    let instant = zone
        .to_timestamp(local)
        .map_err(|error| error.to_string())?;
    Ok(instant.to_string())
}

/// The local date-time (`2026-11-25T13:42:00`) in `zone` of the instant `utc` (RFC 3339).
///
/// # Errors
/// When `utc` is not an instant or `zone` is unknown.
pub fn utc_to_local(utc: &str, zone: &str) -> Result<String, String> {
    let instant: jiff::Timestamp = utc
        .parse()
        .map_err(|error| format!("not an instant {utc:?}: {error}"))?;
    let zone = zone_named(zone)?;
    Ok(zone
        .to_datetime(instant)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string())
}

/// An RFC 3339 time with an offset split into its local date-time (seconds precision,
/// fractions dropped) and its offset (`Z` as `+00:00`): `2026-11-25T07:31:00.5-06:00`
/// gives `("2026-11-25T07:31:00", "-06:00")`. `None` for anything else.
#[must_use]
pub fn rfc3339_parts(time: &str) -> Option<(String, String)> {
    // Validates the whole text (calendar, clock and offset) first.
    time.parse::<jiff::Timestamp>().ok()?;
    let local = time.get(..19)?;
    let rest = time.get(19..)?;
    let zone = if rest.eq_ignore_ascii_case("z") || rest.ends_with(['Z', 'z']) {
        "+00:00"
    } else {
        rest.get(rest.len().checked_sub(6)?..)?
    };
    let shaped = local
        .as_bytes()
        .get(10)
        .is_some_and(|b| matches!(b, b'T' | b't'))
        && zone.len() == 6
        && zone.starts_with(['+', '-']);
    shaped.then(|| (local.replace('t', "T"), zone.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_rfc3339_times() {
        assert_eq!(
            rfc3339_parts("2026-11-25T07:31:00-06:00"),
            Some(("2026-11-25T07:31:00".to_owned(), "-06:00".to_owned()))
        );
        assert_eq!(
            rfc3339_parts("2026-11-25T07:31:00.123Z"),
            Some(("2026-11-25T07:31:00".to_owned(), "+00:00".to_owned()))
        );
        assert_eq!(
            rfc3339_parts("2026-11-25T07:31:00.5+05:30"),
            Some(("2026-11-25T07:31:00".to_owned(), "+05:30".to_owned()))
        );
        for bad in [
            "2026-11-25T07:31:00",
            "2026-11-25 07:31",
            "2026-13-25T07:31:00Z",
            "",
            "é",
        ] {
            assert_eq!(rfc3339_parts(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_local_times_in_names_and_offsets() {
        assert_eq!(
            local_to_utc("2026-11-25T13:42:00", "America/Chicago").unwrap(),
            "2026-11-25T19:42:00Z"
        );
        assert_eq!(
            local_to_utc("2026-11-25T07:31:00", "-06:00").unwrap(),
            "2026-11-25T13:31:00Z"
        );
        assert_eq!(
            local_to_utc("2026-11-01T01:30:00", "America/Chicago").unwrap(),
            "2026-11-01T06:30:00Z"
        );
        assert!(local_to_utc("2026-11-25", "Nowhere/City").is_err());
        assert_eq!(
            utc_to_local("2026-11-24T16:12:00Z", "America/New_York").unwrap(),
            "2026-11-24T11:12:00"
        );
    }
}
