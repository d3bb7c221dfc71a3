//! Hand-made broken variants of real sets: each gives the exact code, segment index, loop
//! path and element position.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod spec_support;

use spec_support::{Seg, segs};
use transload_connectors::x12::spec::{ElementPosition, SpecError, SpecErrorCode, spec_for, specs};

/// GT-Logistics' 204 (corpus file GT-Logistics__edi-x12/204.edi), ST..SE, abridged notes.
const GT_204: &str = "ST*204*1000~
B2**000X**123456789**PP~
B2A*00*LT~
L11*TRUCK 25 TON*6Y~
L11*SOLO*ZZ*12~
G62*64*20240131*1*1200~
MS3*000X*B**M~
NTE**Lorem ipsum dolor sit amet, consectetur adipiscing elit.~
N1*OB*Springfield Power Company*ZZ*XXXXXXXXXX~
N3*Evergreen Terrace*742~
N4*Springfield*OR*80085*USA~
G61*OC*Homer Simpson*TE*(939) 555-0113~
N1*BT*Springfield Power Company*ZZ*XXXXXXXXXX~
N3*Evergreen Terrace*742~
N4*Springfield*OR*80085*USA~
N1*BN*Charles Montgomery Burns~
N7**000000*********TV****05000*******XXXX~
S5*1*CL*5432.1*K*100*PC~
L11*11111*OQ~
G62*37*20240131*I*0800~
AT8*G*K*5432.1*100~
N1*SF*Bednar LLC*ZZ*ZZZZ~
N3*927 Washington Boulevard~
N4*Newport*RI*02840*USA~
OID*S1*0123456789**PC*100*K*5432.1~
L5*1*Chair****000000000987654321*SM~
AT8*G*K*5432.1*100*10~
S5*99*CU*5432.1*K*100*PC~
G62*02*20240205*Z*1100~
N1*CN*Springfield Power Company*ZZ*XXXX~
L3*5432.1*N***100******100*K~
SE*31*1000~";

fn validate_204(text: &str) -> Vec<SpecError> {
    let spec = spec_for("004010", "204").expect("204 spec");
    spec.validate(&segs(text, None))
}

/// (segment index, tag, loop path, code, element position)
type Finding = (
    usize,
    String,
    String,
    SpecErrorCode,
    Option<ElementPosition>,
);

fn findings(errors: &[SpecError]) -> Vec<Finding> {
    errors
        .iter()
        .map(|e| {
            (
                e.segment_index,
                e.segment_tag.clone(),
                e.loop_path.clone(),
                e.code,
                e.element,
            )
        })
        .collect()
}

fn f(
    idx: usize,
    tag: &str,
    path: &str,
    code: SpecErrorCode,
    element: Option<ElementPosition>,
) -> Finding {
    (idx, tag.to_owned(), path.to_owned(), code, element)
}

fn el(element: u16, data_element: u16) -> Option<ElementPosition> {
    Some(ElementPosition {
        element,
        component: None,
        repetition: None,
        data_element: Some(data_element),
    })
}

fn replace(from: &str, to: &str) -> String {
    assert!(GT_204.contains(from), "{from}");
    GT_204.replacen(from, to, 1)
}

#[test]
fn the_base_204_is_clean() {
    assert_eq!(validate_204(GT_204), vec![]);
}

#[test]
fn missing_mandatory_segment() {
    let errors = validate_204(&replace("B2A*00*LT~\n", ""));
    assert_eq!(
        findings(&errors),
        vec![f(
            2,
            "B2A",
            "",
            SpecErrorCode::MandatorySegmentMissing,
            None
        )]
    );
    assert_eq!(errors[0].code.ak304(), Some("3"));
}

#[test]
fn missing_mandatory_loop() {
    // No S5 at all: loop 0300 is mandatory; noticed at L3 (index 17).
    let start = GT_204.find("S5*1*").expect("S5");
    let end = GT_204.find("L3*").expect("L3");
    let text = format!("{}{}", &GT_204[..start], &GT_204[end..]);
    assert_eq!(
        findings(&validate_204(&text)),
        vec![f(
            17,
            "S5",
            "0300",
            SpecErrorCode::MandatorySegmentMissing,
            None
        )]
    );
}

#[test]
fn bad_code_value() {
    let errors = validate_204(&replace("B2A*00*LT", "B2A*09*LT"));
    assert_eq!(
        findings(&errors),
        vec![f(2, "B2A", "", SpecErrorCode::InvalidCodeValue, el(1, 353))]
    );
    assert_eq!(errors[0].code.ak403(), Some("7"));
}

