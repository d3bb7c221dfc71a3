//! The lossless JSON document tree: interchanges, groups, transaction sets, loops, segments.
//!
//! # Shape
//!
//! `transload x12 to-json` of a 005010 204 (one header party, one stop):
//!
//! ```json
//! {
//!   "encoding": "utf8",
//!   "interchanges": [{
//!     "delimiters": {"element": "*", "component": ">", "segment": "~", "repetition": "^"},
//!     "isa": {"tag": "ISA", "elements": ["00", "          ", "00", "          ",
//!       "ZZ", "SENDER         ", "ZZ", "RECEIVER       ", "240131", "1100", "^", "00501",
//!       "000011111", "0", "P", ">"]},
//!     "groups": [{
//!       "gs": {"tag": "GS", "elements": ["SM", "SENDER", "RECEIVER", "20240131", "1100", "1", "X", "005010"]},
//!       "transaction_sets": [{
//!         "segments": [
//!           {"tag": "ST", "elements": ["204", "0001"]},
//!           {"tag": "B2", "elements": ["", "SCAC", "", "123"]},
//!           {"loop": "0100", "segments": [
//!             {"tag": "N1", "elements": ["BT", "ACME"]},
//!             {"tag": "N4", "elements": ["CHICAGO", "IL", "60601"]}
//!           ]},
//!           {"loop": "0300", "segments": [
//!             {"tag": "S5", "elements": ["1", "CL"]},
//!             {"loop": "0310", "segments": [
//!               {"tag": "N1", "elements": ["SH", "SHIPPER"]}
//!             ]}
//!           ]},
//!           {"tag": "SE", "elements": ["7", "0001"]}
//!         ]
//!       }],
//!       "ge": {"tag": "GE", "elements": ["1", "1"]}
//!     }],
//!     "iea": {"tag": "IEA", "elements": ["1", "000011111"]}
//!   }]
//! }
//! ```
//!
//! - The top level has `encoding` and `interchanges`. An interchange has `delimiters`
//!   (`element`, `component`, `segment`, `repetition` — each a one-character string, the
//!   last `null` when there is none), `isa`, `groups`, `iea`, and `segments` for segments
//!   outside groups (ISB, TA1...). A group has `gs`, `transaction_sets`, `ge`, and
//!   `segments` for segments outside sets. `isa`/`iea`/`gs`/`ge` are absent for bare data
//!   without envelopes, `segments` when empty.
//! - A transaction set is `{"segments": [...]}`: its nodes in input order, ST first and SE
//!   last. A node is a segment `{"tag": "N1", "elements": [...]}` or a loop instance
//!   `{"loop": "0310", "segments": [...]}` whose `segments` are nodes again (nested loops).
//!   Each occurrence of a loop is its own object, so a loop that repeats is several
//!   consecutive objects with the same `loop`.
//! - Loops are nested when there is a spec for the set ([`spec::spec_for`] of GS08 and
//!   ST01): the nesting is what the validator's loop matcher decides. A segment the matcher
//!   cannot place (unknown, out of sequence) stays, in order, in the innermost loop open at
//!   that point. Without a spec the set is a flat list of segments. The writer flattens
//!   loops, so a nested and a flat tree of the same segments write the same X12.
//! - Loop ids are those of the spec files in `schemas/x12/`: e.g. in the 204 `0100`
//!   (parties), `0200`, `0300` (stops; inside it `0310` stop parties, `0350` orders...);
//!   in the 214 `0100`, `0200` (LX; inside it `0205` with AT7); in the 210 `0100`..`0300`,
//!   `0400` (LX); in the 997 `AK2` and `AK3`; in the 999 `2000`, `2100`, `2110`.
//! - In jq, every segment of a set whatever its loop is
//!   `[.segments | .. | objects | select(has("tag"))]`, and the stops of a 204
//!   `.segments[] | select(.loop == "0300")`.
//! - `elements` are the elements after the tag, 1-based in X12 (`N104` is
//!   `elements[3]`), trailing empty ones kept as sent. An element is a string; a composite
//!   is an array of its component strings; a repeated element is `{"repeat": [...]}` with
//!   each repetition a string or a composite array. The ISA keeps its raw fixed-width
//!   elements (ISA11 and ISA16 are the delimiters as sent).
//! - Text is UTF-8 when the input is; otherwise `"encoding": "latin1"` and every byte is
//!   the character of the same code (U+0000..U+00FF), so any input round-trips.
//!
//! # Addressing
//!
//! [`SetNode::find`] and [`SetNode::value`] take paths like `0300[2]/N1` and
//! `0300[2]/0310/N1/N102` (loop ids, then a segment tag, then an element reference; `[n]` is
//! the 1-based occurrence among its siblings, 1 when left out); [`SetNode::segments_with_paths`]
//! iterates over every segment with its [`LoopPath`]; [`SegmentNode::element`] and
//! [`SegmentNode::value`] read elements by position or X12 reference (`N104`, `CLM05-1`).
//!
//! ```
//! use transload_connectors::x12::{document, tree};
//! let data = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       \
//!     *240131*1100*U*00401*000000001*0*P*>~GS*SM*A*B*20240131*1100*1*X*004010~\
//!     ST*204*0001~B2**SCAC**123**PP~S5*1*CL~N1*SH*SHIPPER~S5*2*CU~N1*CN*CONSIGNEE~\
//!     SE*7*0001~GE*1*1~IEA*1*000000001~";
//! let t = tree::to_tree(&document::parse(data), data);
//! let set = &t.interchanges[0].groups[0].transaction_sets[0];
//! assert_eq!(set.value("0300[2]/0310/N1/N102"), Some("CONSIGNEE"));
//! let stops: Vec<String> = set
//!     .segments_with_paths()
//!     .filter(|(_, s)| s.tag == "S5")
//!     .map(|(path, _)| path.to_string())
//!     .collect();
//! assert_eq!(stops, ["0300[1]", "0300[2]"]);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::delimiters::Delimiters;
use super::document::{Document, Group, Interchange, TransactionSet};
use super::segment::Segment;
use super::spec::{self, LoopObserver};

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
        self.element(pos)?.text()
    }

    /// Element at 1-based `pos` (`N104` is 4); `None` past the last element sent.
    pub fn element(&self, pos: usize) -> Option<&Element> {
        self.elements.get(pos.checked_sub(1)?)
    }

    /// Element by X12 reference: this segment's tag and a two-digit position, e.g. `N104`.
    /// `None` when the reference names another segment or the element was not sent.
    pub fn element_by_ref(&self, reference: &str) -> Option<&Element> {
        let (pos, _) = self.parse_ref(reference)?;
        self.element(pos)
    }

    /// Text of an element or component by X12 reference: `N104` (a simple element) or
    /// `CLM05-1` (component 1 of a composite). `None` when the reference names another
    /// segment, the value was not sent, or it is not of that kind (a composite asked for as
    /// a whole, a repeated element).
    pub fn value(&self, reference: &str) -> Option<&str> {
        let (pos, component) = self.parse_ref(reference)?;
        let element = self.element(pos)?;
        match component {
            None => element.text(),
            Some(c) => element.component(c),
        }
    }

    /// `(position, component)` of a reference to an element of this segment.
    fn parse_ref(&self, reference: &str) -> Option<(usize, Option<usize>)> {
        let rest = reference.strip_prefix(self.tag.as_str())?;
        let (pos, component) = match rest.split_once('-') {
            Some((p, c)) => (p, Some(c)),
            None => (rest, None),
        };
        if pos.len() != 2 || !pos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let component = match component {
            Some(c) if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) => {
                Some(c.parse().ok().filter(|n| *n > 0)?)
            }
            Some(_) => return None,
            None => None,
        };
        Some((pos.parse().ok()?, component))
    }
}

