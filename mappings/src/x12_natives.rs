//! The prelude's X12 tree helpers as natives: `el(n)`, `el(n; c)`, `segs(t)`, `seg(t)`,
//! `own_segs(t)`, `own_seg(t)`, `loops(id)` and `own_loops(id)`, and its X12 date and
//! time readers `x12_date`, `x12_time` and `x12_local(d; t)`.
//!
//! Every inbound X12 mapping calls them dozens of times per transaction set; as jq
//! definitions each call was a chain of jaq filters (boxed iterators, cloned values), and
//! walking the loops of a three-status 214 cost about 0.13 ms. Their meaning is the one
//! the prelude documents (mappings/README.md): a set is `{"segments": [...]}`, a segment
//! `{"tag": "N1", "elements": [...]}`, a loop `{"loop": "0200", "segments": [...]}`, and
//! each helper works on a set, a loop or an array of nodes.

use jaq_core::ValXs;
use jaq_core::native::{Fun, bome, run, v};
use jaq_json::{Map, Val};

type Data = jaq_core::data::JustLut<Val>;

/// The natives, for the compiler.
pub(crate) fn natives() -> [Fun<Data>; 11] {
    [
        run(("el", v(1), |mut cv| {
            let n = cv.0.pop_var();
            bome(element(&cv.1, &n))
        })),
        run(("el", v(2), |mut cv| {
            let c = cv.0.pop_var();
            let n = cv.0.pop_var();
            bome(element(&cv.1, &n).and_then(|value| component(value, &c)))
        })),
        run(("segs", v(1), |mut cv| {
            let tag = cv.0.pop_var();
            stream(walk(&cv.1, &|node, out| {
                if has(node, b"loop") {
                    Visit::Descend
                } else {
                    if field(node, b"tag") == Some(&tag) {
                        out.push(node.clone());
                    }
                    Visit::Skip
                }
            }))
        })),
        run(("seg", v(1), |mut cv| {
            let tag = cv.0.pop_var();
            first_or_null(walk(&cv.1, &|node, out| {
                if has(node, b"loop") {
                    Visit::Descend
                } else {
                    if out.is_empty() && field(node, b"tag") == Some(&tag) {
                        out.push(node.clone());
                    }
                    Visit::Skip
                }
            }))
        })),
        run(("own_segs", v(1), |mut cv| {
            let tag = cv.0.pop_var();
            stream(children_where(&cv.1, b"tag", &tag))
        })),
        run(("own_seg", v(1), |mut cv| {
            let tag = cv.0.pop_var();
            first_or_null(children_where(&cv.1, b"tag", &tag))
        })),
        run(("loops", v(1), |mut cv| {
            let id = cv.0.pop_var();
            stream(walk(&cv.1, &|node, out| match field(node, b"loop") {
                Some(loop_id) if *loop_id == id => {
                    out.push(node.clone());
                    Visit::Skip
                }
                Some(_) => Visit::Descend,
                None => Visit::Skip,
            }))
        })),
        run(("own_loops", v(1), |mut cv| {
            let id = cv.0.pop_var();
            stream(children_where(&cv.1, b"loop", &id))
        })),
        run(("x12_date", v(0), |cv| bome(x12_date(&cv.1)))),
        run(("x12_time", v(0), |cv| bome(x12_time(&cv.1)))),
        run(("x12_local", v(2), |mut cv| {
            let time = cv.0.pop_var();
            let date = cv.0.pop_var();
            bome(x12_date(&date).and_then(|date| {
                let time = x12_time(&time)?;
                let text = |value: &Val| match value {
                    Val::TStr(text) => String::from_utf8_lossy(text).into_owned(),
                    other => other.to_string(),
                };
                Ok(Val::from(format!("{}T{}", text(&date), text(&time))))
            }))
        })),
    ]
}

/// The characters of a string value, or an error naming what was expected.
fn chars_of(value: &Val, what: &str) -> Result<Vec<char>, jaq_core::Error<Val>> {
    match value {
        Val::TStr(text) => Ok(String::from_utf8_lossy(text).chars().collect()),
        other => Err(jaq_core::Error::str(format!("not an X12 {what}: {other}"))),
    }
}

fn joined(parts: &[&[char]], separator: char) -> String {
    let mut out = String::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.push(separator);
        }
        out.extend(part.iter());
    }
    out
}

