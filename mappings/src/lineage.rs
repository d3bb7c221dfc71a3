//! Field lineage by value matching: for each leaf of an output, the input places holding an
//! equal value.
//!
//! This is a heuristic. jq does not say where a value came from, so the engine looks for
//! input leaves equal to the output leaf (as text; or, for values of six digits or more,
//! with the same digits, so `2026-11-25` matches `20261125`). A constant or computed value
//! matches nothing; a common value (`1`, `US`) may match places it did not come from.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::FieldLineage;

/// Most sources listed per field.
const MAX_SOURCES: usize = 4;
/// Most fields listed.
const MAX_FIELDS: usize = 40;

/// Input leaves by their text, each with where it sits.
#[derive(Debug, Default)]
pub(crate) struct SourceIndex {
    by_text: BTreeMap<String, Vec<String>>,
    by_digits: BTreeMap<String, Vec<String>>,
}

fn leaf_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn digits(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 6).then_some(digits)
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl SourceIndex {
    fn add(&mut self, text: String, place: String) {
        if let Some(digits) = digits(&text) {
            self.by_digits
                .entry(digits)
                .or_default()
                .push(place.clone());
        }
        self.by_text.entry(text).or_default().push(place);
    }

    /// Indexes a JSON value under `prefix` (places are JSON pointers).
    pub(crate) fn add_json(&mut self, value: &Value, prefix: &str) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.add_json(child, &format!("{prefix}/{}", escape_pointer(key)));
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    self.add_json(child, &format!("{prefix}/{index}"));
                }
            }
            leaf => {
                if let Some(text) = leaf_text(leaf) {
                    self.add(text, prefix.to_owned());
                }
            }
        }
    }

    /// Indexes an X12 program input: envelope fields as `envelope/...`, the set's elements
    /// as segment references (`0200[1]/0205[1]/AT7/AT701`, `L11[2]/L1102`, composites
    /// `C001-2`).
    pub(crate) fn add_x12(&mut self, input: &Value) {
        if let Some(envelope) = input.get("envelope") {
            self.add_json(envelope, "envelope");
        }
        if let Some(nodes) = input.pointer("/set/segments").and_then(Value::as_array) {
            self.add_nodes(nodes, "");
        }
    }

    fn add_nodes(&mut self, nodes: &[Value], prefix: &str) {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for node in nodes {
            if let Some(loop_id) = node["loop"].as_str() {
                let count = seen.entry(format!("loop {loop_id}")).or_insert(0);
                *count += 1;
                let place = format!("{prefix}{loop_id}[{count}]/");
                if let Some(children) = node["segments"].as_array() {
                    self.add_nodes(children, &place);
                }
            } else if let Some(tag) = node["tag"].as_str() {
                let count = seen.entry(tag.to_owned()).or_insert(0);
                *count += 1;
                let segment = if *count > 1 {
                    format!("{prefix}{tag}[{count}]")
                } else {
                    format!("{prefix}{tag}")
                };
                let Some(elements) = node["elements"].as_array() else {
                    continue;
                };
                for (index, element) in elements.iter().enumerate() {
                    let name = format!("{segment}/{tag}{:02}", index + 1);
                    match element {
                        Value::Array(components) => {
                            for (at, component) in components.iter().enumerate() {
                                if let Some(text) = leaf_text(component) {
                                    self.add(text, format!("{name}-{}", at + 1));
                                }
                            }
                        }
                        Value::Object(repeat) => {
                            if let Some(items) = repeat.get("repeat").and_then(Value::as_array) {
                                for (at, item) in items.iter().enumerate() {
                                    self.add_json(item, &format!("{name}[rep {}]", at + 1));
                                }
                            }
                        }
                        leaf => {
                            if let Some(text) = leaf_text(leaf) {
                                self.add(text, name);
                            }
                        }
                    }
                }
            }
        }
    }

    fn sources(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = self.by_text.get(text).cloned().unwrap_or_default();
        if found.is_empty()
            && let Some(digits) = digits(text)
        {
            found = self.by_digits.get(&digits).cloned().unwrap_or_default();
        }
        found.truncate(MAX_SOURCES);
        found
    }
}

fn leaves(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                leaves(child, &format!("{path}/{}", escape_pointer(key)), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                leaves(child, &format!("{path}/{index}"), out);
            }
        }
        leaf => out.push((path.to_owned(), leaf.clone())),
    }
}

/// The lineage of every leaf of `payload`, the fields at or under `offending` first.
pub(crate) fn lineage(payload: &Value, index: &SourceIndex, offending: &str) -> Vec<FieldLineage> {
    let mut all = Vec::new();
    leaves(payload, "", &mut all);
    let is_offending = |path: &str| {
        path == offending
            || path.starts_with(&format!("{offending}/"))
            || offending.starts_with(&format!("{path}/"))
    };
    let mut lines: Vec<FieldLineage> = Vec::new();
    if !all.iter().any(|(path, _)| is_offending(path)) {
        lines.push(FieldLineage {
            path: offending.to_owned(),
            value: "(absent)".to_owned(),
            sources: Vec::new(),
        });
    }
    let (first, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(path, _)| is_offending(path));
    for (path, value) in first.into_iter().chain(rest) {
        if path == "/type" {
            continue;
        }
        let sources = leaf_text(&value)
            .map(|text| index.sources(&text))
            .unwrap_or_default();
        lines.push(FieldLineage {
            path,
            value: value.to_string(),
            sources,
        });
        if lines.len() >= MAX_FIELDS {
            break;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_x12_element_references_and_partner_code_maps() {
        let input = json!({"envelope": {"sender_id": "ODFL"}, "set": {"segments": [
            {"tag": "ST", "elements": ["214", "0001"]},
            {"loop": "0200", "segments": [{"tag": "LX", "elements": ["1"]}]},
            {"loop": "0200", "segments": [
                {"tag": "LX", "elements": ["2"]},
                {"loop": "0205", "segments": [{"tag": "AT7", "elements": ["ZZ", "NS", "", "", "20261125", "1342"]}]}]}
        ]}});
        let mut index = SourceIndex::default();
        index.add_x12(&input);
        index.add_json(
            &json!({"code_maps": {"status": {"X1": "arrived"}}}),
            "$partner",
        );
        let payload = json!({"type": "transload.shipment.status", "data": {
            "raw_code": "ZZ", "status": "arrived", "reported_by": "odfl", "date": "2026-11-25"}});
        let lines = lineage(&payload, &index, "/data/status");
        assert_eq!(lines[0].path, "/data/status");
        assert_eq!(lines[0].sources, vec!["$partner/code_maps/status/X1"]);
        let raw = lines.iter().find(|l| l.path == "/data/raw_code").unwrap();
        assert_eq!(raw.sources, vec!["0200[2]/0205[1]/AT7/AT701"]);
        let date = lines.iter().find(|l| l.path == "/data/date").unwrap();
        assert_eq!(date.sources, vec!["0200[2]/0205[1]/AT7/AT705"]);
        let constant = lines
            .iter()
            .find(|l| l.path == "/data/reported_by")
            .unwrap();
        assert!(constant.sources.is_empty());
    }

    #[test]
    fn a_missing_field_is_listed_first() {
        let lines = lineage(
            &json!({"data": {"a": "x"}}),
            &SourceIndex::default(),
            "/data/b",
        );
        assert_eq!(lines[0].path, "/data/b");
        assert_eq!(lines[0].value, "(absent)");
    }
}
