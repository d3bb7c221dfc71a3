//! Freight audit of carrier invoices (X12 210).
//!
//! [`audit`] is a pure function of the invoice, what the hub agreed with the carrier for
//! the load ([`ExpectedCharges`], usually [`ExpectedCharges::from_cost`] of the winning
//! carrier's selection [`Cost`]), the facts supporting accessorials that were not tendered
//! ([`AuditEvidence`]), the invoices already audited for the load ([`AuditedInvoice`]) and
//! the [`AuditPolicy`]. It returns an [`AuditOutcome`]: the disposition, the audit of each
//! charge, the amounts and the rules that fired (stable snake_case codes, see [`Rule`]),
//! to be written to the audit log as the decision record.
//!
//! # Checks
//!
//! Run in this order; the first of steps 1 to 5 that applies decides, and the invoice is
//! then not audited charge by charge (its `lines` are empty, nothing is approved):
//!
//! 1. **Earlier invoices.** Prior invoices *match* when they have the same invoice number
//!    (compared exactly) and the same carrier SCAC. The *live* prior is the last matching
//!    one in `prior` order that is not a duplicate, when it is not a cancellation.
//!    - an `Original` that matches any prior invoice is a [`Disposition::Duplicate`]
//!      (`duplicate_invoice`), never paid again; when its total differs from the last
//!      matching one, `duplicate_total_differs` flags it as well;
//!    - a `Rebill` (X12 B308 correction) replaces the live prior: it is audited afresh
//!      (steps 2 to 7), `rebill_replaces` is recorded and `supersedes` names the replaced
//!      invoice. Its approved amount is the full amount of the rebill, not a difference:
//!      the caller voids what it paid on the superseded invoice. Without a live prior it
//!      is audited like an original, with `rebill_without_original`;
//!    - a `Cancellation` is [`Disposition::Cancelled`], approving zero: `cancels_invoice`
//!      with `supersedes` naming the live prior (whose payment the caller reverses), or
//!      `cancellation_without_original` when there is none.
//! 2. `no_matching_load`: no expected charges are known for the load (no accepted tender)
//!    → [`Disposition::Hold`].
//! 3. `currency_mismatch`: the invoice total or a charge is in another currency than the
//!    expected charges → [`Disposition::Hold`].
//! 4. `negative_total`: the invoice total is below zero; credits come as cancellations or
//!    are settled by hand → [`Disposition::Hold`].
//! 5. `charges_do_not_sum_to_total`: the charges do not add up to the invoice total
//!    → [`Disposition::Dispute`].
//!
//! An amount leaving the decimal range (about 7.9 × 10²⁸) in steps 5 to 7 holds the
//! invoice with `amount_out_of_range`.
//!
//! # Charges (step 6)
//!
//! Charges are grouped: every `linehaul` line into one, every `fuel_surcharge` line into
//! one, discounts by code, and all other lines (`accessorial`, `tax`, `other`) by code.
//! A line is reported for linehaul and fuel and for each tendered accessorial even when
//! not billed (billed zero). Lines come in that order, then accessorials in code order,
//! then discounts in code order.
//!
//! The tolerance of an expected amount `e` is
//!
//! ```text
//! tolerance(e) = max(amount_tolerance, |e| × percent_tolerance / 100)
//! ```
//!
//! (exact, not rounded). A charge with an expected amount (linehaul, fuel, accessorials
//! authorized at tender) has `variance = billed − expected` and is *within tolerance*
//! when `|variance| ≤ tolerance(expected)`:
//!
//! - `within_tolerance`: approved as billed;
//! - `over_tolerance`: billed above expected beyond the tolerance: approved at the
//!   expected amount (the tolerance is not granted once exceeded);
//! - `under_tolerance`: billed below expected beyond the tolerance: approved as billed
//!   (the hub never pays more than billed); it does not prevent approval.
//!
//! A billed code that was not tendered is `accessorial_supported_by_events` when the
//! evidence lists it (approved as billed), else `accessorial_not_authorized` (approved
//! zero). An authorized code is always compared to its authorized amount, evidence or
//! not. Taxes and `other` charges follow the accessorial rule under their code: a hub that
//! expects them puts them in the expected accessorials. A discount (zero or negative) is
//! `discount`, approved as billed; a positive one is `discount_not_a_credit`, approved
//! zero.
//!
//! **Total.** The approved amounts of the charges with an expected amount may exceed the
//! expected total (linehaul + fuel + authorized accessorials) by at most
//! `tolerance(expected total)`: small variances within their own tolerance do not add up
//! to a large overpayment. Beyond it, `total_over_tolerance` fires and each such charge
//! approved above its expected amount is approved at its expected amount instead (its
//! rule becomes `total_over_tolerance`).
//!
//! # Disposition (step 7)
//!
//! ```text
//! approvable = max(0, Σ approved of the charges)
//! excess     = billed total − approvable
//! ```
//!
//! - no charge is `over_tolerance`, `total_over_tolerance`, `accessorial_not_authorized`
//!   or `discount_not_a_credit` → [`Disposition::Approve`], paying the billed total;
//! - else, with `hold_unsupported_accessorials` and an `accessorial_not_authorized`
//!   charge → [`Disposition::Hold`] until evidence comes, approving zero;
//! - else, when `excess ≤ short_pay_limit` (or there is no limit) →
//!   [`Disposition::ShortPay`] paying `approvable`;
//! - else [`Disposition::Dispute`]: approving zero; `approvable_amount` says what the
//!   audit would accept.
//!
//! Hence the approved amount is never negative and never above a non-negative billed
//! total. The outcome's `rules` lists the invoice-level rules in the order they fired,
//! then the distinct rules of the charges that kept the invoice from approval.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use transload_core::ids::{CurrencyCode, Scac};
use transload_core::model::{ChargeType, Invoice, InvoiceKind, Money};

