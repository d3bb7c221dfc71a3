//! Reads the carrier master from files: one TOML file per carrier in a `carriers/`
//! folder. Errors name the file, line and column of the problem; unknown keys are errors;
//! amounts and percentages are exact decimals written as strings or integers (a TOML
//! float such as `2.35` is refused, since it is binary floating point).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;
use transload_core::ids::{CountryCode, CurrencyCode, PartnerId, Scac};
use transload_core::model::{EquipmentType, Money};
use transload_core::position::line_and_column;

use crate::carrier::{
    Area, AreaScope, Carrier, CarrierMaster, DateRange, DuplicateCarrier, Lane, Linehaul,
    QualityStats, Rate,
};

/// Why the carrier master could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CarrierFileError {
    /// A file or the folder could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a valid carrier file; `line` and `column` are 1-based.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Two files declare the same carrier id.
    #[error("{}: carrier `{id}` is already declared in {}", path.display(), first.display())]
    Duplicate {
        /// The second file.
        path: PathBuf,
        /// The first file.
        first: PathBuf,
        /// The id.
        id: PartnerId,
    },
}

/// Reads every `*.toml` file of `dir` (not its subfolders; dotfiles skipped), in name
/// order, into a carrier master.
///
/// # Errors
/// The first file that cannot be read or is invalid, or a carrier id declared twice.
pub fn load_dir(dir: &Path) -> Result<CarrierMaster, CarrierFileError> {
    let read_error = |source| CarrierFileError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let visible = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| !name.starts_with('.'));
        if visible && path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut master = CarrierMaster::default();
    let mut declared: BTreeMap<PartnerId, PathBuf> = BTreeMap::new();
    for path in paths {
        let carrier = load_file(&path)?;
        let carrier_id = carrier.id.clone();
        if let Err(DuplicateCarrier(id)) = master.insert(carrier) {
            let first = declared.get(&id).cloned().unwrap_or_default();
            return Err(CarrierFileError::Duplicate { path, first, id });
        }
        declared.insert(carrier_id, path);
    }
    tracing::debug!(dir = %dir.display(), carriers = master.len(), "carrier master loaded");
    Ok(master)
}

