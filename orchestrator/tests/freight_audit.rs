//! Freight audit of carrier invoices, through the public API: one scenario per rule with
//! exact amounts and rule codes, and properties on random invoices.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rust_decimal::Decimal;
use transload_core::ids::{CurrencyCode, Scac, ShipperLoadId};
use transload_core::model::{CarrierRef, ChargeLine, ChargeType, Invoice, InvoiceKind, Money};
use transload_orchestrator::Cost;
use transload_orchestrator::freight_audit::{
    AuditError, AuditEvidence, AuditOutcome, AuditPolicy, AuditedInvoice, Disposition,
    ExpectedCharges, Rule, audit,
};

// ---------------------------------------------------------------- helpers

fn d(value: &str) -> Decimal {
    value.parse().unwrap()
}

fn money(amount: &str, currency: &str) -> Money {
    Money::new(d(amount), CurrencyCode::new(currency).unwrap())
}

fn usd(amount: &str) -> Money {
    money(amount, "USD")
}

fn charge(charge_type: ChargeType, code: &str, amount: &str) -> ChargeLine {
    ChargeLine {
        charge_type,
        code: code.to_owned(),
        raw_code: None,
        description: None,
        quantity: None,
        rate: None,
        amount: usd(amount),
    }
}

fn linehaul(amount: &str) -> ChargeLine {
    charge(ChargeType::Linehaul, "400", amount)
}

fn fuel(amount: &str) -> ChargeLine {
    charge(ChargeType::FuelSurcharge, "FUE", amount)
}

fn accessorial(code: &str, amount: &str) -> ChargeLine {
    charge(ChargeType::Accessorial, code, amount)
}

/// An invoice of carrier ODFL whose total is the sum of its charges.
fn invoice(number: &str, kind: InvoiceKind, charges: Vec<ChargeLine>) -> Invoice {
    let total = charges
        .iter()
        .map(|line| line.amount.amount)
        .sum::<Decimal>();
    Invoice {
        invoice_number: number.to_owned(),
        kind,
        raw_correction_code: match kind {
            InvoiceKind::Original => None,
            InvoiceKind::Rebill => Some("CO".to_owned()),
            InvoiceKind::Cancellation => Some("CA".to_owned()),
        },
        carrier: CarrierRef {
            scac: Scac::new("ODFL").unwrap(),
            name: None,
        },
        shipper_load_id: Some(ShipperLoadId::new("LOAD-1").unwrap()),
        pro_number: None,
        invoice_date: jiff::civil::date(2026, 3, 10),
        due_date: None,
        parties: Vec::new(),
        billed_weight: None,
        charges,
        total: Money::new(total, CurrencyCode::new("USD").unwrap()),
        references: Vec::new(),
    }
}

fn original(charges: Vec<ChargeLine>) -> Invoice {
    invoice("INV-100", InvoiceKind::Original, charges)
}

/// Linehaul 1000.00, fuel 200.00, liftgate `LFT` 75.00 authorized: 1275.00.
fn expected() -> ExpectedCharges {
    ExpectedCharges {
        currency: CurrencyCode::new("USD").unwrap(),
        linehaul: usd("1000.00"),
        fuel_surcharge: usd("200.00"),
        accessorials: BTreeMap::from([("LFT".to_owned(), usd("75.00"))]),
    }
}

fn exact_charges() -> Vec<ChargeLine> {
    vec![
        linehaul("1000.00"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]
}

fn run(invoice: &Invoice) -> AuditOutcome {
    run_with(
        invoice,
        &AuditEvidence::default(),
        &[],
        &AuditPolicy::default(),
    )
}

fn run_with(
    invoice: &Invoice,
    evidence: &AuditEvidence,
    prior: &[AuditedInvoice],
    policy: &AuditPolicy,
) -> AuditOutcome {
    audit(invoice, Some(&expected()), evidence, prior, policy).unwrap()
}

fn line_rule(outcome: &AuditOutcome, charge_type: ChargeType, code: Option<&str>) -> &'static str {
    outcome.line(charge_type, code).unwrap().rule.code()
}