use crate::decision::Cost;

/// What the hub agreed with the carrier for the load: the expected charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedCharges {
    /// The currency of the agreement; every amount below is in it.
    pub currency: CurrencyCode,
    /// Linehaul.
    pub linehaul: Money,
    /// Fuel surcharge.
    pub fuel_surcharge: Money,
    /// Accessorials authorized at tender time, by code (`DET`, `LFT`, `HAZ`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accessorials: BTreeMap<String, Money>,
}

impl ExpectedCharges {
    /// The expected charges of a selected carrier's cost: its linehaul, fuel surcharge
    /// and the accessorials the load needed, in the cost's currency.
    #[must_use]
    pub fn from_cost(cost: &Cost) -> Self {
        Self {
            currency: cost.total.currency.clone(),
            linehaul: cost.linehaul.clone(),
            fuel_surcharge: cost.fuel_surcharge.clone(),
            accessorials: cost.accessorials.clone(),
        }
    }

    /// Linehaul + fuel surcharge + the authorized accessorials.
    ///
    /// # Errors
    /// [`AuditError::ExpectedCurrency`] when an amount is not in `currency`;
    /// [`AuditError::ExpectedOutOfRange`] when the sum leaves the decimal range.
    pub fn total(&self) -> Result<Money, AuditError> {
        let parts = [
            ("linehaul", &self.linehaul),
            ("fuel_surcharge", &self.fuel_surcharge),
        ]
        .into_iter()
        .chain(
            self.accessorials
                .iter()
                .map(|(code, amount)| (code.as_str(), amount)),
        );
        let mut total = Decimal::ZERO;
        for (charge, amount) in parts {
            if amount.currency != self.currency {
                return Err(AuditError::ExpectedCurrency {
                    charge: charge.to_owned(),
                    found: amount.currency.clone(),
                    expected: self.currency.clone(),
                });
            }
            total = total
                .checked_add(amount.amount)
                .ok_or(AuditError::ExpectedOutOfRange)?;
        }
        Ok(Money::new(total, self.currency.clone()))
    }
}

impl From<&Cost> for ExpectedCharges {
    fn from(cost: &Cost) -> Self {
        Self::from_cost(cost)
    }
}

/// Facts supporting accessorials that were not tendered, filled by the caller (e.g.
/// detention `DET` from the dwell between arrival and departure at a stop, lumper `LUM`
/// from a receipt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvidence {
    /// Accessorial codes the events support.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub supported_accessorials: BTreeSet<String>,
}

/// Tolerances and limits of the audit. Every amount is zero or more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditPolicy {
    /// Absolute tolerance, per charge and on the total (default 5.00).
    pub amount_tolerance: Decimal,
    /// Tolerance in percent of the expected amount (default 2). The larger of the two
    /// tolerances applies.
    pub percent_tolerance: Decimal,
    /// The largest unapproved excess that is short-paid; above it the invoice is
    /// disputed. `None`: always short-pay (default 250.00).
    pub short_pay_limit: Option<Decimal>,
    /// Hold an invoice with an accessorial neither authorized nor supported, instead of
    /// short-paying it (default false).
    pub hold_unsupported_accessorials: bool,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        Self {
            amount_tolerance: Decimal::new(500, 2),
            percent_tolerance: Decimal::TWO,
            short_pay_limit: Some(Decimal::new(25000, 2)),
            hold_unsupported_accessorials: false,
        }
    }
}

