//! The lossless JSON document tree: interchanges, groups, transaction sets, segments.
//!
//! Elements are JSON strings; a composite is an array of its components; a repeated element
//! is `{"repeat": [...]}` with each repetition a string or a composite array. The ISA keeps
//! its raw fixed-width elements. Text is UTF-8 when the input is; otherwise the tree says
//! `"encoding": "latin1"` and every byte is the character of the same code (U+0000..U+00FF),
//! so any input round-trips.

use serde::{Deserialize, Serialize};

use super::delimiters::Delimiters;
use super::document::{Document, Group, Interchange, TransactionSet};
use super::segment::Segment;

/// How bytes of element values map to JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The input was valid UTF-8.
    #[default]
    Utf8,
    /// Each byte is one character U+0000..U+00FF.
    Latin1,
}

/// A whole input as a tree.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct X12Tree {
    /// How element bytes map to text.
    #[serde(default)]
    pub encoding: Encoding,
    /// The interchanges.
    pub interchanges: Vec<InterchangeNode>,
}

/// One interchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeNode {
    /// Its delimiters.
    pub delimiters: Delimiters,
    /// The ISA (absent for bare data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isa: Option<SegmentNode>,
    /// Segments between ISA and the first GS that are not groups (ISB, ISE, TA1...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentNode>,
    /// The functional groups.
    #[serde(default)]
    pub groups: Vec<GroupNode>,
    /// The IEA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iea: Option<SegmentNode>,
}

/// One functional group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupNode {
    /// The GS (absent for bare data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gs: Option<SegmentNode>,
    /// Segments in the group outside transaction sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentNode>,
    /// The transaction sets.
    #[serde(default)]
    pub transaction_sets: Vec<SetNode>,
    /// The GE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<SegmentNode>,
}

/// One transaction set: ST..SE, loops nested where a spec gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetNode {
    /// The segments and loops in order.
    pub segments: Vec<Node>,
}

/// A segment or a loop of segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    /// A segment.
    Segment(SegmentNode),
    /// A loop: `{"loop": "0100", "segments": [...]}`.
    Loop(LoopNode),
}

/// A loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopNode {
    /// The loop id.
    #[serde(rename = "loop")]
    pub loop_id: String,
    /// Its content.
    pub segments: Vec<Node>,
}

/// One segment: `{"tag": "N1", "elements": ["SH", "ACME"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentNode {
    /// The tag.
    pub tag: String,
    /// The elements after the tag, trailing empty ones kept as sent.
    #[serde(default)]
    pub elements: Vec<Element>,
}

/// One element value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Element {
    /// A simple value.
    Simple(String),
    /// A composite: its components.
    Composite(Vec<String>),
    /// A repeated element: its repetitions.
    Repeated {
        /// The repetitions.
        repeat: Vec<Repetition>,
    },
}

/// One repetition of a repeated element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Repetition {
    /// A simple value.
    Simple(String),
    /// A composite.
    Composite(Vec<String>),
}

impl SegmentNode {
    /// A segment of simple elements.
    pub fn simple(tag: &str, elements: &[&str]) -> Self {
        Self {
            tag: tag.to_owned(),
            elements: elements
                .iter()
                .map(|e| Element::Simple((*e).to_owned()))
                .collect(),
        }
    }

    /// Element at 1-based `pos` as text when it is simple.
    pub fn text(&self, pos: usize) -> Option<&str> {
        match self.elements.get(pos.checked_sub(1)?)? {
            Element::Simple(s) => Some(s),
            _ => None,
        }
    }
}