impl Element {
    /// The value of a simple element.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Simple(s) => Some(s),
            _ => None,
        }
    }

    /// Component `n` (1-based) of a composite. A simple value is its own first component
    /// (a composite sent with one component has no component separator).
    pub fn component(&self, n: usize) -> Option<&str> {
        match self {
            Self::Simple(s) if n == 1 => Some(s),
            Self::Composite(parts) => parts.get(n.checked_sub(1)?).map(String::as_str),
            _ => None,
        }
    }
}

/// One loop instance in a [`LoopPath`]: `0300[2]` is the second instance of loop `0300`
/// inside its parent (the transaction set or the enclosing loop instance).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoopStep {
    /// The loop id.
    pub loop_id: String,
    /// 1-based occurrence among the parent's instances of this loop.
    pub instance: usize,
}

/// Where a node sits in a transaction set: the loop instances around it, outermost first.
/// Displays as `0300[2]/0310[1]`, empty at the set level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LoopPath(pub Vec<LoopStep>);

impl fmt::Display for LoopPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{}[{}]", step.loop_id, step.instance)?;
        }
        Ok(())
    }
}

impl LoopPath {
    /// The innermost loop id, `None` at the set level.
    pub fn innermost(&self) -> Option<&str> {
        self.0.last().map(|s| s.loop_id.as_str())
    }
}