impl AuditPolicy {
    /// `max(amount_tolerance, |expected| × percent_tolerance / 100)`, or `None` when it
    /// leaves the decimal range.
    #[must_use]
    pub fn tolerance(&self, expected: Decimal) -> Option<Decimal> {
        let percent = expected
            .abs()
            .checked_mul(self.percent_tolerance)?
            .checked_div(Decimal::ONE_HUNDRED)?;
        Some(self.amount_tolerance.max(percent))
    }

    fn check(&self) -> Result<(), AuditError> {
        let amounts = [
            ("amount_tolerance", Some(self.amount_tolerance)),
            ("percent_tolerance", Some(self.percent_tolerance)),
            ("short_pay_limit", self.short_pay_limit),
        ];
        for (field, value) in amounts {
            if let Some(value) = value.filter(|value| *value < Decimal::ZERO) {
                return Err(AuditError::NegativePolicy { field, value });
            }
        }
        Ok(())
    }
}

/// Why an audit could not be run: the caller's inputs are inconsistent. Problems of the
/// invoice itself are dispositions, not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// A tolerance or the short-pay limit is negative.
    #[error("audit policy: {field} is {value}; it must be zero or more")]
    NegativePolicy {
        /// The field.
        field: &'static str,
        /// Its value.
        value: Decimal,
    },
    /// An expected amount is in another currency than the expected charges'.
    #[error("expected charges: {charge} is in {found}, not in {expected}")]
    ExpectedCurrency {
        /// `linehaul`, `fuel_surcharge` or the accessorial code.
        charge: String,
        /// Its currency.
        found: CurrencyCode,
        /// The expected charges' currency.
        expected: CurrencyCode,
    },
    /// The expected total leaves the decimal range.
    #[error("expected charges: the total leaves the decimal range")]
    ExpectedOutOfRange,
}

/// What to do with an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disposition {
    /// Pay the billed total.
    Approve,
    /// Pay less than billed.
    ShortPay {
        /// The amount to pay.
        pay: Money,
    },
    /// Pay nothing until the carrier's disagreement is resolved.
    Dispute,
    /// Pay nothing until a person or missing data (tender, evidence) resolves it.
    Hold,
    /// Already invoiced: not paid again.
    Duplicate,
    /// The invoice cancels an earlier one: nothing to pay, the earlier payment is reversed.
    Cancelled,
}

/// A rule of the audit; its stable code is its snake_case name ([`Rule::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// An original invoice whose number the carrier already used.
    DuplicateInvoice,
    /// A duplicate whose total differs from the earlier invoice's.
    DuplicateTotalDiffers,
    /// A rebill replacing an earlier invoice.
    RebillReplaces,
    /// A rebill with no live earlier invoice to replace.
    RebillWithoutOriginal,
    /// A cancellation of an earlier invoice.
    CancelsInvoice,
    /// A cancellation with no live earlier invoice to cancel.
    CancellationWithoutOriginal,
    /// No expected charges are known for the load.
    NoMatchingLoad,
    /// The invoice is not in the expected currency.
    CurrencyMismatch,
    /// The invoice total is negative.
    NegativeTotal,
    /// The charges do not add up to the invoice total.
    ChargesDoNotSumToTotal,
    /// An amount leaves the decimal range.
    AmountOutOfRange,
    /// The charges within their own tolerance exceed the expected total beyond its
    /// tolerance.
    TotalOverTolerance,
    /// The charge is within tolerance of its expected amount.
    WithinTolerance,
    /// The charge is above its expected amount beyond the tolerance.
    OverTolerance,
    /// The charge is below its expected amount beyond the tolerance (paid as billed).
    UnderTolerance,
    /// The accessorial was neither authorized at tender nor supported by evidence.
    AccessorialNotAuthorized,
    /// The accessorial was not tendered but evidence supports it.
    AccessorialSupportedByEvents,
    /// A discount (a credit), accepted as billed.
    Discount,
    /// A discount line with a positive amount.
    DiscountNotACredit,
}

