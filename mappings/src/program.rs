//! jq programs compiled and run by jaq, with the mapping prelude and the variables
//! `$partner` and `$now`.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, bome, run, unary, v};
use jaq_core::{Ctx, DataT, ValR, ValT, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

use crate::partner::Partner;

/// The helper definitions every program can use (see the README).
pub const PRELUDE: &str = include_str!("prelude.jq");

/// The most output values one run may produce; a guard against runaway programs.
const MAX_OUTPUTS: usize = 100_000;

type Data = data::JustLut<Val>;
type Compiled = jaq_core::compile::Filter<jaq_core::Native<Data>>;

/// A compiled jq program.
pub(crate) struct Program {
    filter: Compiled,
    /// The program is `.`: its output is its input, with no need to run it (the
    /// library's `json-event-out` sends every event to REST carriers and systems so).
    identity: bool,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

/// Why a program does not compile, at a byte offset of its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgramError {
    /// Byte offset in the program's code.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) message: String,
}

/// The byte offset of `part` in `whole`, when `part` is a slice of it.
fn offset_in(whole: &str, part: &str) -> usize {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start && at <= start + whole.len() {
        at - start
    } else {
        0
    }
}

fn quoted(found: &str) -> String {
    let snippet: String = found.chars().take(20).collect();
    if snippet.is_empty() {
        "end of program".to_owned()
    } else {
        format!("{snippet:?}")
    }
}

/// The prelude's definitions.
fn prelude_defs() -> Result<Vec<jaq_core::load::parse::Def<&'static str>>, ProgramError> {
    jaq_core::load::parse(PRELUDE, |parser| parser.defs()).ok_or_else(|| ProgramError {
        offset: 0,
        message: "the mapping prelude does not parse (a bug in transload)".to_owned(),
    })
}

/// `local | zone_utc(zone)`: the UTC instant (RFC 3339) of a local date-time read in an
/// IANA zone or a fixed offset.
fn zone_utc_native<D: DataT>() -> Fun<D>
where
    for<'a> D::V<'a>: jaq_std::ValT,
{
    run(("zone_utc", v(1), |cv| {
        unary(cv, |local, zone| to_utc(&local, &zone))
    }))
}

/// `utc | zone_local(zone)`: the local date-time in a zone of an instant (RFC 3339).
fn zone_local_native<D: DataT>() -> Fun<D>
where
    for<'a> D::V<'a>: jaq_std::ValT,
{
    run(("zone_local", v(1), |cv| {
        unary(cv, |utc, zone| {
            let (Some(utc), Some(zone)) = (text(&utc), text(&zone)) else {
                return Err(jaq_core::Error::str(format!(
                    "zone_local: expects an instant string and a zone string, got {utc} and {zone}"
                )));
            };
            crate::time::utc_to_local(&utc, &zone)
                .map(D::V::from)
                .map_err(|message| jaq_core::Error::str(format!("zone_local: {message}")))
        })
    }))
}

/// `zoned(local; zone; source)` and `zoned_first(local; pairs)`: canonical ZonedTimes,
/// native because every status event of an X12 mapping makes two or three of them (as
/// jq definitions, about a third of the 214 mapping's time).
fn zoned_natives() -> [Fun<Data>; 2] {
    [
        run(("zoned", v(3), |mut cv| {
            let source = cv.0.pop_var();
            let zone = cv.0.pop_var();
            let local = cv.0.pop_var();
            bome(zoned_time(local, zone, source))
        })),
        run(("zoned_first", v(2), |mut cv| {
            let pairs = cv.0.pop_var();
            let local = cv.0.pop_var();
            bome(first_zone(&pairs).and_then(|(zone, source)| zoned_time(local, zone, source)))
        })),
    ]
}

/// A ZonedTime: unresolved when `zone` is null, else with its UTC instant.
fn zoned_time(local: Val, zone: Val, source: Val) -> ValR<Val> {
    let key = |name: &str| Val::from(name.to_owned());
    if zone == Val::Null {
        return Val::from_map([
            (key("local"), local),
            (key("zone_source"), Val::from("unresolved".to_owned())),
        ]);
    }
    let utc = to_utc(&local, &zone)?;
    Val::from_map([
        (key("local"), local),
        (key("zone"), zone),
        (key("utc"), utc),
        (key("zone_source"), source),
    ])
}

