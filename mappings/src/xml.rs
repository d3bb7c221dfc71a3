//! XML documents as JSON, and back.
//!
//! An element is `{"name": "Order", "attrs": {"id": "7"}, "children": [...]}`: `attrs`
//! holds the attributes as written (namespace prefixes and `xmlns` attributes included),
//! `children` the child elements and text in document order, text as JSON strings (CDATA
//! is text too; whitespace-only text between elements is dropped; character and the five
//! predefined entity references are resolved). `attrs` is absent when empty, `children`
//! when there are none. Comments, processing instructions and the XML declaration are
//! dropped. The document is its root element.
//!
//! For safety the reader refuses any DOCTYPE (so no DTD, no external or internal entity
//! can be declared, and no entity expansion can blow up) and any reference to an entity
//! other than the predefined ones; it also refuses invalid element and attribute names,
//! nesting deeper than [`MAX_DEPTH`] and
//! input that is not UTF-8.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};
use thiserror::Error;

/// The deepest element nesting accepted.
pub const MAX_DEPTH: usize = 256;

/// Why an XML document is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("XML at byte {offset}: {message}")]
pub struct XmlError {
    /// Byte offset in the input where the problem was found.
    pub offset: u64,
    /// What is wrong.
    pub message: String,
}

fn refuse(offset: u64, message: impl Into<String>) -> XmlError {
    XmlError {
        offset,
        message: message.into(),
    }
}

struct Open {
    name: String,
    attrs: Map<String, Value>,
    children: Vec<Value>,
    text: String,
}

impl Open {
    fn flush_text(&mut self) {
        if !self.text.trim().is_empty() {
            self.children
                .push(Value::String(std::mem::take(&mut self.text)));
        } else {
            self.text.clear();
        }
    }

    fn into_value(mut self) -> Value {
        self.flush_text();
        let mut element = Map::new();
        element.insert("name".to_owned(), Value::String(self.name));
        if !self.attrs.is_empty() {
            element.insert("attrs".to_owned(), Value::Object(self.attrs));
        }
        if !self.children.is_empty() {
            element.insert("children".to_owned(), Value::Array(self.children));
        }
        Value::Object(element)
    }
}

fn open(start: &BytesStart<'_>, offset: u64) -> Result<Open, XmlError> {
    let name = start.name().as_ref().to_owned();
    if !is_name(&name) {
        return Err(refuse(offset, format!("invalid element name {name:?}")));
    }
    let mut attrs = Map::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| refuse(offset, error.to_string()))?;
        let key = attribute.key.as_ref().to_owned();
        if !is_name(&key) {
            return Err(refuse(offset, format!("invalid attribute name {key:?}")));
        }
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|error| refuse(offset, format!("attribute {key}: {error}")))?
            .into_owned();
        if attrs.insert(key.clone(), Value::String(value)).is_some() {
            return Err(refuse(offset, format!("attribute {key} appears twice")));
        }
    }
    Ok(Open {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Reads an XML document into its JSON rendering.
///
/// # Errors
/// Malformed XML, a DOCTYPE, an undefined entity, too deep nesting, non-UTF-8 input, no
/// root element or content after it.
pub fn xml_to_json(bytes: &[u8]) -> Result<Value, XmlError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| refuse(error.valid_up_to() as u64, "the document is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        let offset = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|error| refuse(offset, error.to_string()))?;
        match event {
            Event::DocType(_) => {
                return Err(refuse(
                    offset,
                    "DOCTYPE is refused: DTDs and entity declarations are not accepted",
                ));
            }
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(refuse(offset, "content after the root element"));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(refuse(offset, format!("nesting deeper than {MAX_DEPTH}")));
                }
                if let Some(parent) = stack.last_mut() {
                    parent.flush_text();
                }
                stack.push(open(&start, offset)?);
            }
            Event::Empty(start) => {
                let element = open(&start, offset)?.into_value();
                match stack.last_mut() {
                    Some(parent) => {
                        parent.flush_text();
                        parent.children.push(element);
                    }
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(refuse(offset, "end tag without start tag"));
                };
                let element = element.into_value();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(content) => {
                let content = content.xml10_content();
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(refuse(offset, "text outside the root element")),
                }
            }
            Event::CData(content) => {
                let content = content.xml10_content();
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&content),
                    None => return Err(refuse(offset, "CDATA outside the root element")),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|error| refuse(offset, error.to_string()))?
                } else {
                    match reference.xml10_content().as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        other => {
                            return Err(refuse(
                                offset,
                                format!(
                                    "undefined entity &{other}; (only the predefined five are accepted)"
                                ),
                            ));
                        }
                    }
                };
                let Some(character) = resolved else {
                    return Err(refuse(offset, "bad character reference"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.text.push(character),
                    None => return Err(refuse(offset, "reference outside the root element")),
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(refuse(
            reader.buffer_position(),
            format!("element <{}> is not closed", open.name),
        ));
    }
    root.ok_or_else(|| refuse(0, "no root element"))
}

/// Why a JSON value cannot be written as XML.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct XmlWriteError {
    /// JSON pointer of the offending value.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
}