/// Every segment of a transaction set in order with its [`LoopPath`]; from
/// [`SetNode::segments_with_paths`].
#[derive(Debug)]
pub struct SegmentsWithPaths<'t> {
    /// Open levels, the set first.
    levels: Vec<Level<'t>>,
    path: LoopPath,
}

/// One open level of [`SegmentsWithPaths`].
#[derive(Debug)]
struct Level<'t> {
    /// Its nodes not visited yet.
    nodes: std::slice::Iter<'t, Node>,
    /// Loop instances seen so far, per loop id.
    seen: Vec<(&'t str, usize)>,
}

impl<'t> Level<'t> {
    fn new(nodes: &'t [Node]) -> Self {
        Self {
            nodes: nodes.iter(),
            seen: Vec::new(),
        }
    }
}

impl<'t> Iterator for SegmentsWithPaths<'t> {
    type Item = (LoopPath, &'t SegmentNode);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let level = self.levels.last_mut()?;
            match level.nodes.next() {
                None => {
                    self.levels.pop();
                    self.path.0.pop();
                }
                Some(Node::Segment(s)) => return Some((self.path.clone(), s)),
                Some(Node::Loop(l)) => {
                    let instance = bump(&mut level.seen, &l.loop_id);
                    self.path.0.push(LoopStep {
                        loop_id: l.loop_id.clone(),
                        instance,
                    });
                    self.levels.push(Level::new(&l.segments));
                }
            }
        }
    }
}

/// Counts one more occurrence of `id`; returns its 1-based number.
fn bump<'t>(seen: &mut Vec<(&'t str, usize)>, id: &'t str) -> usize {
    if let Some((_, n)) = seen.iter_mut().find(|(s, _)| *s == id) {
        *n += 1;
        *n
    } else {
        seen.push((id, 1));
        1
    }
}

/// One step of an address: a name and its 1-based occurrence (`0300[2]`, `N1`).
fn parse_step(step: &str) -> Option<(&str, usize)> {
    match step.split_once('[') {
        None if !step.is_empty() => Some((step, 1)),
        None => None,
        Some((name, rest)) => {
            let n: usize = rest.strip_suffix(']')?.parse().ok()?;
            (!name.is_empty() && n > 0).then_some((name, n))
        }
    }
}

/// The `n`th loop instance `id` among `nodes`.
fn nth_loop<'t>(nodes: &'t [Node], id: &str, n: usize) -> Option<&'t LoopNode> {
    nodes
        .iter()
        .filter_map(|node| match node {
            Node::Loop(l) if l.loop_id == id => Some(l),
            _ => None,
        })
        .nth(n.checked_sub(1)?)
}