/// Reads and checks the carrier file `path`.
///
/// # Errors
/// [`CarrierFileError::Read`] or [`CarrierFileError::Invalid`].
pub fn load_file(path: &Path) -> Result<Carrier, CarrierFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| CarrierFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and checks the text of a carrier file; `path` names it in errors.
///
/// # Errors
/// [`CarrierFileError::Invalid`] with the position of the problem.
pub fn parse(path: &Path, text: &str) -> Result<Carrier, CarrierFileError> {
    let invalid = |span: Option<Range<usize>>, message: String| {
        let (line, column) = span.map_or((1, 1), |span| line_and_column(text, span.start));
        CarrierFileError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let file: CarrierFile =
        toml::from_str(text).map_err(|error| invalid(error.span(), error.message().to_owned()))?;
    file.into_carrier()
        .map_err(|(span, message)| invalid(Some(span), message))
}

/// A problem found after parsing: where and what.
type Problem = (Range<usize>, String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CarrierFile {
    id: PartnerId,
    scac: Scac,
    name: Spanned<String>,
    currency: CurrencyCode,
    equipment: Spanned<Vec<EquipmentType>>,
    #[serde(default)]
    hazmat: bool,
    tender_lead_time_hours: u32,
    response_time_hours: u32,
    allocation_pct: Percent,
    #[serde(default)]
    max_pay: Option<Amount>,
    quality: QualityFile,
    lanes: Spanned<Vec<LaneFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualityFile {
    on_time_pct: Percent,
    acceptance_pct: Percent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LaneFile {
    id: Spanned<String>,
    origin: Spanned<AreaFile>,
    destination: Spanned<AreaFile>,
    effective_from: Day,
    #[serde(default)]
    effective_to: Option<Spanned<Day>>,
    transit_days: u32,
    capacity_per_day: u32,
    routing_guide_rank: Spanned<u32>,
    rates: Spanned<Vec<Spanned<RateFile>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaFile {
    country: CountryCode,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    zip3: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    effective_from: Day,
    #[serde(default)]
    effective_to: Option<Spanned<Day>>,
    linehaul: Spanned<LinehaulFile>,
    fuel_surcharge_pct: Percent,
    #[serde(default)]
    accessorials: BTreeMap<Spanned<String>, Amount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinehaulFile {
    #[serde(default)]
    flat: Option<Amount>,
    #[serde(default)]
    per_mile: Option<Amount>,
    #[serde(default)]
    minimum: Option<Amount>,
}

impl CarrierFile {
    fn into_carrier(self) -> Result<Carrier, Problem> {
        let name = self.name.get_ref().trim();
        if name.is_empty() {
            return Err((self.name.span(), "name must not be empty".to_owned()));
        }
        if self.equipment.get_ref().is_empty() {
            return Err((
                self.equipment.span(),
                "equipment lists at least one type".to_owned(),
            ));
        }
        if self.lanes.get_ref().is_empty() {
            return Err((
                self.lanes.span(),
                "a carrier needs at least one [[lanes]]".to_owned(),
            ));
        }
        let money = |amount: Decimal| Money::new(amount, self.currency.clone());
        let mut lane_ids = BTreeSet::new();
        let mut lanes = Vec::new();
        for lane in self.lanes.get_ref() {
            if !lane_ids.insert(lane.id.get_ref().clone()) {
                return Err((
                    lane.id.span(),
                    format!("lane `{}` is declared twice", lane.id.get_ref()),
                ));
            }
            lanes.push(lane.to_lane(&money)?);
        }
        Ok(Carrier {
            id: self.id,
            scac: self.scac,
            name: name.to_owned(),
            currency: self.currency.clone(),
            equipment: distinct(self.equipment.get_ref()),
            hazmat: self.hazmat,
            tender_lead_time_hours: self.tender_lead_time_hours,
            response_time_hours: self.response_time_hours,
            allocation_pct: self.allocation_pct.0,
            max_pay: self.max_pay.map(|amount| money(amount.0)),
            quality: QualityStats {
                on_time_pct: self.quality.on_time_pct.0,
                acceptance_pct: self.quality.acceptance_pct.0,
            },
            lanes,
        })
    }
}

fn distinct(equipment: &[EquipmentType]) -> Vec<EquipmentType> {
    let mut seen = Vec::new();
    for kind in equipment {
        if !seen.contains(kind) {
            seen.push(*kind);
        }
    }
    seen
}

fn date_range(from: Day, to: Option<&Spanned<Day>>) -> Result<DateRange, Problem> {
    if let Some(to) = to
        && to.get_ref().0 < from.0
    {
        return Err((
            to.span(),
            format!(
                "effective_to {} is before effective_from {}",
                to.get_ref().0,
                from.0
            ),
        ));
    }
    Ok(DateRange {
        from: from.0,
        to: to.map(|to| to.get_ref().0),
    })
}

impl LaneFile {
    fn to_lane(&self, money: &dyn Fn(Decimal) -> Money) -> Result<Lane, Problem> {
        let id = self.id.get_ref().trim();
        if id.is_empty() {
            return Err((self.id.span(), "lane id must not be empty".to_owned()));
        }
        if *self.routing_guide_rank.get_ref() == 0 {
            return Err((
                self.routing_guide_rank.span(),
                "routing_guide_rank starts at 1".to_owned(),
            ));
        }
        if self.rates.get_ref().is_empty() {
            return Err((
                self.rates.span(),
                format!("lane `{id}` needs at least one [[lanes.rates]]"),
            ));
        }
        let mut rates: Vec<Rate> = Vec::new();
        for rate in self.rates.get_ref() {
            let parsed = rate.get_ref().to_rate(money)?;
            if let Some(other) = rates
                .iter()
                .find(|other| other.effective.overlaps(&parsed.effective))
            {
                return Err((
                    rate.span(),
                    format!(
                        "lane `{id}`: this rate's dates overlap the rate from {}",
                        other.effective.from
                    ),
                ));
            }
            rates.push(parsed);
        }
        Ok(Lane {
            id: id.to_owned(),
            origin: area(&self.origin)?,
            destination: area(&self.destination)?,
            effective: date_range(self.effective_from, self.effective_to.as_ref())?,
            transit_days: self.transit_days,
            capacity_per_day: self.capacity_per_day,
            routing_guide_rank: *self.routing_guide_rank.get_ref(),
            rates,
        })
    }
}

fn area(file: &Spanned<AreaFile>) -> Result<Area, Problem> {
    let inner = file.get_ref();
    let scope = match (&inner.region, &inner.zip3) {
        (None, None) => AreaScope::Country,
        (Some(region), None) => {
            let region = region.trim();
            if region.is_empty() {
                return Err((file.span(), "region must not be empty".to_owned()));
            }
            AreaScope::Region(region.to_ascii_uppercase())
        }
        (None, Some(zip3)) => {
            if zip3.len() != 3 || !zip3.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err((file.span(), format!("zip3 `{zip3}` is not three digits")));
            }
            AreaScope::Zip3(zip3.clone())
        }
        (Some(_), Some(_)) => {
            return Err((
                file.span(),
                "an area is a country, a region or a zip3: give region or zip3, not both"
                    .to_owned(),
            ));
        }
    };
    Ok(Area {
        country: inner.country.clone(),
        scope,
    })
}

impl RateFile {
    fn to_rate(&self, money: &dyn Fn(Decimal) -> Money) -> Result<Rate, Problem> {
        let linehaul = match self.linehaul.get_ref() {
            LinehaulFile {
                flat: Some(flat),
                per_mile: None,
                minimum: None,
            } => Linehaul::Flat(money(flat.0)),
            LinehaulFile {
                flat: None,
                per_mile: Some(per_mile),
                minimum,
            } => Linehaul::PerMile {
                rate: money(per_mile.0),
                minimum: minimum.map(|minimum| money(minimum.0)),
            },
            _ => {
                return Err((
                    self.linehaul.span(),
                    "linehaul is { flat = \"…\" } or { per_mile = \"…\", minimum = \"…\" }"
                        .to_owned(),
                ));
            }
        };
        let mut accessorials = BTreeMap::new();
        for (code, amount) in &self.accessorials {
            let trimmed = code.get_ref().trim();
            if trimmed.is_empty() || trimmed != code.get_ref() {
                return Err((
                    code.span(),
                    format!("accessorial code `{}` is empty or padded", code.get_ref()),
                ));
            }
            accessorials.insert(trimmed.to_owned(), money(amount.0));
        }
        Ok(Rate {
            effective: date_range(self.effective_from, self.effective_to.as_ref())?,
            linehaul,
            fuel_surcharge_pct: self.fuel_surcharge_pct.0,
            accessorials,
        })
    }
}

/// The most an amount may be: keeps prices far from the decimal range.
const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A non-negative exact amount of at most [`MAX_AMOUNT`], from a string or an integer.
#[derive(Debug, Clone, Copy)]
struct Amount(Decimal);

/// A percentage from 0 to 100, from a string or an integer.
#[derive(Debug, Clone, Copy)]
struct Percent(Decimal);

/// A calendar day, from a TOML local date (`2026-01-01`) or a string.
#[derive(Debug, Clone, Copy)]
struct Day(Date);

struct DecimalVisitor {
    what: &'static str,
    max: Decimal,
}

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} from 0 to {} as a string (\"12.50\") or an integer",
            self.what, self.max
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Decimal, E> {
        let parsed: Decimal = value
            .trim()
            .parse()
            .map_err(|_| E::custom(format!("`{value}` is not a decimal number")))?;
        self.check(parsed)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        self.check(Decimal::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        self.check(Decimal::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
        Err(E::custom(format!(
            "write {} {value} as a string (\"{value}\"): TOML floats are not exact",
            self.what
        )))
    }
}

impl DecimalVisitor {
    fn check<E: de::Error>(&self, value: Decimal) -> Result<Decimal, E> {
        if value.is_sign_negative() && !value.is_zero() || value > self.max {
            return Err(E::custom(format!(
                "{} {value} is outside 0 to {}",
                self.what, self.max
            )));
        }
        Ok(value.normalize())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(DecimalVisitor {
                what: "an amount",
                max: MAX_AMOUNT,
            })
            .map(Amount)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(DecimalVisitor {
                what: "a percentage",
                max: Decimal::ONE_HUNDRED,
            })
            .map(Percent)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Toml(toml::value::Datetime),
            Text(String),
        }
        let text = match Written::deserialize(deserializer)? {
            Written::Toml(datetime) if datetime.time.is_none() && datetime.offset.is_none() => {
                datetime.to_string()
            }
            Written::Toml(datetime) => {
                return Err(de::Error::custom(format!(
                    "`{datetime}` is not a date: write YYYY-MM-DD"
                )));
            }
            Written::Text(text) => text,
        };
        text.parse::<Date>()
            .map(Day)
            .map_err(|error| de::Error::custom(format!("`{text}` is not a date: {error}")))
    }
}