impl Rule {
    /// The rule's stable code, as serialized (`over_tolerance`…).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Rule::DuplicateInvoice => "duplicate_invoice",
            Rule::DuplicateTotalDiffers => "duplicate_total_differs",
            Rule::RebillReplaces => "rebill_replaces",
            Rule::RebillWithoutOriginal => "rebill_without_original",
            Rule::CancelsInvoice => "cancels_invoice",
            Rule::CancellationWithoutOriginal => "cancellation_without_original",
            Rule::NoMatchingLoad => "no_matching_load",
            Rule::CurrencyMismatch => "currency_mismatch",
            Rule::NegativeTotal => "negative_total",
            Rule::ChargesDoNotSumToTotal => "charges_do_not_sum_to_total",
            Rule::AmountOutOfRange => "amount_out_of_range",
            Rule::TotalOverTolerance => "total_over_tolerance",
            Rule::WithinTolerance => "within_tolerance",
            Rule::OverTolerance => "over_tolerance",
            Rule::UnderTolerance => "under_tolerance",
            Rule::AccessorialNotAuthorized => "accessorial_not_authorized",
            Rule::AccessorialSupportedByEvents => "accessorial_supported_by_events",
            Rule::Discount => "discount",
            Rule::DiscountNotACredit => "discount_not_a_credit",
        }
    }

    /// Whether a charge with this rule keeps the invoice from approval.
    fn blocks_approval(self) -> bool {
        matches!(
            self,
            Rule::OverTolerance
                | Rule::TotalOverTolerance
                | Rule::AccessorialNotAuthorized
                | Rule::DiscountNotACredit
        )
    }
}

/// The audit of one charge (charges grouped as the module documentation says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    /// The kind of charge.
    pub charge_type: ChargeType,
    /// The code, for accessorials, taxes, other charges and discounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The amount agreed at tender, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Money>,
    /// The amount billed (zero when an expected charge was not billed).
    pub billed: Money,
    /// `billed − expected`, when there is an expected amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variance: Option<Money>,
    /// The tolerance applied, when there is an expected amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Decimal>,
    /// `|variance| ≤ tolerance`; for charges without expected amount, whether they are
    /// accepted as billed.
    pub within_tolerance: bool,
    /// The amount the audit accepts for the charge.
    pub approved: Money,
    /// The rule that decided it.
    pub rule: Rule,
}

/// An invoice already audited for the load, as [`audit`] needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedInvoice {
    /// The carrier's invoice number.
    pub invoice_number: String,
    /// The invoicing carrier.
    pub carrier: Scac,
    /// Original, rebill or cancellation.
    pub kind: InvoiceKind,
    /// Its billed total.
    pub total: Money,
    /// What the audit decided.
    pub disposition: Disposition,
}

impl From<&AuditOutcome> for AuditedInvoice {
    fn from(outcome: &AuditOutcome) -> Self {
        Self {
            invoice_number: outcome.invoice_number.clone(),
            carrier: outcome.carrier.clone(),
            kind: outcome.kind,
            total: outcome.billed_total.clone(),
            disposition: outcome.disposition.clone(),
        }
    }
}

/// The decision record of the audit of one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOutcome {
    /// The carrier's invoice number.
    pub invoice_number: String,
    /// The invoicing carrier.
    pub carrier: Scac,
    /// Original, rebill or cancellation.
    pub kind: InvoiceKind,
    /// What to do with the invoice.
    pub disposition: Disposition,
    /// The invoice-level rules in the order they fired, then the distinct rules of the
    /// charges that kept the invoice from approval.
    pub rules: Vec<Rule>,
    /// The audit of each charge; empty when the invoice was not audited charge by charge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<AuditLine>,
    /// The invoice total.
    pub billed_total: Money,
    /// Linehaul + fuel + authorized accessorials, when expected charges are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<Money>,
    /// What the audit accepts of the charges (zero when not audited charge by charge).
    pub approvable_amount: Money,
    /// What to pay now.
    pub approved_amount: Money,
    /// The earlier invoice a rebill replaces or a cancellation cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<AuditedInvoice>,
    /// The earlier invoice a duplicate repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<AuditedInvoice>,
    /// Why, for people.
    pub reasons: Vec<String>,
}

impl AuditOutcome {
    /// The stable codes of [`AuditOutcome::rules`].
    #[must_use]
    pub fn rule_codes(&self) -> Vec<&'static str> {
        self.rules.iter().map(|rule| rule.code()).collect()
    }

    /// The line of a charge type and code (`None` for linehaul and fuel).
    #[must_use]
    pub fn line(&self, charge_type: ChargeType, code: Option<&str>) -> Option<&AuditLine> {
        self.lines
            .iter()
            .find(|line| line.charge_type == charge_type && line.code.as_deref() == code)
    }
}

