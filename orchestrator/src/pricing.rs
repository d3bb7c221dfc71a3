//! The price of a load on a lane: linehaul, fuel surcharge and the accessorials it needs.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use transload_core::ids::CurrencyCode;
use transload_core::model::Money;

use crate::carrier::{Lane, Linehaul, Rate};
use crate::decision::{Cost, Exclusion};
use crate::request::LoadRequest;

/// Rounds an amount to cents, half away from zero (as invoices do), and writes it with
/// two decimals (`1000` becomes `1000.00`).
#[must_use]
pub fn to_cents(amount: Decimal) -> Decimal {
    let mut cents = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    cents.rescale(2);
    cents
}

/// The cost of `load` on `lane` at `rate`, in `currency`:
///
/// - linehaul = flat amount, or `max(per_mile × miles, minimum)`, rounded to cents;
/// - fuel surcharge = `linehaul × fuel_surcharge_pct / 100`, rounded to cents;
/// - each accessorial the load needs = its rate, rounded to cents;
/// - total = the sum of the above.
///
/// # Errors
/// [`Exclusion::AccessorialNotRated`] for the first needed code (in code order) the rate
/// lacks; [`Exclusion::CostOverflow`] when an amount exceeds the decimal range.
pub fn price(
    lane: &Lane,
    rate: &Rate,
    load: &LoadRequest,
    currency: &CurrencyCode,
) -> Result<Cost, Exclusion> {
    let overflow = || Exclusion::CostOverflow {
        lane: lane.id.clone(),
    };
    let linehaul = match &rate.linehaul {
        Linehaul::Flat(amount) => amount.amount,
        Linehaul::PerMile { rate, minimum } => {
            let distance = rate.amount.checked_mul(load.miles).ok_or_else(overflow)?;
            minimum
                .as_ref()
                .map_or(distance, |minimum| distance.max(minimum.amount))
        }
    };
    let linehaul = to_cents(linehaul);
    let fuel = linehaul
        .checked_mul(rate.fuel_surcharge_pct)
        .and_then(|product| product.checked_div(Decimal::ONE_HUNDRED))
        .map(to_cents)
        .ok_or_else(overflow)?;
    let mut accessorials = BTreeMap::new();
    let mut total = linehaul.checked_add(fuel).ok_or_else(overflow)?;
    for code in &load.accessorials {
        let charge = rate
            .accessorials
            .get(code)
            .ok_or_else(|| Exclusion::AccessorialNotRated {
                lane: lane.id.clone(),
                code: code.clone(),
            })?;
        let amount = to_cents(charge.amount);
        total = total.checked_add(amount).ok_or_else(overflow)?;
        accessorials.insert(code.clone(), Money::new(amount, currency.clone()));
    }
    Ok(Cost {
        linehaul: Money::new(linehaul, currency.clone()),
        fuel_surcharge: Money::new(fuel, currency.clone()),
        accessorials,
        total: Money::new(total, currency.clone()),
    })
}