/// The first `[zone, source]` pair of `pairs` whose zone is not null, else two nulls.
fn first_zone(pairs: &Val) -> Result<(Val, Val), jaq_core::Error<Val>> {
    let Val::Arr(pairs) = pairs else {
        return Err(jaq_core::Error::str(format!(
            "zoned_first: expects an array of [zone, source] pairs, got {pairs}"
        )));
    };
    for pair in pairs.iter() {
        match pair {
            Val::Null => {}
            Val::Arr(pair) => {
                let zone = pair.first().cloned().unwrap_or(Val::Null);
                if zone != Val::Null {
                    return Ok((zone, pair.get(1).cloned().unwrap_or(Val::Null)));
                }
            }
            other => {
                return Err(jaq_core::Error::str(format!(
                    "zoned_first: expects [zone, source] pairs, got {other}"
                )));
            }
        }
    }
    Ok((Val::Null, Val::Null))
}

fn to_utc<V: jaq_std::ValT>(local: &V, zone: &V) -> ValR<V> {
    let fail = |message: String| Err(jaq_core::Error::str(message));
    let (Some(local), Some(zone)) = (text(local), text(zone)) else {
        return fail(format!(
            "zone_utc: expects a local date-time string and a zone string, got {local} and {zone}"
        ));
    };
    match crate::time::local_to_utc(&local, &zone) {
        Ok(instant) => Ok(V::from(instant)),
        Err(message) => fail(format!("zone_utc: {message}")),
    }
}

fn text<V: jaq_std::ValT>(value: &V) -> Option<String> {
    value
        .as_utf8_bytes()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

/// `code | region_zone`, `code | x12_time_code_zone`, `code | country2`: table lookups,
/// native because jaq builds an object literal anew on every call (a 60-entry table cost
/// a third of a millisecond per lookup). The tables are in [`crate::lookup`].
fn lookup_natives() -> [Fun<Data>; 3] {
    [
        run(("region_zone", v(0), |cv| {
            bome(Ok(looked_up(&cv.1, crate::lookup::region_zone)))
        })),
        run(("x12_time_code_zone", v(0), |cv| {
            bome(Ok(looked_up(&cv.1, crate::lookup::x12_time_code_zone)))
        })),
        run(("country2", v(0), |cv| {
            let value = cv.1;
            let known = text(&value).and_then(|code| crate::lookup::country2(&code));
            bome(Ok(known.map_or(value, |code| Val::from(code.to_owned()))))
        })),
    ]
}

/// `compact`: the object without the keys whose value is null, an empty array or an
/// empty object (one level). Native because `with_entries` rebuilds the object pair by
/// pair (about 0.1 ms for a dozen keys).
fn compact_native() -> Fun<Data> {
    run(("compact", v(0), |cv| {
        let compacted = match &cv.1 {
            Val::Obj(map) => Val::from_map(
                map.iter()
                    .filter(|(_, value)| !is_blank(value))
                    .map(|(key, value)| (key.clone(), value.clone())),
            ),
            other => Err(jaq_core::Error::str(format!(
                "compact: expects an object, got {other}"
            ))),
        };
        bome(compacted)
    }))
}

fn is_blank(value: &Val) -> bool {
    match value {
        Val::Null => true,
        Val::Arr(items) => items.is_empty(),
        Val::Obj(map) => map.is_empty(),
        _ => false,
    }
}

/// The table's value for a string, else null.
fn looked_up(value: &Val, table: fn(&str) -> Option<&'static str>) -> Val {
    text(value)
        .and_then(|code| table(&code))
        .map_or(Val::Null, |found| Val::from(found.to_owned()))
}

/// `rfc3339_parts`: "2026-11-25T07:31:00.5-06:00" -> {"local": "2026-11-25T07:31:00",
/// "zone": "-06:00"} (`Z` gives "+00:00"; fractional seconds are dropped); an error for
/// anything that is not an RFC 3339 time with an offset.
fn rfc3339_parts_native() -> Fun<Data> {
    run(("rfc3339_parts", v(0), |cv| {
        let value = cv.1;
        let parts = text(&value)
            .and_then(|time| crate::time::rfc3339_parts(&time))
            .ok_or_else(|| {
                jaq_core::Error::str(format!("rfc3339_parts: {value} is not an RFC 3339 time"))
            })
            .and_then(|(local, zone)| {
                Val::from_map([
                    (Val::from("local".to_owned()), Val::from(local)),
                    (Val::from("zone".to_owned()), Val::from(zone)),
                ])
            });
        bome(parts)
    }))
}

impl Program {
    /// Compiles `code` with the prelude and the variables `$partner` and `$now`.
    pub(crate) fn compile(code: &str) -> Result<Self, Vec<ProgramError>> {
        let prelude = prelude_defs().map_err(|error| vec![error])?;
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(prelude);
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .chain([zone_utc_native::<Data>(), zone_local_native::<Data>()])
            .chain(lookup_natives())
            .chain([rfc3339_parts_native(), compact_native()])
            .chain(zoned_natives())
            .chain(crate::x12_natives::natives());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errors| load_errors(code, errors))?;
        let filter = jaq_core::Compiler::default()
            .with_funs(funs)
            .with_global_vars(["$partner", "$now"])
            .compile(modules)
            .map_err(|errors| {
                errors
                    .into_iter()
                    .flat_map(|(_, undefined)| undefined)
                    .map(|(name, kind)| ProgramError {
                        offset: offset_in(code, name),
                        message: format!("undefined {} `{name}`", kind.as_str()),
                    })
                    .collect::<Vec<_>>()
            })?;
        Ok(Self {
            filter,
            identity: code.trim() == ".",
        })
    }

    /// Whether the program is `.`, whose output is its input.
    pub(crate) fn is_identity(&self) -> bool {
        self.identity
    }

    /// Runs the program on `input`; every output value, or the first error.
    pub(crate) fn run(
        &self,
        input: &Value,
        partner: &Partner,
        now: &str,
    ) -> Result<Vec<Value>, String> {
        if self.identity {
            return Ok(vec![input.clone()]);
        }
        let vars = Vars::new([partner.val().clone(), Val::from(now.to_owned())]);
        let ctx = Ctx::<Data>::new(&self.filter.lut, vars);
        let mut outputs = Vec::new();
        for output in self.filter.id.run((ctx, to_val(input)?)).map(unwrap_valr) {
            let value = output.map_err(|error| error.to_string())?;
            outputs.push(from_val(&value)?);
            if outputs.len() > MAX_OUTPUTS {
                return Err(format!("more than {MAX_OUTPUTS} output values"));
            }
        }
        Ok(outputs)
    }
}