/// The loop instance at `steps` (loop ids) below `nodes`.
fn descend<'t, 'p>(
    mut nodes: &'t [Node],
    steps: impl Iterator<Item = &'p str>,
) -> Option<&'t [Node]> {
    for step in steps {
        let (id, n) = parse_step(step)?;
        nodes = &nth_loop(nodes, id, n)?.segments;
    }
    Some(nodes)
}

/// Finds a segment at `path` (`loop[n]/.../TAG[n]`) below `nodes`.
fn find_segment<'t>(nodes: &'t [Node], path: &str) -> Option<&'t SegmentNode> {
    let (loops, last) = match path.rsplit_once('/') {
        Some((loops, last)) => (Some(loops), last),
        None => (None, path),
    };
    let nodes = descend(nodes, loops.into_iter().flat_map(|l| l.split('/')))?;
    let (tag, n) = parse_step(last)?;
    nodes
        .iter()
        .filter_map(|node| match node {
            Node::Segment(s) if s.tag == tag => Some(s),
            _ => None,
        })
        .nth(n.checked_sub(1)?)
}

/// Finds a loop instance at `path` (`loop[n]/.../loop[n]`) below `nodes`.
fn find_loop<'t>(nodes: &'t [Node], path: &str) -> Option<&'t LoopNode> {
    let (outer, last) = match path.rsplit_once('/') {
        Some((outer, last)) => (Some(outer), last),
        None => (None, path),
    };
    let nodes = descend(nodes, outer.into_iter().flat_map(|l| l.split('/')))?;
    let (id, n) = parse_step(last)?;
    nth_loop(nodes, id, n)
}

/// Reads a value at `path` (`loop[n]/.../TAG[n]/REF`) below `nodes`.
fn find_value<'t>(nodes: &'t [Node], path: &str) -> Option<&'t str> {
    let (segment, reference) = path.rsplit_once('/')?;
    find_segment(nodes, segment)?.value(reference)
}

impl SetNode {
    /// The segment at `path`: loop steps then a segment tag, separated by `/`, each with an
    /// optional 1-based occurrence among its siblings (default 1). `0300[2]/N1` is the first
    /// N1 directly in the second 0300 loop instance; `B2` is the B2 at the set level;
    /// `0300[2]/0310/N1` goes one loop deeper. `None` when nothing is there.
    pub fn find(&self, path: &str) -> Option<&SegmentNode> {
        find_segment(&self.segments, path)
    }

    /// The loop instance at `path` (loop steps only, e.g. `0300[2]/0310`).
    pub fn find_loop(&self, path: &str) -> Option<&LoopNode> {
        find_loop(&self.segments, path)
    }

    /// The text at `path`: a [`find`](Self::find) path, `/`, and an element reference of
    /// that segment as in [`SegmentNode::value`]: `0300[2]/0310/N1/N102`, `B2/B204`.
    pub fn value(&self, path: &str) -> Option<&str> {
        find_value(&self.segments, path)
    }

    /// Every segment in order with the loop instances around it.
    pub fn segments_with_paths(&self) -> SegmentsWithPaths<'_> {
        SegmentsWithPaths {
            levels: vec![Level::new(&self.segments)],
            path: LoopPath::default(),
        }
    }

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

impl LoopNode {
    /// The segment at `path` inside this loop instance, as in [`SetNode::find`].
    pub fn find(&self, path: &str) -> Option<&SegmentNode> {
        find_segment(&self.segments, path)
    }

    /// The text at `path` inside this loop instance, as in [`SetNode::value`].
    pub fn value(&self, path: &str) -> Option<&str> {
        find_value(&self.segments, path)
    }
}

/// Builds the nested nodes of one set from the placements the validator's loop matcher
/// reports.
struct Nester<'s, 'a> {
    segments: &'s [Segment<'a>],
    encoding: Encoding,
    /// The set level.
    root: Vec<Node>,
    /// Open loop instances, outermost first.
    open: Vec<LoopNode>,
    /// The next segment to place.
    next: usize,
}