#[test]
fn too_long_and_too_short_elements() {
    let errors = validate_204(&replace(
        "B2**000X**123456789**PP",
        "B2**000X**1234567890123456789012345678901**PPX",
    ));
    assert_eq!(
        findings(&errors),
        vec![
            f(1, "B2", "", SpecErrorCode::DataElementTooLong, el(4, 145)),
            f(1, "B2", "", SpecErrorCode::DataElementTooLong, el(6, 146)),
        ]
    );
    let errors = validate_204(&replace(
        "N3*927 Washington Boulevard",
        "N3*927 Washington Boulevard*A~N4*N",
    ));
    // N4 with a one-character city (2/30) inside stop loop 0300/0310, before the real N4:
    // the second N4 then exceeds the loop's N4 max use of 1.
    assert_eq!(
        findings(&errors),
        vec![
            f(
                23,
                "N4",
                "0300/0310",
                SpecErrorCode::DataElementTooShort,
                el(1, 19)
            ),
            f(
                24,
                "N4",
                "0300/0310",
                SpecErrorCode::SegmentExceedsMaximumUse,
                None
            ),
        ]
    );
}

#[test]
fn bad_date_and_time() {
    let errors = validate_204(&replace("G62*64*20240131*1*1200", "G62*64*20240230*1*2460"));
    assert_eq!(
        findings(&errors),
        vec![
            f(5, "G62", "", SpecErrorCode::InvalidDate, el(2, 373)),
            f(5, "G62", "", SpecErrorCode::InvalidTime, el(4, 337)),
        ]
    );
    assert_eq!(errors[0].code.ak403(), Some("8"));
    assert_eq!(errors[1].code.ak403(), Some("9"));
}

#[test]
fn segment_out_of_order() {
    // G62 after MS3: the header's G62 position is already behind.
    let text = replace(
        "G62*64*20240131*1*1200~\nMS3*000X*B**M~",
        "MS3*000X*B**M~\nG62*64*20240131*1*1200~",
    );
    let errors = validate_204(&text);
    assert_eq!(
        findings(&errors),
        vec![f(
            6,
            "G62",
            "",
            SpecErrorCode::SegmentNotInProperSequence,
            None
        )]
    );
    assert_eq!(errors[0].code.ak304(), Some("7"));
}

#[test]
fn segment_over_max_use() {
    let text = replace(
        "G62*64*20240131*1*1200~",
        "G62*64*20240131*1*1200~\nG62*64*20240131*1*1300~",
    );
    assert_eq!(
        findings(&validate_204(&text)),
        vec![f(
            6,
            "G62",
            "",
            SpecErrorCode::SegmentExceedsMaximumUse,
            None
        )]
    );
}

#[test]
fn loop_over_max() {
    // Six header N1 loops (0100 repeats at most 5 times): the sixth N1 is index 18.
    let extra = "N1*SH*A*ZZ*11~\nN1*CN*B*ZZ*22~\nN1*SF*C*ZZ*33~\nN7**";
    let errors = validate_204(&replace("N7**", extra));
    assert_eq!(
        findings(&errors),
        vec![f(
            18,
            "N1",
            "0100",
            SpecErrorCode::LoopOccursOverMaximumTimes,
            None
        )]
    );
    assert_eq!(errors[0].code.ak304(), Some("4"));
}

#[test]
fn unknown_and_unexpected_segments() {
    // BEG exists in X12 but not in the 204; "1X" is not a segment id; N3 without N1 at the
    // header cannot occur there.
    let text = replace(
        "MS3*000X*B**M~",
        "MS3*000X*B**M~\nBEG*00*SA*1~\n1X*A~\nN3*Nowhere~",
    );
    let errors = validate_204(&text);
    assert_eq!(
        findings(&errors),
        vec![
            f(
                7,
                "BEG",
                "",
                SpecErrorCode::SegmentNotInDefinedTransactionSet,
                None
            ),
            f(8, "1X", "", SpecErrorCode::UnrecognizedSegmentId, None),
            f(9, "N3", "", SpecErrorCode::UnexpectedSegment, None),
        ]
    );
    let ak304: Vec<_> = errors.iter().map(|e| e.code.ak304()).collect();
    assert_eq!(ak304, vec![Some("6"), Some("1"), Some("2")]);
}