/// `x12_date`: "20261125" or "261125" -> "2026-11-25" (two-digit years are 20xx); null
/// stays null.
fn x12_date(value: &Val) -> Result<Val, jaq_core::Error<Val>> {
    if *value == Val::Null {
        return Ok(Val::Null);
    }
    let chars = chars_of(value, "date")?;
    let date = match chars.as_slice() {
        [y @ .., m1, m2, d1, d2] if y.len() == 4 || y.len() == 2 => {
            let century: &[char] = if y.len() == 2 { &['2', '0'] } else { &[] };
            let year: Vec<char> = century.iter().chain(y.iter()).copied().collect();
            joined(&[&year, &[*m1, *m2], &[*d1, *d2]], '-')
        }
        _ => return Err(jaq_core::Error::str(format!("not an X12 date: {value}"))),
    };
    Ok(Val::from(date))
}

/// `x12_time`: "1342", "134210" or "13421050" -> "13:42:00" / "13:42:10" (decimal
/// seconds dropped); null is midnight.
fn x12_time(value: &Val) -> Result<Val, jaq_core::Error<Val>> {
    if *value == Val::Null {
        return Ok(Val::from("00:00:00".to_owned()));
    }
    let chars = chars_of(value, "time")?;
    let time = match chars.as_slice() {
        [h1, h2, m1, m2] => joined(&[&[*h1, *h2], &[*m1, *m2], &['0', '0']], ':'),
        [h1, h2, m1, m2, s1, s2, ..] => joined(&[&[*h1, *h2], &[*m1, *m2], &[*s1, *s2]], ':'),
        _ => return Err(jaq_core::Error::str(format!("not an X12 time: {value}"))),
    };
    Ok(Val::from(time))
}

type Found = Result<Vec<Val>, jaq_core::Error<Val>>;

/// What [`walk`] does after visiting a node.
enum Visit {
    /// Goes into the node's children.
    Descend,
    /// Leaves the node's children alone.
    Skip,
}

/// The value of key `name` of an object node.
fn field<'v>(node: &'v Val, name: &[u8]) -> Option<&'v Val> {
    let Val::Obj(map) = node else { return None };
    field_of(map, name)
}

fn field_of<'v>(map: &'v Map, name: &[u8]) -> Option<&'v Val> {
    map.iter()
        .find(|(key, _)| matches!(key, Val::TStr(text) if text.as_ref().as_ref() == name))
        .map(|(_, value)| value)
}

fn has(node: &Val, name: &[u8]) -> bool {
    field(node, name).is_some()
}

/// The direct children of a set or loop (`.segments`), or the items of an array; none
/// for anything else.
fn children(node: &Val) -> Result<&[Val], jaq_core::Error<Val>> {
    match node {
        Val::Arr(items) => Ok(items),
        Val::Obj(map) => match field_of(map, b"segments") {
            None => Ok(&[]),
            Some(Val::Arr(items)) => Ok(items),
            Some(other) => Err(jaq_core::Error::str(format!(
                "an X12 node's segments must be an array, not {other}"
            ))),
        },
        _ => Ok(&[]),
    }
}

/// The children of `node` whose key `name` equals `wanted`.
fn children_where(node: &Val, name: &[u8], wanted: &Val) -> Found {
    Ok(children(node)?
        .iter()
        .filter(|child| field(child, name) == Some(wanted))
        .cloned()
        .collect())
}