fn audited(
    number: &str,
    kind: InvoiceKind,
    total: &str,
    disposition: Disposition,
) -> AuditedInvoice {
    AuditedInvoice {
        invoice_number: number.to_owned(),
        carrier: Scac::new("ODFL").unwrap(),
        kind,
        total: usd(total),
        disposition,
    }
}

// ---------------------------------------------------------------- tolerance

#[test]
fn exact_match_is_approved() {
    let outcome = run(&original(exact_charges()));
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1275.00"));
    assert_eq!(outcome.approvable_amount, usd("1275.00"));
    assert_eq!(outcome.billed_total, usd("1275.00"));
    assert_eq!(outcome.expected_total, Some(usd("1275.00")));
    assert!(outcome.rules.is_empty(), "{:?}", outcome.rules);
    assert_eq!(outcome.lines.len(), 3);
    for line in &outcome.lines {
        assert_eq!(line.rule, Rule::WithinTolerance);
        assert!(line.within_tolerance);
        assert_eq!(line.variance.as_ref().unwrap().amount, Decimal::ZERO);
        assert_eq!(line.approved, line.billed);
    }
}

#[test]
fn within_amount_tolerance_is_approved() {
    // Fuel 200.00: 2 % is 4.00, so the 5.00 amount tolerance applies; 4.50 over.
    let outcome = run(&original(vec![
        linehaul("1000.00"),
        fuel("204.50"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1279.50"));
    let fuel = outcome.line(ChargeType::FuelSurcharge, None).unwrap();
    assert_eq!(fuel.variance, Some(usd("4.50")));
    assert_eq!(fuel.tolerance, Some(d("5.00")));
    assert_eq!(fuel.rule, Rule::WithinTolerance);
}

#[test]
fn within_percent_tolerance_is_approved() {
    // Linehaul 1000.00: 2 % is 20.00, above the 5.00 amount tolerance; 18.00 over.
    let outcome = run(&original(vec![
        linehaul("1018.00"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1293.00"));
    let line = outcome.line(ChargeType::Linehaul, None).unwrap();
    assert_eq!(line.variance, Some(usd("18.00")));
    assert_eq!(line.tolerance, Some(d("20")));
    assert!(line.within_tolerance);
}

#[test]
fn the_tolerance_bound_is_inclusive() {
    let at = run(&original(vec![
        linehaul("1020.00"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(at.disposition, Disposition::Approve);
    let beyond = run(&original(vec![
        linehaul("1020.01"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(
        beyond.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    assert_eq!(
        line_rule(&beyond, ChargeType::Linehaul, None),
        "over_tolerance"
    );
}

#[test]
fn fuel_over_tolerance_is_short_paid_the_fuel_excess() {
    // Fuel 260.00 against 200.00 (tolerance 5.00): the 60.00 excess is not paid.
    let outcome = run(&original(vec![
        linehaul("1000.00"),
        fuel("260.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    assert_eq!(outcome.billed_total, usd("1335.00"));
    assert_eq!(outcome.approved_amount, usd("1275.00"));
    assert_eq!(outcome.rule_codes(), ["over_tolerance"]);
    let fuel = outcome.line(ChargeType::FuelSurcharge, None).unwrap();
    assert_eq!(fuel.expected, Some(usd("200.00")));
    assert_eq!(fuel.billed, usd("260.00"));
    assert_eq!(fuel.variance, Some(usd("60.00")));
    assert!(!fuel.within_tolerance);
    assert_eq!(fuel.approved, usd("200.00"));
    assert_eq!(fuel.rule.code(), "over_tolerance");
    assert_eq!(
        line_rule(&outcome, ChargeType::Linehaul, None),
        "within_tolerance"
    );
}

#[test]
fn big_overcharge_is_disputed() {
    // Linehaul 1400.00 against 1000.00: 400.00 unapproved, above the 250.00 limit.
    let outcome = run(&original(vec![
        linehaul("1400.00"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(outcome.disposition, Disposition::Dispute);
    assert_eq!(outcome.approved_amount, usd("0"));
    assert_eq!(outcome.approvable_amount, usd("1275.00"));
    assert_eq!(outcome.rule_codes(), ["over_tolerance"]);
    assert_eq!(
        outcome.line(ChargeType::Linehaul, None).unwrap().variance,
        Some(usd("400.00"))
    );
}

#[test]
fn an_excess_equal_to_the_short_pay_limit_is_short_paid() {
    let outcome = run(&original(vec![
        linehaul("1250.00"),
        fuel("200.00"),
        accessorial("LFT", "75.00"),
    ]));
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
}

#[test]
fn without_a_short_pay_limit_any_excess_is_short_paid() {
    let policy = AuditPolicy {
        short_pay_limit: None,
        ..AuditPolicy::default()
    };
    let outcome = run_with(
        &original(vec![
            linehaul("5000.00"),
            fuel("200.00"),
            accessorial("LFT", "75.00"),
        ]),
        &AuditEvidence::default(),
        &[],
        &policy,
    );
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
}

#[test]
fn an_undercharge_is_paid_as_billed() {
    let outcome = run(&original(vec![linehaul("900.00"), fuel("200.00")]));
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1100.00"));
    assert_eq!(
        line_rule(&outcome, ChargeType::Linehaul, None),
        "under_tolerance"
    );
    // The authorized liftgate was not billed: reported, billed zero.
    let lft = outcome.line(ChargeType::Accessorial, Some("LFT")).unwrap();
    assert_eq!(lft.billed, usd("0"));
    assert_eq!(lft.variance, Some(usd("-75.00")));
    assert_eq!(lft.rule, Rule::UnderTolerance);
}

#[test]
fn small_variances_adding_up_beyond_the_total_tolerance_are_short_paid() {
    // +19.00 (tolerance 20), +5.00 (5), +5.00 (5): 29.00 over a 1275.00 total whose
    // tolerance is 25.50; each charge is paid at its expected amount.
    let outcome = run(&original(vec![
        linehaul("1019.00"),
        fuel("205.00"),
        accessorial("LFT", "80.00"),
    ]));
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    assert_eq!(outcome.rule_codes(), ["total_over_tolerance"]);
    for line in &outcome.lines {
        assert!(line.within_tolerance);
        assert_eq!(line.rule.code(), "total_over_tolerance");
        assert_eq!(Some(&line.approved), line.expected.as_ref());
    }
}

// ---------------------------------------------------------------- accessorials

#[test]
fn unauthorized_accessorial_is_short_paid_excluding_it() {
    let mut charges = exact_charges();
    charges.push(accessorial("DET", "150.00"));
    let outcome = run(&original(charges));
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    assert_eq!(outcome.billed_total, usd("1425.00"));
    assert_eq!(outcome.rule_codes(), ["accessorial_not_authorized"]);
    let det = outcome.line(ChargeType::Accessorial, Some("DET")).unwrap();
    assert_eq!(det.rule.code(), "accessorial_not_authorized");
    assert_eq!(det.expected, None);
    assert_eq!(det.billed, usd("150.00"));
    assert_eq!(det.approved, usd("0"));
    assert!(!det.within_tolerance);
}

#[test]
fn accessorial_supported_by_evidence_is_approved() {
    let mut charges = exact_charges();
    charges.push(accessorial("DET", "150.00"));
    let evidence = AuditEvidence {
        supported_accessorials: BTreeSet::from(["DET".to_owned()]),
    };
    let outcome = run_with(&original(charges), &evidence, &[], &AuditPolicy::default());
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1425.00"));
    let det = outcome.line(ChargeType::Accessorial, Some("DET")).unwrap();
    assert_eq!(det.rule.code(), "accessorial_supported_by_events");
    assert_eq!(det.approved, usd("150.00"));
}

#[test]
fn tendered_accessorial_billed_above_authorized_is_paid_at_authorized() {
    // LFT 120.00 against 75.00 authorized (tolerance 5.00).
    let outcome = run(&original(vec![
        linehaul("1000.00"),
        fuel("200.00"),
        accessorial("LFT", "120.00"),
    ]));
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    let lft = outcome.line(ChargeType::Accessorial, Some("LFT")).unwrap();
    assert_eq!(lft.rule.code(), "over_tolerance");
    assert_eq!(lft.variance, Some(usd("45.00")));
    assert_eq!(lft.approved, usd("75.00"));
}

#[test]
fn evidence_does_not_lift_an_authorized_amount() {
    let evidence = AuditEvidence {
        supported_accessorials: BTreeSet::from(["LFT".to_owned()]),
    };
    let outcome = run_with(
        &original(vec![
            linehaul("1000.00"),
            fuel("200.00"),
            accessorial("LFT", "120.00"),
        ]),
        &evidence,
        &[],
        &AuditPolicy::default(),
    );
    assert_eq!(
        line_rule(&outcome, ChargeType::Accessorial, Some("LFT")),
        "over_tolerance"
    );
    assert_eq!(outcome.approved_amount, usd("1275.00"));
}

#[test]
fn unauthorized_accessorial_can_be_held_for_evidence() {
    let mut charges = exact_charges();
    charges.push(accessorial("LUM", "90.00"));
    let policy = AuditPolicy {
        hold_unsupported_accessorials: true,
        ..AuditPolicy::default()
    };
    let outcome = run_with(&original(charges), &AuditEvidence::default(), &[], &policy);
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.approved_amount, usd("0"));
    assert_eq!(outcome.approvable_amount, usd("1275.00"));
    assert_eq!(outcome.rule_codes(), ["accessorial_not_authorized"]);
}

#[test]
fn discounts_are_accepted_as_billed() {
    let mut charges = exact_charges();
    charges.push(charge(ChargeType::Discount, "DSC", "-25.00"));
    let outcome = run(&original(charges));
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.approved_amount, usd("1250.00"));
    assert_eq!(
        line_rule(&outcome, ChargeType::Discount, Some("DSC")),
        "discount"
    );
}

// ---------------------------------------------------------------- earlier invoices

#[test]
fn duplicate_original_is_not_paid_again() {
    let prior = [audited(
        "INV-100",
        InvoiceKind::Original,
        "1275.00",
        Disposition::Approve,
    )];
    let outcome = run_with(
        &original(exact_charges()),
        &AuditEvidence::default(),
        &prior,
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Duplicate);
    assert_eq!(outcome.rule_codes(), ["duplicate_invoice"]);
    assert_eq!(outcome.approved_amount, usd("0"));
    assert_eq!(outcome.duplicate_of.as_ref(), Some(&prior[0]));
    assert!(outcome.lines.is_empty());
}

#[test]
fn duplicate_with_another_total_is_still_a_duplicate_and_flagged() {
    let prior = [audited(
        "INV-100",
        InvoiceKind::Original,
        "1275.00",
        Disposition::Approve,
    )];
    let outcome = run_with(
        &original(vec![linehaul("1100.00"), fuel("200.00")]),
        &AuditEvidence::default(),
        &prior,
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Duplicate);
    assert_eq!(
        outcome.rule_codes(),
        ["duplicate_invoice", "duplicate_total_differs"]
    );
    assert_eq!(outcome.approved_amount, usd("0"));
}

#[test]
fn the_same_number_from_another_carrier_is_not_a_duplicate() {
    let mut prior = audited(
        "INV-100",
        InvoiceKind::Original,
        "1275.00",
        Disposition::Approve,
    );
    prior.carrier = Scac::new("SAIA").unwrap();
    let outcome = run_with(
        &original(exact_charges()),
        &AuditEvidence::default(),
        &[prior],
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.duplicate_of, None);
}

#[test]
fn rebill_replaces_the_earlier_invoice_and_is_audited_afresh() {
    let earlier = audited(
        "INV-100",
        InvoiceKind::Original,
        "1335.00",
        Disposition::ShortPay {
            pay: usd("1275.00"),
        },
    );
    let rebill = invoice("INV-100", InvoiceKind::Rebill, exact_charges());
    let outcome = run_with(
        &rebill,
        &AuditEvidence::default(),
        std::slice::from_ref(&earlier),
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.rule_codes(), ["rebill_replaces"]);
    assert_eq!(outcome.supersedes, Some(earlier));
    assert_eq!(outcome.approved_amount, usd("1275.00"));
    assert_eq!(outcome.lines.len(), 3);
}

#[test]
fn rebill_still_overcharging_is_short_paid() {
    let earlier = audited(
        "INV-100",
        InvoiceKind::Original,
        "1400.00",
        Disposition::Dispute,
    );
    let rebill = invoice(
        "INV-100",
        InvoiceKind::Rebill,
        vec![
            linehaul("1000.00"),
            fuel("260.00"),
            accessorial("LFT", "75.00"),
        ],
    );
    let outcome = run_with(
        &rebill,
        &AuditEvidence::default(),
        &[earlier],
        &AuditPolicy::default(),
    );
    assert_eq!(
        outcome.disposition,
        Disposition::ShortPay {
            pay: usd("1275.00")
        }
    );
    assert_eq!(outcome.rule_codes(), ["rebill_replaces", "over_tolerance"]);
}

#[test]
fn rebill_without_earlier_invoice_is_audited_as_an_original() {
    let rebill = invoice("INV-100", InvoiceKind::Rebill, exact_charges());
    let outcome = run(&rebill);
    assert_eq!(outcome.disposition, Disposition::Approve);
    assert_eq!(outcome.rule_codes(), ["rebill_without_original"]);
    assert_eq!(outcome.supersedes, None);
}

#[test]
fn cancellation_cancels_the_live_invoice() {
    let prior = [
        audited(
            "INV-100",
            InvoiceKind::Original,
            "1275.00",
            Disposition::Approve,
        ),
        audited(
            "INV-100",
            InvoiceKind::Original,
            "1275.00",
            Disposition::Duplicate,
        ),
    ];
    let cancellation = invoice("INV-100", InvoiceKind::Cancellation, exact_charges());
    let outcome = run_with(
        &cancellation,
        &AuditEvidence::default(),
        &prior,
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Cancelled);
    assert_eq!(outcome.rule_codes(), ["cancels_invoice"]);
    assert_eq!(outcome.supersedes.as_ref(), Some(&prior[0]));
    assert_eq!(outcome.approved_amount, usd("0"));
    assert!(outcome.lines.is_empty());
}

#[test]
fn cancellation_of_nothing_live_is_reported() {
    let prior = [
        audited(
            "INV-100",
            InvoiceKind::Original,
            "1275.00",
            Disposition::Approve,
        ),
        audited(
            "INV-100",
            InvoiceKind::Cancellation,
            "1275.00",
            Disposition::Cancelled,
        ),
    ];
    let cancellation = invoice("INV-100", InvoiceKind::Cancellation, exact_charges());
    let outcome = run_with(
        &cancellation,
        &AuditEvidence::default(),
        &prior,
        &AuditPolicy::default(),
    );
    assert_eq!(outcome.disposition, Disposition::Cancelled);
    assert_eq!(outcome.rule_codes(), ["cancellation_without_original"]);
    assert_eq!(outcome.supersedes, None);
}

#[test]
fn an_outcome_becomes_the_prior_of_the_next_audit() {
    let first = run(&original(exact_charges()));
    let prior = [AuditedInvoice::from(&first)];
    let again = run_with(
        &original(exact_charges()),
        &AuditEvidence::default(),
        &prior,
        &AuditPolicy::default(),
    );
    assert_eq!(again.disposition, Disposition::Duplicate);
}

// ---------------------------------------------------------------- prechecks

#[test]
fn no_matching_load_is_held() {
    let outcome = audit(
        &original(exact_charges()),
        None,
        &AuditEvidence::default(),
        &[],
        &AuditPolicy::default(),
    )
    .unwrap();
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.rule_codes(), ["no_matching_load"]);
    assert_eq!(outcome.expected_total, None);
    assert_eq!(outcome.approved_amount, usd("0"));
}

#[test]
fn currency_mismatch_is_held() {
    let mut invoice = original(exact_charges());
    for line in &mut invoice.charges {
        line.amount.currency = CurrencyCode::new("CAD").unwrap();
    }
    invoice.total.currency = CurrencyCode::new("CAD").unwrap();
    let outcome = run(&invoice);
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.rule_codes(), ["currency_mismatch"]);
    assert_eq!(outcome.approved_amount, money("0", "CAD"));
}

#[test]
fn a_charge_in_another_currency_is_held() {
    let mut invoice = original(exact_charges());
    invoice.charges[2].amount.currency = CurrencyCode::new("CAD").unwrap();
    let outcome = run(&invoice);
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.rule_codes(), ["currency_mismatch"]);
}

#[test]
fn charges_not_summing_to_the_total_are_disputed() {
    let mut invoice = original(exact_charges());
    invoice.total = usd("1300.00");
    let outcome = run(&invoice);
    assert_eq!(outcome.disposition, Disposition::Dispute);
    assert_eq!(outcome.rule_codes(), ["charges_do_not_sum_to_total"]);
    assert_eq!(outcome.approved_amount, usd("0"));
    assert!(outcome.lines.is_empty());
}

#[test]
fn a_negative_total_is_held() {
    let outcome = run(&original(vec![charge(
        ChargeType::Discount,
        "DSC",
        "-10.00",
    )]));
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.rule_codes(), ["negative_total"]);
}

#[test]
fn amounts_out_of_range_are_held() {
    let mut invoice = original(exact_charges());
    invoice.charges = vec![
        linehaul(&Decimal::MAX.to_string()),
        fuel(&Decimal::MAX.to_string()),
    ];
    let outcome = run(&invoice);
    assert_eq!(outcome.disposition, Disposition::Hold);
    assert_eq!(outcome.rule_codes(), ["amount_out_of_range"]);
}

#[test]
fn inconsistent_inputs_are_errors() {
    let policy = AuditPolicy {
        amount_tolerance: d("-0.01"),
        ..AuditPolicy::default()
    };
    let error = audit(
        &original(exact_charges()),
        Some(&expected()),
        &AuditEvidence::default(),
        &[],
        &policy,
    )
    .unwrap_err();
    assert_eq!(
        error,
        AuditError::NegativePolicy {
            field: "amount_tolerance",
            value: d("-0.01"),
        }
    );

    let mut mixed = expected();
    mixed.fuel_surcharge = money("200.00", "CAD");
    let error = audit(
        &original(exact_charges()),
        Some(&mixed),
        &AuditEvidence::default(),
        &[],
        &AuditPolicy::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "expected charges: fuel_surcharge is in CAD, not in USD"
    );
}

// ---------------------------------------------------------------- cost, serde

#[test]
fn expected_charges_come_from_the_selection_cost() {
    let cost = Cost {
        linehaul: usd("1000.00"),
        fuel_surcharge: usd("200.00"),
        accessorials: BTreeMap::from([("LFT".to_owned(), usd("75.00"))]),
        total: usd("1275.00"),
    };
    let charges = ExpectedCharges::from_cost(&cost);
    assert_eq!(charges, expected());
    assert_eq!(charges.total(), Ok(usd("1275.00")));
    assert_eq!(ExpectedCharges::from(&cost), charges);
}

#[test]
fn outcome_round_trips_through_json() {
    let mut charges = vec![
        linehaul("1000.00"),
        fuel("260.00"),
        accessorial("LFT", "75.00"),
    ];
    charges.push(accessorial("DET", "150.00"));
    let earlier = audited(
        "INV-100",
        InvoiceKind::Original,
        "1000.00",
        Disposition::Hold,
    );
    let outcome = run_with(
        &invoice("INV-100", InvoiceKind::Rebill, charges),
        &AuditEvidence::default(),
        &[earlier],
        &AuditPolicy::default(),
    );
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(
        json["disposition"],
        serde_json::json!({"kind": "short_pay", "pay": {"amount": "1275.00", "currency": "USD"}})
    );
    assert_eq!(
        json["rules"],
        serde_json::json!([
            "rebill_replaces",
            "over_tolerance",
            "accessorial_not_authorized"
        ])
    );
    assert_eq!(json["lines"][1]["charge_type"], "fuel_surcharge");
    assert_eq!(json["lines"][1]["variance"]["amount"], "60.00");
    assert_eq!(json["supersedes"]["disposition"]["kind"], "hold");
    let back: AuditOutcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, outcome);
}

// ---------------------------------------------------------------- properties

const CODES: [&str; 4] = ["DET", "LFT", "LUM", "HAZ"];

fn cents(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = Decimal> {
    range.prop_map(|cents| Decimal::new(cents, 2))
}

fn arb_expected() -> impl Strategy<Value = ExpectedCharges> {
    (
        cents(0..=500_000),
        cents(0..=100_000),
        proptest::collection::btree_map(
            proptest::sample::select(&CODES[..]),
            cents(0..=50_000),
            0..=3,
        ),
    )
        .prop_map(|(linehaul, fuel, accessorials)| {
            let usd = CurrencyCode::new("USD").unwrap();
            ExpectedCharges {
                currency: usd.clone(),
                linehaul: Money::new(linehaul, usd.clone()),
                fuel_surcharge: Money::new(fuel, usd.clone()),
                accessorials: accessorials
                    .into_iter()
                    .map(|(code, amount)| (code.to_owned(), Money::new(amount, usd.clone())))
                    .collect(),
            }
        })
}

fn arb_charge() -> impl Strategy<Value = ChargeLine> {
    prop_oneof![
        cents(0..=600_000).prop_map(|amount| linehaul(&amount.to_string())),
        cents(0..=120_000).prop_map(|amount| fuel(&amount.to_string())),
        (proptest::sample::select(&CODES[..]), cents(0..=60_000))
            .prop_map(|(code, amount)| accessorial(code, &amount.to_string())),
        cents(-50_000..=1_000).prop_map(|amount| charge(
            ChargeType::Discount,
            "DSC",
            &amount.to_string()
        )),
    ]
}

fn arb_kind() -> impl Strategy<Value = InvoiceKind> {
    prop_oneof![
        6 => Just(InvoiceKind::Original),
        2 => Just(InvoiceKind::Rebill),
        1 => Just(InvoiceKind::Cancellation),
    ]
}

fn arb_invoice() -> impl Strategy<Value = Invoice> {
    (
        arb_kind(),
        proptest::collection::vec(arb_charge(), 0..=6),
        prop_oneof![4 => Just(Decimal::ZERO), 1 => cents(-10_000..=10_000)],
    )
        .prop_map(|(kind, charges, off)| {
            let mut invoice = invoice("INV-7", kind, charges);
            invoice.total.amount += off;
            invoice
        })
}

fn arb_policy() -> impl Strategy<Value = AuditPolicy> {
    (
        cents(0..=2_000),
        (0i64..=500).prop_map(|tenths| Decimal::new(tenths, 1)),
        proptest::option::of(cents(0..=50_000)),
        any::<bool>(),
    )
        .prop_map(
            |(amount_tolerance, percent_tolerance, short_pay_limit, hold)| AuditPolicy {
                amount_tolerance,
                percent_tolerance,
                short_pay_limit,
                hold_unsupported_accessorials: hold,
            },
        )
}

fn arb_prior() -> impl Strategy<Value = Vec<AuditedInvoice>> {
    proptest::collection::vec(
        (
            proptest::sample::select(&["INV-7", "INV-8"][..]),
            arb_kind(),
            prop_oneof![
                Just(Disposition::Approve),
                Just(Disposition::Duplicate),
                Just(Disposition::Cancelled),
                Just(Disposition::Hold),
            ],
        )
            .prop_map(|(number, kind, disposition)| audited(number, kind, "100.00", disposition)),
        0..=2,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the invoice, the audit pays between zero and the billed total, and an
    /// approval pays exactly the billed total.
    #[test]
    fn approved_amount_is_between_zero_and_the_billed_total(
        invoice in arb_invoice(),
        expected in proptest::option::weighted(0.9, arb_expected()),
        supported in proptest::collection::btree_set(
            proptest::sample::select(&CODES[..]).prop_map(str::to_owned), 0..=2),
        prior in arb_prior(),
        policy in arb_policy(),
    ) {
        let evidence = AuditEvidence { supported_accessorials: supported };
        let outcome = audit(&invoice, expected.as_ref(), &evidence, &prior, &policy).unwrap();
        let approved = outcome.approved_amount.amount;
        let billed = outcome.billed_total.amount;
        prop_assert!(approved >= Decimal::ZERO, "{outcome:?}");
        prop_assert!(approved <= billed.max(Decimal::ZERO), "{outcome:?}");
        prop_assert!(outcome.approvable_amount.amount >= Decimal::ZERO);
        prop_assert!(outcome.approvable_amount.amount <= billed.max(Decimal::ZERO));
        match &outcome.disposition {
            Disposition::Approve => prop_assert_eq!(approved, billed),
            Disposition::ShortPay { pay } => {
                prop_assert_eq!(pay, &outcome.approved_amount);
                prop_assert!(approved <= billed);
                if let Some(limit) = policy.short_pay_limit {
                    prop_assert!(billed - approved <= limit);
                }
            }
            Disposition::Dispute | Disposition::Hold | Disposition::Duplicate
            | Disposition::Cancelled => prop_assert_eq!(approved, Decimal::ZERO),
        }
        // Line approvals never exceed what was billed for the line.
        for line in &outcome.lines {
            prop_assert!(line.approved.amount <= line.billed.amount.max(Decimal::ZERO), "{line:?}");
        }
    }

    /// An original invoice billing exactly the expected charges is approved as billed.
    #[test]
    fn an_invoice_equal_to_expected_is_approved(
        expected in arb_expected(),
        policy in arb_policy(),
        supported in proptest::collection::btree_set(
            proptest::sample::select(&CODES[..]).prop_map(str::to_owned), 0..=2),
    ) {
        let mut charges = vec![
            linehaul(&expected.linehaul.amount.to_string()),
            fuel(&expected.fuel_surcharge.amount.to_string()),
        ];
        for (code, amount) in &expected.accessorials {
            charges.push(accessorial(code, &amount.amount.to_string()));
        }
        let invoice = original(charges);
        let evidence = AuditEvidence { supported_accessorials: supported };
        let outcome = audit(&invoice, Some(&expected), &evidence, &[], &policy).unwrap();
        prop_assert_eq!(&outcome.disposition, &Disposition::Approve);
        prop_assert_eq!(&outcome.approved_amount, &expected.total().unwrap());
        prop_assert!(outcome.rules.is_empty());
        prop_assert!(outcome.lines.iter().all(|line| line.rule == Rule::WithinTolerance));
    }
}
