//! The lookup tables behind the native prelude helpers `region_zone`,
//! `x12_time_code_zone` and `country2`.

/// The usual zone of a US state or Canadian province (the zone of most of its area; a
/// heuristic for a stop's location when the message gives no zone).
#[must_use]
pub fn region_zone(code: &str) -> Option<&'static str> {
    find(REGION_ZONE, code)
}

const REGION_ZONE: &[(&str, &str)] = &[
    ("AL", "America/Chicago"),
    ("AK", "America/Anchorage"),
    ("AZ", "America/Phoenix"),
    ("AR", "America/Chicago"),
    ("CA", "America/Los_Angeles"),
    ("CO", "America/Denver"),
    ("CT", "America/New_York"),
    ("DE", "America/New_York"),
    ("DC", "America/New_York"),
    ("FL", "America/New_York"),
    ("GA", "America/New_York"),
    ("HI", "Pacific/Honolulu"),
    ("ID", "America/Boise"),
    ("IL", "America/Chicago"),
    ("IN", "America/Indiana/Indianapolis"),
    ("IA", "America/Chicago"),
    ("KS", "America/Chicago"),
    ("KY", "America/New_York"),
    ("LA", "America/Chicago"),
    ("ME", "America/New_York"),
    ("MD", "America/New_York"),
    ("MA", "America/New_York"),
    ("MI", "America/Detroit"),
    ("MN", "America/Chicago"),
    ("MS", "America/Chicago"),
    ("MO", "America/Chicago"),
    ("MT", "America/Denver"),
    ("NE", "America/Chicago"),
    ("NV", "America/Los_Angeles"),
    ("NH", "America/New_York"),
    ("NJ", "America/New_York"),
    ("NM", "America/Denver"),
    ("NY", "America/New_York"),
    ("NC", "America/New_York"),
    ("ND", "America/Chicago"),
    ("OH", "America/New_York"),
    ("OK", "America/Chicago"),
    ("OR", "America/Los_Angeles"),
    ("PA", "America/New_York"),
    ("RI", "America/New_York"),
    ("SC", "America/New_York"),
    ("SD", "America/Chicago"),
    ("TN", "America/Chicago"),
    ("TX", "America/Chicago"),
    ("UT", "America/Denver"),
    ("VT", "America/New_York"),
    ("VA", "America/New_York"),
    ("WA", "America/Los_Angeles"),
    ("WV", "America/New_York"),
    ("WI", "America/Chicago"),
    ("WY", "America/Denver"),
    ("ON", "America/Toronto"),
    ("QC", "America/Toronto"),
    ("BC", "America/Vancouver"),
    ("AB", "America/Edmonton"),
    ("MB", "America/Winnipeg"),
    ("SK", "America/Regina"),
    ("NS", "America/Halifax"),
    ("NB", "America/Moncton"),
    ("NL", "America/St_Johns"),
];

/// The zone of an X12 time code (AT707, G6204...); `None` for local time or unknown codes.
#[must_use]
pub fn x12_time_code_zone(code: &str) -> Option<&'static str> {
    find(X12_TIME_CODE_ZONE, code)
}

const X12_TIME_CODE_ZONE: &[(&str, &str)] = &[
    ("UT", "+00:00"),
    ("GM", "+00:00"),
    ("Z", "+00:00"),
    ("ET", "America/New_York"),
    ("ED", "-04:00"),
    ("ES", "-05:00"),
    ("CT", "America/Chicago"),
    ("CD", "-05:00"),
    ("CS", "-06:00"),
    ("MT", "America/Denver"),
    ("MD", "-06:00"),
    ("MS", "-07:00"),
    ("PT", "America/Los_Angeles"),
    ("PD", "-07:00"),
    ("PS", "-08:00"),
    ("AT", "America/Halifax"),
    ("AD", "-03:00"),
    ("AS", "-04:00"),
    ("NT", "America/St_Johns"),
    ("HT", "Pacific/Honolulu"),
    ("HS", "-10:00"),
    ("AK", "America/Anchorage"),
];

/// ISO 3166 alpha-3 to alpha-2 for North America (as some X12 senders write it).
#[must_use]
pub fn country2(code: &str) -> Option<&'static str> {
    find(COUNTRY2, code)
}

const COUNTRY2: &[(&str, &str)] = &[("USA", "US"), ("CAN", "CA"), ("MEX", "MX")];

fn find(table: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(key, _)| *key == code)
        .map(|(_, value)| *value)
}