/// Audits `invoice` against the `expected` charges of its load (`None` when no accepted
/// tender is known), the `evidence` for accessorials, the invoices of the load audited
/// before (`prior`, oldest first) and the `policy`. See the module documentation for the
/// rules.
///
/// # Errors
/// [`AuditError`] when the policy has a negative amount or the expected charges mix
/// currencies or leave the decimal range.
pub fn audit(
    invoice: &Invoice,
    expected: Option<&ExpectedCharges>,
    evidence: &AuditEvidence,
    prior: &[AuditedInvoice],
    policy: &AuditPolicy,
) -> Result<AuditOutcome, AuditError> {
    policy.check()?;
    let expected_total = expected.map(ExpectedCharges::total).transpose()?;
    let mut draft = Draft::new(invoice, expected_total.clone());

    // 1. Earlier invoices.
    let matching: Vec<&AuditedInvoice> = prior
        .iter()
        .filter(|earlier| {
            earlier.invoice_number == invoice.invoice_number
                && earlier.carrier == invoice.carrier.scac
        })
        .collect();
    let live = matching
        .iter()
        .rev()
        .find(|earlier| earlier.disposition != Disposition::Duplicate)
        .filter(|earlier| earlier.kind != InvoiceKind::Cancellation)
        .map(|earlier| (*earlier).clone());
    match invoice.kind {
        InvoiceKind::Original => {
            if let Some(last) = matching.last() {
                draft.fire(
                    Rule::DuplicateInvoice,
                    format!(
                        "invoice {} of {} was already received",
                        invoice.invoice_number, invoice.carrier.scac
                    ),
                );
                if last.total != invoice.total {
                    draft.fire(
                        Rule::DuplicateTotalDiffers,
                        format!(
                            "the duplicate bills {}, the earlier invoice {}",
                            invoice.total, last.total
                        ),
                    );
                }
                draft.duplicate_of = Some((*last).clone());
                return Ok(draft.finish(Disposition::Duplicate));
            }
        }
        InvoiceKind::Rebill => match live {
            Some(replaced) => {
                draft.fire(
                    Rule::RebillReplaces,
                    format!(
                        "rebill replaces invoice {} ({:?}, {})",
                        replaced.invoice_number, replaced.kind, replaced.total
                    ),
                );
                draft.supersedes = Some(replaced);
            }
            None => draft.fire(
                Rule::RebillWithoutOriginal,
                "rebill of no live earlier invoice: audited as an original".to_owned(),
            ),
        },
        InvoiceKind::Cancellation => {
            match live {
                Some(cancelled) => {
                    draft.fire(
                        Rule::CancelsInvoice,
                        format!(
                            "cancels invoice {} ({:?}, {})",
                            cancelled.invoice_number, cancelled.kind, cancelled.total
                        ),
                    );
                    draft.supersedes = Some(cancelled);
                }
                None => draft.fire(
                    Rule::CancellationWithoutOriginal,
                    "cancellation of no live earlier invoice".to_owned(),
                ),
            }
            return Ok(draft.finish(Disposition::Cancelled));
        }
    }

    // 2. Expected charges.
    let (Some(expected), Some(expected_total)) = (expected, expected_total) else {
        draft.fire(
            Rule::NoMatchingLoad,
            "no expected charges (accepted tender) are known for the load".to_owned(),
        );
        return Ok(draft.finish(Disposition::Hold));
    };

    // 3. Currency.
    let currency = &expected.currency;
    if let Some(found) = std::iter::once(&invoice.total)
        .chain(invoice.charges.iter().map(|line| &line.amount))
        .map(|amount| &amount.currency)
        .find(|found| *found != currency)
    {
        draft.fire(
            Rule::CurrencyMismatch,
            format!("the invoice bills in {found}, the load is agreed in {currency}"),
        );
        return Ok(draft.finish(Disposition::Hold));
    }

    // 4. Negative total.
    if invoice.total.amount < Decimal::ZERO {
        draft.fire(
            Rule::NegativeTotal,
            format!("the invoice total {} is negative", invoice.total),
        );
        return Ok(draft.finish(Disposition::Hold));
    }

    // 5. Charges against the total.
    let Some(sum) = invoice.charges.iter().try_fold(Decimal::ZERO, |sum, line| {
        sum.checked_add(line.amount.amount)
    }) else {
        return Ok(draft.out_of_range());
    };
    if sum != invoice.total.amount {
        draft.fire(
            Rule::ChargesDoNotSumToTotal,
            format!(
                "the charges add up to {} {currency}, the invoice total is {}",
                sum, invoice.total
            ),
        );
        return Ok(draft.finish(Disposition::Dispute));
    }

    // 6. Charges.
    let Some(charges) = audit_charges(invoice, expected, &expected_total, evidence, policy) else {
        return Ok(draft.out_of_range());
    };
    draft.lines = charges.lines;
    draft.reasons.extend(charges.reasons);
    if charges.total_over {
        draft.rules.push(Rule::TotalOverTolerance);
    }
    let approvable = charges.approvable.max(Decimal::ZERO);
    draft.approvable = approvable;

    // 7. Disposition.
    let blocking: Vec<Rule> = draft
        .lines
        .iter()
        .map(|line| line.rule)
        .filter(|rule| rule.blocks_approval())
        .collect();
    for rule in &blocking {
        if !draft.rules.contains(rule) {
            draft.rules.push(*rule);
        }
    }
    if blocking.is_empty() {
        draft.approved = invoice.total.amount;
        draft
            .reasons
            .push("every charge is within tolerance or supported".to_owned());
        return Ok(draft.finish(Disposition::Approve));
    }
    if policy.hold_unsupported_accessorials && blocking.contains(&Rule::AccessorialNotAuthorized) {
        draft
            .reasons
            .push("held for evidence of the unauthorized accessorials".to_owned());
        return Ok(draft.finish(Disposition::Hold));
    }
    let Some(excess) = invoice.total.amount.checked_sub(approvable) else {
        return Ok(draft.out_of_range());
    };
    if policy.short_pay_limit.is_none_or(|limit| excess <= limit) {
        draft.approved = approvable;
        draft.reasons.push(format!(
            "short pay {approvable} {currency}: {excess} {currency} of the billed total is not approved"
        ));
        let pay = Money::new(approvable, currency.clone());
        return Ok(draft.finish(Disposition::ShortPay { pay }));
    }
    draft.reasons.push(format!(
        "dispute: {excess} {currency} of the billed total is not approved, above the short-pay limit"
    ));
    Ok(draft.finish(Disposition::Dispute))
}