fn load_errors(code: &str, errors: jaq_core::load::Errors<&str, ()>) -> Vec<ProgramError> {
    use jaq_core::load::Error;
    use jaq_core::load::lex::Expect as LexExpect;
    let mut out = Vec::new();
    for (_, error) in errors {
        match error {
            Error::Io(items) => out.extend(items.into_iter().map(|(path, message)| ProgramError {
                offset: offset_in(code, path),
                message: format!("cannot load module {path:?}: {message}"),
            })),
            Error::Lex(items) => out.extend(items.into_iter().map(|(expect, found)| {
                let expected = match expect {
                    LexExpect::Delim(open) => format!("the closing delimiter of {open:?}"),
                    other => other.as_str().to_owned(),
                };
                ProgramError {
                    offset: offset_in(code, found),
                    message: format!("expected {expected}, found {}", quoted(found)),
                }
            })),
            Error::Parse(items) => {
                out.extend(items.into_iter().map(|(expect, found)| ProgramError {
                    offset: offset_in(code, found),
                    message: format!("expected {}, found {}", expect.as_str(), quoted(found)),
                }));
            }
        }
    }
    out
}

/// A JSON value as a jaq value, converted directly (not printed and parsed again).
/// Integers stay integers; other numbers keep serde_json's text as jaq decimals, as
/// jaq's own parser would read that text.
pub(crate) fn to_val(value: &Value) -> Result<Val, String> {
    Ok(match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::from(*b),
        Value::Number(number) => match number.as_i64().map(isize::try_from) {
            Some(Ok(int)) => Val::Num(jaq_json::Num::Int(int)),
            _ => jaq_json::read::parse_single(number.to_string().as_bytes())
                .map_err(|error| error.to_string())?,
        },
        Value::String(text) => Val::utf8_str(text.clone().into_bytes()),
        Value::Array(items) => Val::Arr(
            items
                .iter()
                .map(to_val)
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
        Value::Object(map) => {
            let mut object = jaq_json::Map::default();
            for (key, item) in map {
                object.insert(Val::utf8_str(key.clone().into_bytes()), to_val(item)?);
            }
            Val::obj(object)
        }
    })
}