#[test]
fn element_count_requirement_and_syntax_rules() {
    let text = replace("B2A*00*LT", "B2A*00*LT*X")
        .replacen("S5*1*CL", "S5**CL", 1)
        .replacen("N1*SF*Bednar LLC*ZZ*ZZZZ", "N1*SF*Bednar LLC*ZZ", 1)
        .replacen("AT8*G*K*5432.1*100~", "AT8*G**5432.1*100~", 1);
    assert_eq!(
        findings(&validate_204(&text)),
        vec![
            f(
                2,
                "B2A",
                "",
                SpecErrorCode::TooManyDataElements,
                Some(ElementPosition {
                    element: 3,
                    component: None,
                    repetition: None,
                    data_element: None
                })
            ),
            f(
                17,
                "S5",
                "0300",
                SpecErrorCode::MandatoryDataElementMissing,
                el(1, 165)
            ),
            f(
                20,
                "AT8",
                "0300",
                SpecErrorCode::ConditionalRequiredDataElementMissing,
                el(2, 188)
            ),
            f(
                21,
                "N1",
                "0300/0310",
                SpecErrorCode::ConditionalRequiredDataElementMissing,
                el(4, 67)
            ),
        ]
    );
}

#[test]
fn hazardous_material_loops() {
    // L5 / G61 / LH1 nest 0320/0325/0330; an LH1 right after the stop's N1 opens them
    // implicitly; LH2 outside any LH1 loop cannot occur.
    let ok = replace(
        "L3*",
        "S5*100*UL~\nN1*CN*X~\nLH1*PK*20*UN3077~\nLH2*9~\nLH1*PK*2*UN3166~\nL3*",
    );
    assert_eq!(validate_204(&ok), vec![]);
    let bad = replace("L3*", "S5*100*UL~\nN1*CN*X~\nLH2*9~\nL3*");
    assert_eq!(
        findings(&validate_204(&bad)),
        vec![f(
            32,
            "LH2",
            "0300/0310",
            SpecErrorCode::UnexpectedSegment,
            None
        )]
    );
    let nested = replace(
        "L3*",
        "S5*100*UL~\nL5*1*X~\nG61*HM*Y*TE*1~\nLH1*PK*20*UN3077~\nLH1*PK*20*UN3077*999*ABC*KG*X~\nL3*",
    );
    assert_eq!(
        findings(&validate_204(&nested)),
        vec![f(
            34,
            "LH1",
            "0300/0320/0325/0330",
            SpecErrorCode::InvalidCharacterInDataElement,
            el(7, 380)
        )]
    );
}

fn seg_997(text: &str, version: &str, rep: Option<u8>) -> Vec<Finding> {
    let spec = spec_for(version, "997").expect("997 spec");
    findings(&spec.validate(&segs(text, rep)))
}

#[test]
fn composites_in_997() {
    let base = "ST*997*0001~AK1*SM*1~AK2*204*0001~AK3*N1*8**8~AK4*1:2*98*7*ZZ~AK5*R*5~AK9*R*1*1*0~SE*8*0001~";
    assert_eq!(seg_997(base, "004010", None), vec![]);
    let comp = |component, de| {
        Some(ElementPosition {
            element: 1,
            component: Some(component),
            repetition: None,
            data_element: de,
        })
    };
    assert_eq!(
        seg_997(&base.replace("AK4*1:2*", "AK4*1:2:3*"), "004010", None),
        vec![f(
            4,
            "AK4",
            "AK2/AK3",
            SpecErrorCode::TooManyComponents,
            comp(3, None)
        )]
    );
    // 005010 C030 has a third component (repeating data element position).
    assert_eq!(
        seg_997(&base.replace("AK4*1:2*", "AK4*1:2:3*"), "005010", None),
        vec![]
    );
    assert_eq!(
        seg_997(&base.replace("AK4*1:2*", "AK4*:2*"), "004010", None),
        vec![f(
            4,
            "AK4",
            "AK2/AK3",
            SpecErrorCode::MandatoryDataElementMissing,
            comp(1, Some(722))
        )]
    );
    assert_eq!(
        seg_997(&base.replace("AK4*1:2*", "AK4*1:X*"), "004010", None),
        vec![f(
            4,
            "AK4",
            "AK2/AK3",
            SpecErrorCode::InvalidCharacterInDataElement,
            comp(2, Some(1528))
        )]
    );
    // AK5 is mandatory in each AK2 loop; noticed when AK9 closes the loop.
    assert_eq!(
        seg_997(&base.replace("AK5*R*5~", ""), "004010", None),
        vec![f(
            5,
            "AK5",
            "AK2",
            SpecErrorCode::MandatorySegmentMissing,
            None
        )]
    );
    // 005010 adds AK403 codes 12 and 13; 004010 does not have them.
    assert_eq!(
        seg_997(&base.replace("*98*7*", "*98*13*"), "005010", None),
        vec![]
    );
    assert_eq!(
        seg_997(&base.replace("*98*7*", "*98*13*"), "004010", None),
        vec![f(
            4,
            "AK4",
            "AK2/AK3",
            SpecErrorCode::InvalidCodeValue,
            el(3, 723)
        )]
    );
}