fn write_element(
    value: &Value,
    path: &str,
    depth: usize,
    out: &mut String,
) -> Result<(), XmlWriteError> {
    let fail = |path: &str, message: &str| XmlWriteError {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if depth > MAX_DEPTH {
        return Err(fail(path, "nesting too deep"));
    }
    let Some(element) = value.as_object() else {
        return Err(fail(
            path,
            "an element is an object {\"name\", \"attrs\", \"children\"}",
        ));
    };
    let Some(name) = element
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| is_name(n))
    else {
        return Err(fail(
            &format!("{path}/name"),
            "an element needs a valid XML name",
        ));
    };
    out.push('<');
    out.push_str(name);
    if let Some(attrs) = element.get("attrs").filter(|a| !a.is_null()) {
        let Some(attrs) = attrs.as_object() else {
            return Err(fail(
                &format!("{path}/attrs"),
                "attrs is an object of strings",
            ));
        };
        for (key, value) in attrs {
            if !is_name(key) {
                return Err(fail(
                    &format!("{path}/attrs/{key}"),
                    "not a valid attribute name",
                ));
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    return Err(fail(
                        &format!("{path}/attrs/{key}"),
                        "an attribute value is a string",
                    ));
                }
            };
            out.push(' ');
            out.push_str(key);
            out.push_str("=\"");
            escape(&text, out);
            out.push('"');
        }
    }
    let children = match element.get("children") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(children)) => children,
        Some(_) => return Err(fail(&format!("{path}/children"), "children is an array")),
    };
    if children.is_empty() {
        out.push_str("/>");
        return Ok(());
    }
    out.push('>');
    for (index, child) in children.iter().enumerate() {
        let child_path = format!("{path}/children/{index}");
        match child {
            Value::String(text) => escape(text, out),
            Value::Number(number) => out.push_str(&number.to_string()),
            Value::Object(_) => write_element(child, &child_path, depth + 1, out)?,
            _ => return Err(fail(&child_path, "a child is an element or a string")),
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    Ok(())
}

/// Writes the JSON rendering of an element as an XML document (with an XML declaration).
///
/// # Errors
/// A value that is not an element in the rendering convention.
pub fn json_to_xml(value: &Value) -> Result<String, XmlWriteError> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_element(value, "", 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_elements_attributes_text_and_references() {
        let xml = br#"<?xml version="1.0"?>
<!-- a comment -->
<Asn id="A&amp;1" xmlns:x="urn:x">
  <Ref type="PO">PO-1 &lt;2&gt; &#65;</Ref>
  <x:Empty/>
  <Note><![CDATA[a < b]]></Note>
</Asn>"#;
        let json = xml_to_json(xml).unwrap();
        assert_eq!(
            json,
            json!({"name": "Asn", "attrs": {"id": "A&1", "xmlns:x": "urn:x"}, "children": [
                {"name": "Ref", "attrs": {"type": "PO"}, "children": ["PO-1 <2> A"]},
                {"name": "x:Empty"},
                {"name": "Note", "children": ["a < b"]}
            ]})
        );
        let back = json_to_xml(&json).unwrap();
        assert_eq!(xml_to_json(back.as_bytes()).unwrap(), json);
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        let error = xml_to_json(bomb).unwrap_err();
        assert!(error.message.contains("DOCTYPE"), "{error}");
        let xxe = br#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
        assert!(xml_to_json(xxe).unwrap_err().message.contains("DOCTYPE"));
        let undefined = b"<foo>&xxe;</foo>";
        assert!(
            xml_to_json(undefined)
                .unwrap_err()
                .message
                .contains("undefined entity")
        );
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"text",
            b"<a/><b/>",
            b"<a>\xff</a>",
        ] {
            assert!(
                xml_to_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            xml_to_json(b"<1a/>")
                .unwrap_err()
                .message
                .contains("invalid element name")
        );
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(
            xml_to_json(deep.as_bytes())
                .unwrap_err()
                .message
                .contains("deeper")
        );
    }

    #[test]
    fn writing_checks_the_convention() {
        assert!(json_to_xml(&json!({"name": "1bad"})).is_err());
        assert!(json_to_xml(&json!({"name": "a", "children": [true]})).is_err());
        assert_eq!(
            json_to_xml(
                &json!({"name": "a", "attrs": {"q": "\"x\""}, "children": ["<", {"name": "b"}]})
            )
            .unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a q=\"&quot;x&quot;\">&lt;<b/></a>\n"
        );
    }
}