/// A jaq value as a JSON value, converted directly; an error for what JSON cannot hold
/// (a non-string key, a number that is not finite).
fn from_val(value: &Val) -> Result<Value, String> {
    let not_json = || format!("the program produced a value that is not JSON: {value}");
    Ok(match value {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(jaq_json::Num::Int(int)) => {
            Value::from(i64::try_from(*int).map_err(|_| not_json())?)
        }
        Val::Num(jaq_json::Num::Float(float)) => serde_json::Number::from_f64(*float)
            .map(Value::Number)
            .ok_or_else(not_json)?,
        Val::Num(other) => serde_json::from_str(&other.to_string()).map_err(|_| not_json())?,
        Val::TStr(text) | Val::BStr(text) => {
            Value::String(String::from_utf8_lossy(text).into_owned())
        }
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect::<Result<_, _>>()?),
        Val::Obj(map) => {
            let mut object = serde_json::Map::new();
            for (key, item) in map.iter() {
                let Val::TStr(key) = key else {
                    return Err(not_json());
                };
                object.insert(String::from_utf8_lossy(key).into_owned(), from_val(item)?);
            }
            Value::Object(object)
        }
    })
}

/// The conversions as they were: printed, then parsed again (kept to check the direct
/// ones against).
#[cfg(test)]
fn to_val_by_text(value: &Value) -> Result<Val, String> {
    let bytes = serde_json::to_vec(value).map_err(|error| error.to_string())?;
    jaq_json::read::parse_single(&bytes).map_err(|error| error.to_string())
}