/// The outcome being built.
struct Draft {
    invoice_number: String,
    carrier: Scac,
    kind: InvoiceKind,
    billed_total: Money,
    expected_total: Option<Money>,
    rules: Vec<Rule>,
    lines: Vec<AuditLine>,
    approvable: Decimal,
    approved: Decimal,
    supersedes: Option<AuditedInvoice>,
    duplicate_of: Option<AuditedInvoice>,
    reasons: Vec<String>,
}

impl Draft {
    fn new(invoice: &Invoice, expected_total: Option<Money>) -> Self {
        Self {
            invoice_number: invoice.invoice_number.clone(),
            carrier: invoice.carrier.scac.clone(),
            kind: invoice.kind,
            billed_total: invoice.total.clone(),
            expected_total,
            rules: Vec::new(),
            lines: Vec::new(),
            approvable: Decimal::ZERO,
            approved: Decimal::ZERO,
            supersedes: None,
            duplicate_of: None,
            reasons: Vec::new(),
        }
    }

    fn fire(&mut self, rule: Rule, reason: String) {
        self.rules.push(rule);
        self.reasons.push(reason);
    }

    /// Holds the invoice, discarding any charge audit.
    fn out_of_range(mut self) -> AuditOutcome {
        self.lines.clear();
        self.approvable = Decimal::ZERO;
        self.approved = Decimal::ZERO;
        self.rules
            .retain(|rule| matches!(rule, Rule::RebillReplaces | Rule::RebillWithoutOriginal));
        self.fire(
            Rule::AmountOutOfRange,
            "an amount leaves the decimal range".to_owned(),
        );
        self.finish(Disposition::Hold)
    }

    fn finish(self, disposition: Disposition) -> AuditOutcome {
        let currency = self.billed_total.currency.clone();
        AuditOutcome {
            invoice_number: self.invoice_number,
            carrier: self.carrier,
            kind: self.kind,
            disposition,
            rules: self.rules,
            lines: self.lines,
            billed_total: self.billed_total,
            expected_total: self.expected_total,
            approvable_amount: Money::new(self.approvable, currency.clone()),
            approved_amount: Money::new(self.approved, currency),
            supersedes: self.supersedes,
            duplicate_of: self.duplicate_of,
            reasons: self.reasons,
        }
    }
}

/// The audit of the charges of an invoice.
struct ChargesAudit {
    lines: Vec<AuditLine>,
    /// Σ approved.
    approvable: Decimal,
    total_over: bool,
    reasons: Vec<String>,
}