/// Visits the children of `node` depth first, in order; `visit` collects what it wants
/// and says whether to go into each child.
fn walk(node: &Val, visit: &dyn Fn(&Val, &mut Vec<Val>) -> Visit) -> Found {
    fn go(
        node: &Val,
        visit: &dyn Fn(&Val, &mut Vec<Val>) -> Visit,
        out: &mut Vec<Val>,
    ) -> Result<(), jaq_core::Error<Val>> {
        for child in children(node)? {
            if let Visit::Descend = visit(child, out) {
                go(child, visit, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(node, visit, &mut out)?;
    Ok(out)
}

fn stream<'a>(found: Found) -> ValXs<'a, Val> {
    match found {
        Ok(values) => Box::new(values.into_iter().map(Ok)),
        Err(error) => bome(Err(error)),
    }
}

fn first_or_null<'a>(found: Found) -> ValXs<'a, Val> {
    bome(found.map(|values| values.into_iter().next().unwrap_or(Val::Null)))
}

/// Null for an empty string, else the value.
fn non_empty(value: &Val) -> Val {
    match value {
        Val::TStr(text) if text.is_empty() => Val::Null,
        other => other.clone(),
    }
}

/// The item at a jq index (negative counts from the end), or null.
fn item(items: &[Val], index: &Val, what: &str) -> Result<Val, jaq_core::Error<Val>> {
    let Val::Num(number) = index else {
        return Err(jaq_core::Error::str(format!(
            "{what} must be a number, not {index}"
        )));
    };
    let Some(position) = number.as_isize() else {
        return Err(jaq_core::Error::str(format!(
            "{what} must be an integer, not {index}"
        )));
    };
    let at = if position >= 1 {
        position
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
    } else {
        // jq's `.[n - 1]` with n < 1 counts from the end.
        items
            .len()
            .checked_sub(position.unsigned_abs().saturating_add(1))
    };
    Ok(at.and_then(|at| items.get(at)).map_or(Val::Null, non_empty))
}

/// `el(n)`: element `n` (1-based) of a segment, null when absent or empty, null for null.
fn element(segment: &Val, n: &Val) -> Result<Val, jaq_core::Error<Val>> {
    match segment {
        Val::Null => Ok(Val::Null),
        Val::Obj(map) => match field_of(map, b"elements") {
            None | Some(Val::Null) => Ok(Val::Null),
            Some(Val::Arr(elements)) => Ok(item(elements, n, "el: the element position")?),
            Some(other) => Err(jaq_core::Error::str(format!(
                "el: a segment's elements must be an array, not {other}"
            ))),
        },
        other => Err(jaq_core::Error::str(format!(
            "el: expects a segment, got {other}"
        ))),
    }
}

/// `el(n; c)`'s second step: component `c` of an element (a simple element is its own
/// component 1).
fn component(element: Val, c: &Val) -> Result<Val, jaq_core::Error<Val>> {
    match element {
        Val::Null => Ok(Val::Null),
        Val::Arr(components) => Ok(item(&components, c, "el: the component position")?),
        simple => match c {
            Val::Num(number) if number.as_isize() == Some(1) => Ok(simple),
            _ => Ok(Val::Null),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::program::Program;
    use serde_json::{Value, json};

    /// The jq definitions these natives replaced, under other names, to compare against.
    const JQ_DEFINITIONS: &str = r#"
def jq_own_segs(t): x12_nodes | select(has("tag") and .tag == t);
def jq_own_seg(t): first(jq_own_segs(t)) // null;
def jq_segs(t): all_segs | select(.tag == t);
def jq_seg(t): first(jq_segs(t)) // null;
def jq_loops(id): x12_nodes | select(has("loop")) | if .loop == id then . else jq_loops(id) end;
def jq_own_loops(id): x12_nodes | select(has("loop") and .loop == id);
def jq_el(n):
  if . == null then null
  else (.elements[n - 1] // null) | if . == "" then null else . end end;
def jq_el(n; c):
  jq_el(n) | if . == null then null
  elif type == "array" then (.[c - 1] // null) | (if . == "" then null else . end)
  elif c == 1 then . else null end;
def jq_x12_date:
  if . == null then null
  elif length == 8 then "\(.[0:4])-\(.[4:6])-\(.[6:8])"
  elif length == 6 then "20\(.[0:2])-\(.[2:4])-\(.[4:6])"
  else error("not an X12 date: \(.)") end;
def jq_x12_time:
  if . == null then "00:00:00"
  elif length == 4 then "\(.[0:2]):\(.[2:4]):00"
  elif length >= 6 then "\(.[0:2]):\(.[2:4]):\(.[4:6])"
  else error("not an X12 time: \(.)") end;
"#;

    fn run(code: &str, input: &Value) -> Result<Vec<Value>, String> {
        Program::compile(&format!("{JQ_DEFINITIONS}\n{code}"))
            .map_err(|errors| format!("{errors:?}"))?
            .run(input, &crate::Partner::empty(), "2026-11-25T00:00:00Z")
    }

    fn set() -> Value {
        json!({"segments": [
            {"tag": "ST", "elements": ["214", "0001"]},
            {"tag": "B10", "elements": ["PRO1", "LOAD1", "ODFL"]},
            {"tag": "L11", "elements": ["PO1", "PO"]},
            {"loop": "0100", "segments": [
                {"tag": "N1", "elements": ["SH", "Acme", ["a", "", "c"]]},
                {"loop": "0200", "segments": [{"tag": "LX", "elements": ["9"]}]}]},
            {"loop": "0200", "segments": [
                {"tag": "LX", "elements": ["1"]},
                {"tag": "L11", "elements": ["S1", "SN"]},
                {"loop": "0205", "segments": [
                    {"tag": "AT7", "elements": ["X1", "NS", "", "", "20261125", "1342", "CT"]},
                    {"tag": "MS1", "elements": ["Dallas", "TX", "USA"]}]},
                {"loop": "0205", "segments": [
                    {"tag": "AT7", "elements": ["", "", "AA", "", "261126", "134210"]}]}]},
            {"tag": "SE", "elements": ["9", "0001"]},
        ]})
    }

    #[test]
    fn tree_natives_agree_with_the_jq_definitions_they_replaced() {
        let input = set();
        let pairs = [
            ("[segs(\"AT7\")]", "[jq_segs(\"AT7\")]"),
            ("[segs(\"L11\")]", "[jq_segs(\"L11\")]"),
            ("[segs(\"NOPE\")]", "[jq_segs(\"NOPE\")]"),
            ("seg(\"LX\")", "jq_seg(\"LX\")"),
            ("seg(\"NOPE\")", "jq_seg(\"NOPE\")"),
            ("[own_segs(\"L11\")]", "[jq_own_segs(\"L11\")]"),
            ("own_seg(\"B10\")", "jq_own_seg(\"B10\")"),
            ("own_seg(\"AT7\")", "jq_own_seg(\"AT7\")"),
            ("[loops(\"0200\")]", "[jq_loops(\"0200\")]"),
            ("[loops(\"0205\")]", "[jq_loops(\"0205\")]"),
            ("[own_loops(\"0200\")]", "[jq_own_loops(\"0200\")]"),
            (
                "[.segments | own_segs(\"ST\")]",
                "[.segments | jq_own_segs(\"ST\")]",
            ),
            (
                "[\"x\", 1, null | [segs(\"ST\")]]",
                "[\"x\", 1, null | [jq_segs(\"ST\")]]",
            ),
        ];
        for (native, jq) in pairs {
            assert_eq!(run(native, &input), run(jq, &input), "{native}");
        }
        assert_eq!(
            run("[loops(\"0200\") | own_seg(\"LX\") | el(1)]", &input).unwrap(),
            vec![json!(["9", "1"])]
        );
    }

    #[test]
    fn element_natives_agree_with_the_jq_definitions_they_replaced() {
        let input = set();
        for n in -3..=8 {
            for program in [
                format!("[segs(\"AT7\"), null | el({n})]"),
                format!("[segs(\"N1\") | el(3; {n}), el(1; {n}), el({n}; 1)]"),
            ] {
                let jq = program.replace("el(", "jq_el(");
                assert_eq!(run(&program, &input), run(&jq, &input), "{program}");
            }
        }
        assert_eq!(
            run(
                "[seg(\"N1\") | el(3), el(3; 1), el(3; 2), el(3; 3), el(1; 1), el(1; 2)]",
                &input
            )
            .unwrap(),
            vec![json!([["a", "", "c"], "a", null, "c", "SH", null])]
        );
        assert!(run("\"text\" | el(1)", &input).is_err());
        assert!(run("seg(\"ST\") | el(\"one\")", &input).is_err());
    }

    #[test]
    fn date_and_time_natives_agree_with_the_jq_definitions_they_replaced() {
        let input = json!(null);
        for value in [
            "null",
            "\"20261125\"",
            "\"261125\"",
            "\"1342\"",
            "\"134210\"",
            "\"13421050\"",
            "\"2026112\"",
            "\"13\"",
            "\"\"",
            "\"12345\"",
        ] {
            for (native, jq) in [("x12_date", "jq_x12_date"), ("x12_time", "jq_x12_time")] {
                let native_out = run(&format!("{value} | {native}"), &input);
                let jq_out = run(&format!("{value} | {jq}"), &input);
                assert_eq!(native_out.is_ok(), jq_out.is_ok(), "{value} | {native}");
                if let (Ok(a), Ok(b)) = (&native_out, &jq_out) {
                    assert_eq!(a, b, "{value} | {native}");
                }
            }
        }
        assert_eq!(
            run(
                "x12_local(\"261125\"; \"0905\"), x12_local(\"20261125\"; null)",
                &input
            )
            .unwrap(),
            vec![json!("2026-11-25T09:05:00"), json!("2026-11-25T00:00:00")]
        );
        assert!(run("x12_local(\"2026\"; \"0905\")", &input).is_err());
    }
}