#[test]
fn repetitions_in_999() {
    let spec = spec_for("005010X231A1", "999").expect("999 spec");
    let ctx = (0..10)
        .map(|i| format!("C{i}:R"))
        .collect::<Vec<_>>()
        .join("^");
    let text = format!(
        "ST*999*0001*005010X231A1~AK1*HC*1*005010X222A1~AK2*837*0001*005010X222A1~IK3*NM1*8*2010*8~CTX*{ctx}~IK4*3*66*7*XX~IK5*R*5~AK9*R*1*1*0~SE*9*0001~"
    );
    let clean = spec.validate(&segs(&text, Some(b'^')));
    assert_eq!(clean, vec![]);
    let too_many = text.replace("CTX*", "CTX*C10:R^");
    let errors = spec.validate(&segs(&too_many, Some(b'^')));
    assert_eq!(
        findings(&errors),
        vec![f(
            4,
            "CTX",
            "2000/2100",
            SpecErrorCode::TooManyRepetitions,
            Some(ElementPosition {
                element: 1,
                component: None,
                repetition: Some(11),
                data_element: None
            })
        )]
    );
    assert_eq!(errors[0].code.ik403(), Some("12"));
    // A bad component inside the third repetition is reported with both positions.
    let bad = text.replace("C2:R", ":R");
    assert_eq!(
        findings(&spec.validate(&segs(&bad, Some(b'^')))),
        vec![f(
            4,
            "CTX",
            "2000/2100",
            SpecErrorCode::MandatoryDataElementMissing,
            Some(ElementPosition {
                element: 1,
                component: Some(1),
                repetition: Some(3),
                data_element: Some(9999)
            })
        )]
    );
    // IK304 and IK403 carry the implementation codes.
    let ik = text
        .replace("IK3*NM1*8*2010*8", "IK3*NM1*8*2010*I4")
        .replace("IK4*3*66*7", "IK4*3*66*I12");
    assert_eq!(spec.validate(&segs(&ik, Some(b'^'))), vec![]);
    let wrong = text.replace("IK3*NM1*8*2010*8", "IK3*NM1*8*2010*I5");
    assert_eq!(
        findings(&spec.validate(&segs(&wrong, Some(b'^')))),
        vec![f(
            3,
            "IK3",
            "2000/2100",
            SpecErrorCode::InvalidCodeValue,
            el(4, 620)
        )]
    );
}

#[test]
fn exclusion_rule_in_214() {
    let spec = spec_for("004010", "214").expect("214 spec");
    let text = "ST*214*0001~B10*PRO1*SID1*ABCD~LX*1~AT7*X1*NS*AA*NS*20240131*1200*LT~SE*5*0001~";
    let errors: Vec<Seg> = segs(text, None);
    assert_eq!(
        findings(&spec.validate(&errors)),
        vec![f(
            3,
            "AT7",
            "0200/0205",
            SpecErrorCode::ExclusionConditionViolated,
            el(3, 1652)
        )]
    );
    let ok = "ST*214*0001~B10*PRO1*SID1*ABCD~LX*1~AT7*X1*NS***20240131*1200*LT~MS1*CHICAGO*IL~SE*6*0001~";
    assert_eq!(spec.validate(&segs(ok, None)), vec![]);
}