#[cfg(test)]
fn from_val_by_text(value: &Val) -> Result<Value, String> {
    serde_json::from_str(&value.to_string()).map_err(|error| {
        format!("the program produced a value that is not JSON ({error}): {value}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: Value) -> Result<Vec<Value>, String> {
        Program::compile(code)
            .map_err(|errors| format!("{errors:?}"))?
            .run(
                &input,
                &Partner::new(json!({"code_maps": {"status": {"X1": "arrived_at_delivery"}}}))
                    .map_err(|error| error.to_string())?,
                "2026-11-25T00:00:00Z",
            )
    }

    #[test]
    fn direct_conversions_agree_with_printing_and_parsing() {
        let values = [
            json!(null),
            json!([
                true,
                false,
                0,
                -7,
                42,
                9_007_199_254_740_993_i64,
                u64::MAX,
                14.6,
                1.5e300,
                -0.25
            ]),
            json!({"b": "text", "a": ["x", {"nested": null}], "é": "ünïcode \u{1F69A}", "": ""}),
            serde_json::from_str(
                &std::fs::read_to_string(crate::library_dir().join("fixtures/partner-odfl.json"))
                    .unwrap(),
            )
            .unwrap(),
        ];
        for value in values {
            let direct = to_val(&value).unwrap();
            let by_text = to_val_by_text(&value).unwrap();
            assert_eq!(direct.to_string(), by_text.to_string(), "{value}");
            assert_eq!(from_val(&direct).unwrap(), value, "{value}");
            assert_eq!(from_val(&direct), from_val_by_text(&direct), "{value}");
        }
        // What JSON cannot hold is an error, as it was.
        for code in ["{(1): 2}", "[nan]", "infinite"] {
            let out = Program::compile(code)
                .unwrap()
                .run(&json!(null), &Partner::empty(), "");
            assert!(out.is_err(), "{code}: {out:?}");
        }
    }

    /// `zoned` and `zoned_first` against the jq definitions they replaced.
    #[test]
    fn zoned_natives_agree_with_the_jq_definitions_they_replaced() {
        let jq = r#"
def jq_zoned(local; zone; source):
  if zone == null then {local: local, zone_source: "unresolved"}
  else {local: local, zone: zone, utc: (local | zone_utc(zone)), zone_source: source} end;
def jq_zoned_first(local; pairs):
  (first(pairs[] | select(.[0] != null)) // [null, null]) as $p
  | jq_zoned(local; $p[0]; $p[1]);
"#;
        let local = "\"2026-11-25T13:42:00\"";
        let cases = [
            format!("zoned({local}; \"America/Chicago\"; \"explicit\")"),
            format!("zoned({local}; \"-05:00\"; \"stop_location\")"),
            format!("zoned({local}; null; \"explicit\")"),
            format!("zoned({local}; \"Mars/Base\"; \"explicit\")"),
            "zoned(\"2026-03-08T02:30:00\"; \"America/New_York\"; \"explicit\")".to_owned(),
            format!(
                "zoned_first({local}; [[null, \"explicit\"], [\"-06:00\", \"stop_location\"], [\"UTC\", \"partner_default\"]])"
            ),
            format!("zoned_first({local}; [[null, \"explicit\"], [null, \"stop_location\"]])"),
            format!("zoned_first({local}; [])"),
            format!("zoned_first({local}; [null, [\"America/Denver\"]])"),
            format!("zoned_first({local}; [[\"Europe/Paris\", \"explicit\"], [null, \"x\"]])"),
        ];
        for case in cases {
            let native = run(&format!("{jq}\n{case}"), json!(null));
            let replaced = run(&format!("{jq}\njq_{case}"), json!(null));
            assert_eq!(
                native.is_ok(),
                replaced.is_ok(),
                "{case}: {native:?} / {replaced:?}"
            );
            if let (Ok(native), Ok(replaced)) = (&native, &replaced) {
                assert_eq!(native, replaced, "{case}");
            }
        }
    }

    #[test]
    fn the_prelude_parses() {
        assert!(prelude_defs().unwrap().len() > 20);
    }

    #[test]
    fn runs_with_variables_and_prelude() {
        assert_eq!(
            run("[$now, (\"X1\" | code_map(\"status\")), (\"Q\" | code_map(\"status\"; \"other\"))]", json!(null)).unwrap(),
            vec![json!(["2026-11-25T00:00:00Z", "arrived_at_delivery", "other"])]
        );
    }

    #[test]
    fn x12_helpers_work_on_flat_and_nested_sets() {
        let flat = json!({"segments": [
            {"tag": "ST", "elements": ["214", "0001"]},
            {"tag": "LX", "elements": ["1"]},
            {"tag": "AT7", "elements": ["X1", "NS", "", "", "20261125", "1342"]},
        ]});
        let nested = json!({"segments": [
            {"tag": "ST", "elements": ["214", "0001"]},
            {"loop": "0200", "segments": [
                {"tag": "LX", "elements": ["1"]},
                {"loop": "0205", "segments": [
                    {"tag": "AT7", "elements": ["X1", "NS", "", "", "20261125", "1342"]}]}]}]});
        for set in [flat, nested.clone()] {
            let out = run(
                "[segs(\"AT7\") | el(1), el(3), x12_local(el(5); el(6))]",
                set,
            )
            .unwrap();
            assert_eq!(out, vec![json!(["X1", null, "2026-11-25T13:42:00"])]);
        }
        let out = run("[loops(\"0200\") | own_seg(\"LX\") | el(1)]", nested).unwrap();
        assert_eq!(out, vec![json!(["1"])]);
    }

    #[test]
    fn zones_resolve_through_jiff() {
        let out = run(
            "zoned(\"2026-11-25T13:42:00\"; \"America/Chicago\"; \"stop_location\"), zoned(\"2026-11-25T13:42:00\"; null; null)",
            json!(null),
        )
        .unwrap();
        assert_eq!(out[0]["utc"], "2026-11-25T19:42:00Z");
        assert_eq!(
            out[1],
            json!({"local": "2026-11-25T13:42:00", "zone_source": "unresolved"})
        );
        assert!(
            run(
                "\"2026-11-25T13:42:00\" | zone_utc(\"Mars/Base\")",
                json!(null)
            )
            .is_err()
        );
    }

    #[test]
    fn amounts_convert_to_and_from_implied_decimals() {
        let out = run(
            "[\"136049\", \"5\", \"-1250\" | n2], [\"1360.49\", \"85\", \"0.5\" | to_n2]",
            json!(null),
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                json!(["1360.49", "0.05", "-12.50"]),
                json!(["136049", "8500", "50"])
            ]
        );
    }

    #[test]
    fn compile_errors_carry_offsets() {
        let errors = Program::compile(".a | nosuchfn(1)").unwrap_err();
        assert_eq!(errors[0].offset, 5, "{errors:?}");
        assert!(errors[0].message.contains("nosuchfn"), "{errors:?}");
        let errors = Program::compile("{a: 1,, }").unwrap_err();
        assert_eq!(errors[0].offset, 6, "{errors:?}");
    }

    /// `.` is not run, and what it gives is what jaq gives for a program that is not
    /// `.` but does the same.
    #[test]
    fn the_identity_program_gives_its_input_as_jaq_would() {
        let identity = Program::compile(" .\n").unwrap();
        assert!(identity.is_identity());
        let through_jaq = Program::compile(". | .").unwrap();
        assert!(!through_jaq.is_identity());
        let input = json!({
            "type": "transload.tender.offered",
            "n": [1, 2.50, -0.0, 12345678901234567890_u64, "x", null, true],
            "nested": {"b": {}, "a": []}
        });
        let partner = Partner::empty();
        assert_eq!(
            identity.run(&input, &partner, "").unwrap(),
            through_jaq.run(&input, &partner, "").unwrap()
        );
        assert_eq!(identity.run(&input, &partner, "").unwrap(), vec![input]);
    }

    #[test]
    fn runtime_errors_are_reported() {
        assert!(
            run("error(\"boom\")", json!(null))
                .unwrap_err()
                .contains("boom")
        );
    }
}