impl SetNode {
    /// The segments in order, loops flattened.
    pub fn flat_segments(&self) -> Vec<&SegmentNode> {
        fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a SegmentNode>) {
            for n in nodes {
                match n {
                    Node::Segment(s) => out.push(s),
                    Node::Loop(l) => walk(&l.segments, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.segments, &mut out);
        out
    }
}

fn text(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

fn split_components(bytes: &[u8], d: Delimiters, encoding: Encoding) -> Vec<String> {
    bytes
        .split(|b| *b == d.component)
        .map(|c| text(c, encoding))
        .collect()
}

/// Converts one parsed segment to a node (the ISA's elements are never split).
pub fn segment_node(s: &Segment<'_>, encoding: Encoding) -> SegmentNode {
    let d = s.delimiters();
    let is_isa = s.tag() == b"ISA";
    let elements = s
        .elements()
        .map(|e| {
            if is_isa {
                return Element::Simple(text(e, encoding));
            }
            if let Some(r) = d.repetition
                && memchr::memchr(r, e).is_some()
            {
                let repeat = e
                    .split(|b| *b == r)
                    .map(|rep| {
                        if memchr::memchr(d.component, rep).is_some() {
                            Repetition::Composite(split_components(rep, d, encoding))
                        } else {
                            Repetition::Simple(text(rep, encoding))
                        }
                    })
                    .collect();
                return Element::Repeated { repeat };
            }
            if memchr::memchr(d.component, e).is_some() {
                Element::Composite(split_components(e, d, encoding))
            } else {
                Element::Simple(text(e, encoding))
            }
        })
        .collect();
    SegmentNode {
        tag: text(s.tag(), encoding),
        elements,
    }
}

fn set_node(set: &TransactionSet<'_>, encoding: Encoding) -> SetNode {
    SetNode {
        segments: set
            .segments
            .iter()
            .map(|s| Node::Segment(segment_node(s, encoding)))
            .collect(),
    }
}

/// Builds the tree of a parsed document; `input` is the bytes it was parsed from (to pick
/// the encoding).
pub fn to_tree(doc: &Document<'_>, input: &[u8]) -> X12Tree {
    let encoding = if std::str::from_utf8(input).is_ok() {
        Encoding::Utf8
    } else {
        Encoding::Latin1
    };
    X12Tree {
        encoding,
        interchanges: doc
            .interchanges
            .iter()
            .map(|ix| interchange_node(ix, encoding))
            .collect(),
    }
}

/// Segments that belong to no group or set keep their place: those before the first group
/// (set) go to the interchange's (group's) `segments`, later ones into a GS-less group
/// (ST-less set) at their position, so writing the tree back preserves the order.
fn interchange_node(ix: &Interchange<'_>, encoding: Encoding) -> InterchangeNode {
    let node = |s: &Segment<'_>| segment_node(s, encoding);
    let first_group = ix.groups.first().map_or(u64::MAX, group_start);
    let (leading, strays): (Vec<&Segment<'_>>, Vec<&Segment<'_>>) = ix
        .other
        .iter()
        .partition(|s| s.position.segment_index < first_group);
    let mut items: Vec<(u64, GroupNode)> = ix
        .groups
        .iter()
        .map(|g| (group_start(g), group_node(g, encoding)))
        .collect();
    for s in strays {
        items.push((
            s.position.segment_index,
            GroupNode {
                gs: None,
                segments: vec![node(s)],
                transaction_sets: Vec::new(),
                ge: None,
            },
        ));
    }
    items.sort_by_key(|(at, _)| *at);
    let mut groups: Vec<GroupNode> = Vec::with_capacity(items.len());
    for (_, g) in items {
        let stray_only =
            |g: &GroupNode| g.gs.is_none() && g.transaction_sets.is_empty() && g.ge.is_none();
        match groups.last_mut() {
            Some(prev) if stray_only(prev) && stray_only(&g) => prev.segments.extend(g.segments),
            _ => groups.push(g),
        }
    }
    InterchangeNode {
        delimiters: ix.delimiters,
        isa: ix.isa.as_ref().map(node),
        segments: leading.into_iter().map(node).collect(),
        groups,
        iea: ix.iea.as_ref().map(node),
    }
}

fn group_start(g: &Group<'_>) -> u64 {
    g.gs.iter()
        .chain(g.other.iter())
        .chain(g.sets.iter().flat_map(|t| t.segments.first()))
        .chain(g.ge.iter())
        .map(|s| s.position.segment_index)
        .min()
        .unwrap_or(u64::MAX)
}

fn group_node(g: &Group<'_>, encoding: Encoding) -> GroupNode {
    let node = |s: &Segment<'_>| segment_node(s, encoding);
    let first_set = g
        .sets
        .first()
        .and_then(|t| t.segments.first())
        .map_or(u64::MAX, |s| s.position.segment_index);
    let (leading, strays): (Vec<&Segment<'_>>, Vec<&Segment<'_>>) = g
        .other
        .iter()
        .partition(|s| s.position.segment_index < first_set);
    let mut items: Vec<(u64, SetNode)> = g
        .sets
        .iter()
        .map(|t| {
            (
                t.segments
                    .first()
                    .map_or(u64::MAX, |s| s.position.segment_index),
                set_node(t, encoding),
            )
        })
        .collect();
    for s in strays {
        items.push((
            s.position.segment_index,
            SetNode {
                segments: vec![Node::Segment(node(s))],
            },
        ));
    }
    items.sort_by_key(|(at, _)| *at);
    GroupNode {
        gs: g.gs.as_ref().map(node),
        segments: leading.into_iter().map(node).collect(),
        transaction_sets: items.into_iter().map(|(_, t)| t).collect(),
        ge: g.ge.as_ref().map(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x12::document::parse;

    #[test]
    fn composites_repetitions_and_json_shape() {
        let data = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*^*00501*000011111*0*P*:~GS*SM*A*B*20240131*1100*1*X*005010~ST*204*0001~N1*SH*ACME~REF*A:B*X^Y:Z~SE*4*0001~GE*1*1~IEA*1*000011111~";
        let doc = parse(data);
        let tree = to_tree(&doc, data);
        let json = serde_json::to_value(&tree).unwrap();
        let set = &json["interchanges"][0]["groups"][0]["transaction_sets"][0]["segments"];
        assert_eq!(
            set[1],
            serde_json::json!({"tag": "N1", "elements": ["SH", "ACME"]})
        );
        assert_eq!(set[2]["elements"][0], serde_json::json!(["A", "B"]));
        assert_eq!(
            set[2]["elements"][1],
            serde_json::json!({"repeat": ["X", ["Y", "Z"]]})
        );
        assert_eq!(json["interchanges"][0]["isa"]["elements"][10], "^");
        assert_eq!(json["interchanges"][0]["delimiters"]["repetition"], "^");
        let back: X12Tree = serde_json::from_value(json).unwrap();
        assert_eq!(back, tree);
    }

    #[test]
    fn non_utf8_input_is_latin1() {
        let data = b"ST*997*0001~N1*SH*CAF\xC9~SE*3*0001~";
        let tree = to_tree(&parse(data), data);
        assert_eq!(tree.encoding, Encoding::Latin1);
        let n1 = &tree.interchanges[0].groups[0].transaction_sets[0].segments[1];
        assert!(matches!(n1, Node::Segment(s) if s.text(2) == Some("CAF\u{C9}")));
    }

    #[test]
    fn stray_segments_keep_their_place() {
        use crate::x12::writer::{WriteOptions, write_tree};
        let data = b"SA*1~GS*IN*A*B*20240101*1200*1*X*004010~ST*850*0001~SE*2*0001~X1*a~ST*850*0002~SE*2*0002~GE*2*1~IEA*1*000000001~Q2*b~";
        let tree = to_tree(&parse(data), data);
        let out = write_tree(&tree, &WriteOptions::default()).unwrap();
        // Everything but the trailing data after the last IEA, in the same order.
        assert_eq!(out, data[..data.len() - 5].to_vec());
    }
}