#[test]
fn lookup_by_gs08_and_set() {
    assert_eq!(
        spec_for("004010VICS", "204").map(|s| s.version.as_str()),
        Some("004010")
    );
    assert_eq!(
        spec_for("005010X214", "214").map(|s| s.version.as_str()),
        Some("005010")
    );
    assert_eq!(
        spec_for("005010X231A1", "999").map(|s| s.set_id.as_str()),
        Some("999")
    );
    assert!(
        spec_for("004010", "999").is_none(),
        "999 does not exist in 004010"
    );
    assert!(spec_for("00401", "204").is_none());
    assert!(spec_for("004010", "850").is_none());
    assert_eq!(specs().map(<[_]>::len).ok(), Some(11));
}

#[test]
fn responses_to_a_load_tender() {
    for version in ["004010", "005010"] {
        let spec = spec_for(version, "990").expect("990 spec");
        let ok = "ST*990*0001~B1*ABCD*SHIP123*20240131*A~N9*CN*PRO1~SE*4*0001~";
        assert_eq!(spec.validate(&segs(ok, None)), vec![], "{version}");
        let declined = ok.replace("*A~", "*D~");
        assert_eq!(spec.validate(&segs(&declined, None)), vec![], "{version}");
        let bad = ok
            .replace("*A~", "*Z~")
            .replace("B1*ABCD*SHIP123", "B1**SHIP123");
        assert_eq!(
            findings(&spec.validate(&segs(&bad, None))),
            vec![
                f(
                    1,
                    "B1",
                    "",
                    SpecErrorCode::MandatoryDataElementMissing,
                    el(1, 140)
                ),
                f(1, "B1", "", SpecErrorCode::InvalidCodeValue, el(4, 558)),
            ],
            "{version}"
        );
        // B1 is mandatory.
        let no_b1 = "ST*990*0001~N9*CN*PRO1~SE*3*0001~";
        assert_eq!(
            findings(&spec.validate(&segs(no_b1, None))),
            vec![f(1, "B1", "", SpecErrorCode::MandatorySegmentMissing, None)],
            "{version}"
        );
    }
}

#[test]
fn freight_invoices_in_005010_use_l11() {
    let spec = spec_for("005010", "210").expect("210 spec");
    let ok = "ST*210*0001~B3**INV1*SHIP1*PP**20240131*12500**20240130*035*ABCD~L11*BOL1*BM~N1*SH*ACME~N4*CHICAGO*IL*60601*US~LX*1~L5*1*WIDGETS~L0*1*100*FR*1000*G~L1*1*125*FR*12500~L3*1000*G***12500~SE*11*0001~";
    assert_eq!(spec.validate(&segs(ok, None)), vec![]);
    let n9 = ok.replace("L11*BOL1*BM", "N9*BM*BOL1");
    assert_eq!(
        findings(&spec.validate(&segs(&n9, None))),
        vec![f(
            2,
            "N9",
            "",
            SpecErrorCode::SegmentNotInDefinedTransactionSet,
            None
        )]
    );
    // B306 must be a date, B307 a number with implied decimals (N2).
    let bad = ok.replace("*20240131*12500*", "*20241331*125.00*");
    assert_eq!(
        findings(&spec.validate(&segs(&bad, None))),
        vec![
            f(1, "B3", "", SpecErrorCode::InvalidDate, el(6, 373)),
            f(
                1,
                "B3",
                "",
                SpecErrorCode::InvalidCharacterInDataElement,
                el(7, 193)
            ),
        ]
    );
}

#[test]
fn degenerate_input_does_not_panic() {
    let spec = spec_for("004010", "204").expect("204 spec");
    let none: Vec<Seg> = Vec::new();
    let tags: Vec<_> = spec
        .validate(&none)
        .iter()
        .map(|e| (e.segment_index, e.segment_tag.clone(), e.code))
        .collect();
    let missing = SpecErrorCode::MandatorySegmentMissing;
    assert_eq!(
        tags,
        vec![
            (0, "ST".to_owned(), missing),
            (0, "B2".to_owned(), missing),
            (0, "B2A".to_owned(), missing),
            (0, "S5".to_owned(), missing),
            (0, "SE".to_owned(), missing),
        ]
    );
    // Garbage tags, empty tags, overlong tags and elements.
    let junk = segs("~*~ABCD*1~ST*204*0001~SE~~SE*1*2*3", None);
    let errors = spec.validate(&junk);
    assert!(
        errors
            .iter()
            .any(|e| e.code == SpecErrorCode::UnrecognizedSegmentId)
    );
    assert!(
        errors
            .iter()
            .any(|e| e.code == SpecErrorCode::TooManyDataElements)
    );
}