impl Nester<'_, '_> {
    fn level(&mut self) -> &mut Vec<Node> {
        match self.open.last_mut() {
            Some(l) => &mut l.segments,
            None => &mut self.root,
        }
    }

    /// Places the segments before `end` not placed yet at the innermost open level.
    fn place_until(&mut self, end: usize) {
        while self.next < end {
            if let Some(s) = self.segments.get(self.next) {
                let node = Node::Segment(segment_node(s, self.encoding));
                self.level().push(node);
            }
            self.next += 1;
        }
    }

    fn finish(mut self) -> Vec<Node> {
        self.place_until(self.segments.len());
        while !self.open.is_empty() {
            self.close_loop();
        }
        self.root
    }
}

impl LoopObserver for Nester<'_, '_> {
    const CHECK_ELEMENTS: bool = false;

    fn open_loop(&mut self, id: &str) {
        self.open.push(LoopNode {
            loop_id: id.to_owned(),
            segments: Vec::new(),
        });
    }

    fn close_loop(&mut self) {
        if let Some(l) = self.open.pop() {
            self.level().push(Node::Loop(l));
        }
    }

    fn segment(&mut self, index: usize) {
        self.place_until(index.saturating_add(1));
    }
}

/// A set's node: loops nested when there is a spec for `version` (GS08) and ST01, flat
/// otherwise.
fn set_node(set: &TransactionSet<'_>, version: Option<&str>, encoding: Encoding) -> SetNode {
    let spec = version.and_then(|v| spec::spec_for(v, &set.set_id()));
    let mut nester = Nester {
        segments: &set.segments,
        encoding,
        root: Vec::with_capacity(set.segments.len()),
        open: Vec::new(),
        next: 0,
    };
    if let Some(spec) = spec {
        // Only the placements matter here; the findings are the validator's business.
        let _ = spec.validate_observed(&set.segments, &mut nester);
    }
    SetNode {
        segments: nester.finish(),
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
    let version = g.gs.as_ref().map(|gs| gs.text(8));
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
                set_node(t, version.as_deref(), encoding),
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
        // N1 opens the 0100 loop; REF is not in the 005010 204, so it stays where it is.
        let n1_loop = &set[1];
        assert_eq!(n1_loop["loop"], "0100");
        assert_eq!(
            n1_loop["segments"][0],
            serde_json::json!({"tag": "N1", "elements": ["SH", "ACME"]})
        );
        let r = &n1_loop["segments"][1];
        assert_eq!(r["tag"], "REF");
        assert_eq!(r["elements"][0], serde_json::json!(["A", "B"]));
        assert_eq!(
            r["elements"][1],
            serde_json::json!({"repeat": ["X", ["Y", "Z"]]})
        );
        assert_eq!(set[2]["tag"], "SE");
        assert_eq!(json["interchanges"][0]["isa"]["elements"][10], "^");
        assert_eq!(json["interchanges"][0]["delimiters"]["repetition"], "^");
        let back: X12Tree = serde_json::from_value(json).unwrap();
        assert_eq!(back, tree);
    }

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000000001*0*P*>~";

    fn set_of(body: &str, version: &str) -> (SetNode, String) {
        let data =
            format!("{ISA}GS*SM*A*B*20240131*1100*1*X*{version}~{body}GE*1*1~IEA*1*000000001~");
        let tree = to_tree(&parse(data.as_bytes()), data.as_bytes());
        let set = tree.interchanges[0].groups[0].transaction_sets[0].clone();
        (set, data)
    }

    /// The tree of a set as a compact outline: `TAG` or `loop(...)`.
    fn outline(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| match n {
                Node::Segment(s) => s.tag.clone(),
                Node::Loop(l) => format!("{}({})", l.loop_id, outline(&l.segments)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    const LOAD_TENDER: &str = "ST*204*0001~B2**SCAC**SH1**PP~B2A*00~N1*BT*BILL TO~N4*CHICAGO*IL*60601~\
        S5*1*CL~L11*PO1*PO~N1*SH*SHIPPER~N3*1 MAIN ST~L5*1*CHAIRS~AT8*G*L*100~\
        S5*2*CU~N1*CN*CONSIGNEE~N4*DALLAS*TX*75201~ZZZ*1~N1*XX*SECOND~\
        L3*100*N~SE*18*0001~";

    #[test]
    fn loops_nest_as_the_spec_gives_them() {
        let (set, _) = set_of(LOAD_TENDER, "004010");
        assert_eq!(
            outline(&set.segments),
            "ST B2 B2A 0100(N1 N4) \
             0300(S5 L11 0310(N1 N3) 0320(L5 AT8)) \
             0300(S5 0310(N1 N4 ZZZ) 0310(N1)) L3 SE"
        );
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(
            json["segments"][3],
            serde_json::json!({"loop": "0100", "segments": [
                {"tag": "N1", "elements": ["BT", "BILL TO"]},
                {"tag": "N4", "elements": ["CHICAGO", "IL", "60601"]},
            ]})
        );
        let back: SetNode = serde_json::from_value(json).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn without_a_spec_the_set_stays_flat() {
        for (body, version) in [
            (LOAD_TENDER, "009999"),
            (
                "ST*850*0001~BEG*00*SA*1**20240101~PO1*1*1*EA~SE*4*0001~",
                "004010",
            ),
        ] {
            let (set, _) = set_of(body, version);
            assert!(set.segments.iter().all(|n| matches!(n, Node::Segment(_))));
            assert!(set.segments.len() > 3);
        }
        // Bare data has no GS08, so no spec either.
        let data = LOAD_TENDER.as_bytes();
        let tree = to_tree(&parse(data), data);
        let set = &tree.interchanges[0].groups[0].transaction_sets[0];
        assert!(set.segments.iter().all(|n| matches!(n, Node::Segment(_))));
    }

    #[test]
    fn a_set_cut_short_keeps_its_last_segments_in_their_loop() {
        let (set, _) = set_of(
            "ST*214*0001~B10*1*2*SCAC~LX*1~AT7*X1*NS~MS1*CHICAGO*IL~LX*2~AT7*D1*NS~",
            "004010",
        );
        assert_eq!(
            outline(&set.segments),
            "ST B10 0200(LX 0205(AT7 MS1)) 0200(LX 0205(AT7))"
        );
    }

    #[test]
    fn nested_trees_write_the_same_x12() {
        use crate::x12::writer::{WriteOptions, write_tree};
        let (_, data) = set_of(LOAD_TENDER, "004010");
        let tree = to_tree(&parse(data.as_bytes()), data.as_bytes());
        let out = write_tree(&tree, &WriteOptions::default()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), data);
    }

    #[test]
    fn segments_and_elements_are_addressable() {
        let (set, _) = set_of(LOAD_TENDER, "004010");
        assert_eq!(set.find("B2").and_then(|s| s.text(4)), Some("SH1"));
        assert_eq!(set.value("B2/B204"), Some("SH1"));
        assert_eq!(set.value("0300/S5/S501"), Some("1"));
        assert_eq!(set.value("0300[1]/S5/S501"), Some("1"));
        assert_eq!(set.value("0300[2]/S5/S502"), Some("CU"));
        assert_eq!(set.value("0300[2]/0310/N1/N102"), Some("CONSIGNEE"));
        assert_eq!(set.value("0300[2]/0310[2]/N1/N102"), Some("SECOND"));
        assert_eq!(set.value("0300[2]/0310/ZZZ/ZZZ01"), Some("1"));
        assert_eq!(set.value("0300[1]/0320/AT8/AT803"), Some("100"));
        assert_eq!(set.find("0100/N4").map(|s| s.tag.as_str()), Some("N4"));
        let stop = set.find_loop("0300[2]").unwrap();
        assert_eq!(stop.value("0310[2]/N1/N101"), Some("XX"));
        assert_eq!(stop.find("S5").and_then(|s| s.text(1)), Some("2"));
        assert_eq!(
            set.find_loop("0300[2]/0310[2]").map(|l| l.segments.len()),
            Some(1)
        );
        // Nothing there, or not a valid address.
        for missing in [
            "0300[3]/S5/S501",
            "0300[0]/S5/S501",
            "0300[x]/S5/S501",
            "0300[2/S5/S501",
            "S5/S501",
            "0300/S5/N101",
            "0300/S5/S5001",
            "0300/S5/S5",
            "0300/S5/S599",
            "0300/S5",
            "",
            "/",
            "0300//S5/S501",
        ] {
            assert_eq!(set.value(missing), None, "{missing}");
        }
        assert!(set.find("N1").is_none(), "N1 is only inside loops");
        assert!(set.find("").is_none());
        assert!(set.find_loop("S5").is_none());

        let paths: Vec<(String, String)> = set
            .segments_with_paths()
            .map(|(p, s)| (p.to_string(), s.tag.clone()))
            .collect();
        assert_eq!(paths.len(), set.flat_segments().len());
        assert_eq!(paths[0], (String::new(), "ST".to_owned()));
        assert_eq!(paths[3], ("0100[1]".to_owned(), "N1".to_owned()));
        assert_eq!(paths[7], ("0300[1]/0310[1]".to_owned(), "N1".to_owned()));
        assert_eq!(paths[15], ("0300[2]/0310[2]".to_owned(), "N1".to_owned()));
        assert_eq!(paths[16], (String::new(), "L3".to_owned()));
        let (path, _) = set.segments_with_paths().nth(14).unwrap();
        assert_eq!(path.innermost(), Some("0310"));
        assert_eq!(
            path.0[0],
            LoopStep {
                loop_id: "0300".into(),
                instance: 2
            }
        );
    }

    #[test]
    fn element_references() {
        let s = SegmentNode {
            tag: "CLM".into(),
            elements: vec![
                Element::Simple("A1".into()),
                Element::Simple(String::new()),
                Element::Simple(String::new()),
                Element::Simple(String::new()),
                Element::Composite(vec!["11".into(), "B".into(), "1".into()]),
                Element::Repeated {
                    repeat: vec![Repetition::Simple("X".into())],
                },
            ],
        };
        assert_eq!(s.value("CLM01"), Some("A1"));
        assert_eq!(s.value("CLM01-1"), Some("A1"));
        assert_eq!(s.value("CLM01-2"), None);
        assert_eq!(s.value("CLM02"), Some(""));
        assert_eq!(s.value("CLM05"), None, "a composite is not one text");
        assert_eq!(s.value("CLM05-1"), Some("11"));
        assert_eq!(s.value("CLM05-3"), Some("1"));
        assert_eq!(s.value("CLM05-4"), None);
        assert_eq!(s.value("CLM05-0"), None);
        assert_eq!(s.value("CLM05-"), None);
        assert_eq!(s.value("CLM06"), None);
        assert_eq!(s.value("CLM07"), None);
        assert_eq!(s.value("CLM1"), None);
        assert_eq!(s.value("CLM001"), None);
        assert_eq!(s.value("CL01"), None);
        assert_eq!(s.value("N101"), None);
        assert!(matches!(
            s.element_by_ref("CLM06"),
            Some(Element::Repeated { .. })
        ));
        assert_eq!(s.element(0), None);
        assert_eq!(s.element(1), Some(&Element::Simple("A1".into())));
        // A tag that is a prefix of another: N10 has no element "N104".
        let n10 = SegmentNode::simple("N10", &["1", "2", "3", "4"]);
        assert_eq!(n10.value("N104"), None);
        assert_eq!(n10.value("N1004"), Some("4"));
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