/// Billed amounts grouped as the module documentation says.
#[derive(Default)]
struct Billed {
    linehaul: Decimal,
    fuel: Decimal,
    /// Accessorials, taxes and other charges by code, with the type of the first line.
    accessorials: BTreeMap<String, (ChargeType, Decimal)>,
    discounts: BTreeMap<String, Decimal>,
}

impl Billed {
    fn of(invoice: &Invoice) -> Option<Self> {
        let mut billed = Billed::default();
        for line in &invoice.charges {
            let amount = line.amount.amount;
            let sum = match line.charge_type {
                ChargeType::Linehaul => &mut billed.linehaul,
                ChargeType::FuelSurcharge => &mut billed.fuel,
                ChargeType::Discount => billed
                    .discounts
                    .entry(line.code.clone())
                    .or_insert(Decimal::ZERO),
                ChargeType::Accessorial | ChargeType::Tax | ChargeType::Other => {
                    &mut billed
                        .accessorials
                        .entry(line.code.clone())
                        .or_insert((line.charge_type, Decimal::ZERO))
                        .1
                }
            };
            *sum = sum.checked_add(amount)?;
        }
        Some(billed)
    }
}

/// Step 6; `None` when an amount leaves the decimal range.
fn audit_charges(
    invoice: &Invoice,
    expected: &ExpectedCharges,
    expected_total: &Money,
    evidence: &AuditEvidence,
    policy: &AuditPolicy,
) -> Option<ChargesAudit> {
    let currency = &expected.currency;
    let money = |amount: Decimal| Money::new(amount, currency.clone());
    let billed = Billed::of(invoice)?;
    let mut reasons = Vec::new();
    let mut lines = vec![
        tendered(
            ChargeType::Linehaul,
            None,
            expected.linehaul.amount,
            billed.linehaul,
            currency,
            policy,
        )?,
        tendered(
            ChargeType::FuelSurcharge,
            None,
            expected.fuel_surcharge.amount,
            billed.fuel,
            currency,
            policy,
        )?,
    ];
    let codes: BTreeSet<&String> = billed
        .accessorials
        .keys()
        .chain(expected.accessorials.keys())
        .collect();
    for code in codes {
        let (charge_type, amount) = billed
            .accessorials
            .get(code)
            .copied()
            .unwrap_or((ChargeType::Accessorial, Decimal::ZERO));
        let line = if let Some(authorized) = expected.accessorials.get(code) {
            tendered(
                charge_type,
                Some(code),
                authorized.amount,
                amount,
                currency,
                policy,
            )?
        } else {
            let supported = evidence.supported_accessorials.contains(code);
            AuditLine {
                charge_type,
                code: Some(code.clone()),
                expected: None,
                billed: money(amount),
                variance: None,
                tolerance: None,
                within_tolerance: supported,
                approved: money(if supported { amount } else { Decimal::ZERO }),
                rule: if supported {
                    Rule::AccessorialSupportedByEvents
                } else {
                    Rule::AccessorialNotAuthorized
                },
            }
        };
        lines.push(line);
    }
    for (code, amount) in &billed.discounts {
        let credit = *amount <= Decimal::ZERO;
        lines.push(AuditLine {
            charge_type: ChargeType::Discount,
            code: Some(code.clone()),
            expected: None,
            billed: money(*amount),
            variance: None,
            tolerance: None,
            within_tolerance: credit,
            approved: money(if credit { *amount } else { Decimal::ZERO }),
            rule: if credit {
                Rule::Discount
            } else {
                Rule::DiscountNotACredit
            },
        });
    }

    // The total of the charges with an expected amount.
    let approved_tendered = lines
        .iter()
        .filter(|line| line.expected.is_some())
        .try_fold(Decimal::ZERO, |sum, line| {
            sum.checked_add(line.approved.amount)
        })?;
    let total_variance = approved_tendered.checked_sub(expected_total.amount)?;
    let total_tolerance = policy.tolerance(expected_total.amount)?;
    let total_over = total_variance > total_tolerance;
    if total_over {
        reasons.push(format!(
            "the tendered charges exceed the expected total {expected_total} by {total_variance}, beyond the tolerance {total_tolerance}: each is approved at most at its expected amount"
        ));
        for line in &mut lines {
            if let Some(expected) = &line.expected
                && line.approved.amount > expected.amount
            {
                line.approved = expected.clone();
                line.rule = Rule::TotalOverTolerance;
            }
        }
    }

    for line in &lines {
        if let Some(reason) = line_reason(line) {
            reasons.push(reason);
        }
    }
    let approvable = lines.iter().try_fold(Decimal::ZERO, |sum, line| {
        sum.checked_add(line.approved.amount)
    })?;
    Some(ChargesAudit {
        lines,
        approvable,
        total_over,
        reasons,
    })
}

/// The audit of a charge with an expected amount.
fn tendered(
    charge_type: ChargeType,
    code: Option<&String>,
    expected: Decimal,
    billed: Decimal,
    currency: &CurrencyCode,
    policy: &AuditPolicy,
) -> Option<AuditLine> {
    let variance = billed.checked_sub(expected)?;
    let tolerance = policy.tolerance(expected)?;
    let within = variance.abs() <= tolerance;
    let (rule, approved) = if within {
        (Rule::WithinTolerance, billed)
    } else if variance > Decimal::ZERO {
        (Rule::OverTolerance, expected)
    } else {
        (Rule::UnderTolerance, billed)
    };
    let money = |amount: Decimal| Money::new(amount, currency.clone());
    Some(AuditLine {
        charge_type,
        code: code.cloned(),
        expected: Some(money(expected)),
        billed: money(billed),
        variance: Some(money(variance)),
        tolerance: Some(tolerance),
        within_tolerance: within,
        approved: money(approved),
        rule,
    })
}

/// A sentence about a charge that is not simply within tolerance.
fn line_reason(line: &AuditLine) -> Option<String> {
    let name = match (&line.code, line.charge_type) {
        (Some(code), _) => format!("{code} charge"),
        (None, ChargeType::FuelSurcharge) => "fuel surcharge".to_owned(),
        (None, _) => "linehaul".to_owned(),
    };
    let expected = line
        .expected
        .as_ref()
        .map_or_else(String::new, |expected| format!(", expected {expected}"));
    let tolerance = line
        .tolerance
        .map_or_else(String::new, |tolerance| format!(", tolerance {tolerance}"));
    let what = match line.rule {
        Rule::WithinTolerance | Rule::Discount => return None,
        Rule::OverTolerance => "over tolerance",
        Rule::UnderTolerance => "under tolerance, paid as billed",
        Rule::TotalOverTolerance => "within its tolerance but the total is not",
        Rule::AccessorialNotAuthorized => "neither authorized at tender nor supported",
        Rule::AccessorialSupportedByEvents => "not tendered, supported by events",
        Rule::DiscountNotACredit => "a discount that is not a credit",
        _ => "unexpected",
    };
    Some(format!(
        "{name} billed {}{expected}{tolerance}: {what}; approved {}",
        line.billed, line.approved
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(value: &str) -> Decimal {
        value.parse().unwrap()
    }

    #[test]
    fn tolerance_is_the_larger_of_amount_and_percent() {
        let policy = AuditPolicy::default();
        assert_eq!(policy.tolerance(d("100")), Some(d("5.00")));
        assert_eq!(policy.tolerance(d("1000")), Some(d("20")));
        assert_eq!(policy.tolerance(d("-1000")), Some(d("20")));
        assert_eq!(policy.tolerance(d("250")), Some(d("5.00")));
    }

    #[test]
    fn negative_policy_amounts_are_rejected() {
        let policy = AuditPolicy {
            short_pay_limit: Some(d("-1")),
            ..AuditPolicy::default()
        };
        assert_eq!(
            policy.check(),
            Err(AuditError::NegativePolicy {
                field: "short_pay_limit",
                value: d("-1"),
            })
        );
        assert_eq!(AuditPolicy::default().check(), Ok(()));
    }

    #[test]
    fn rule_codes_match_serde_names() {
        for rule in [
            Rule::DuplicateInvoice,
            Rule::ChargesDoNotSumToTotal,
            Rule::AccessorialSupportedByEvents,
            Rule::TotalOverTolerance,
            Rule::DiscountNotACredit,
        ] {
            let json = serde_json::to_value(rule).unwrap();
            assert_eq!(json, serde_json::Value::String(rule.code().to_owned()));
        }
    }

    #[test]
    fn policy_defaults_fill_missing_toml_fields() {
        let policy: AuditPolicy = toml::from_str("amount_tolerance = \"10\"").unwrap();
        assert_eq!(policy.amount_tolerance, d("10"));
        assert_eq!(policy.percent_tolerance, Decimal::TWO);
        assert_eq!(policy.short_pay_limit, Some(d("250.00")));
    }
}
