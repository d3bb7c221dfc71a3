//! The spec format (serde types, see `schemas/x12/README.md`) and its compiled form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::SpecLoadError;

/// Usage of a segment, loop, element or component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Requirement {
    /// Mandatory.
    M,
    /// Optional.
    O,
    /// Relational: governed by the segment's syntax rules (treated as optional otherwise).
    X,
}

/// A code list for an `ID` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    /// `true` when `values` is only a sample of the standard list: unknown codes pass.
    #[serde(default)]
    pub open: bool,
    /// Code -> description.
    pub values: BTreeMap<String, String>,
}

/// One element (or component) of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementDef {
    /// Reference designator, e.g. `"B201"` (for components `"AK401-1"`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// Data element number (e.g. 375); absent for a composite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<u16>,
    /// Composite id (e.g. `"C030"`); present only for a composite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite: Option<String>,
    /// Name.
    pub name: String,
    /// M, O or X.
    pub req: Requirement,
    /// `AN`, `ID`, `N0`..`N9`, `R`, `DT`, `TM`, `B`; absent for a composite.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Minimum length (simple elements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Maximum length (simple elements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Maximum repetitions (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Codes of an `ID` element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<CodeList>,
    /// Components of a composite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ElementDef>>,
}

/// A segment of the set's segment dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    /// Name.
    pub name: String,
    /// Elements in order.
    pub elements: Vec<ElementDef>,
    /// Syntax notes such as `"P0102"`, `"R0203"`, `"C0302"`, `"E0102"`, `"L010203"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syntax: Vec<String>,
    /// `true` when `elements` lists only the leading elements: further elements are
    /// accepted unchecked instead of being reported as too many.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
}

/// A position in the set's structure: a segment or a loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum StructureNode {
    /// A segment use.
    Segment {
        /// Segment tag; must be a key of the segment dictionary.
        segment: String,
        /// M or O.
        req: Requirement,
        /// Maximum use.
        max_use: u32,
    },
    /// A loop; its first entry must be a segment (the loop's trigger).
    Loop {
        /// Loop id, e.g. `"0300"`.
        #[serde(rename = "loop")]
        id: String,
        /// M or O.
        req: Requirement,
        /// Maximum repeat.
        repeat: u32,
        /// Contents.
        body: Vec<StructureNode>,
        /// Tags of segments nested in this loop that may open it when its first segment
        /// is absent (real partners send e.g. a 204 LH1 without the L5 and G61 that
        /// should precede it). The loop and any loops in between are opened implicitly.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_starts_with: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpec {
    pub(crate) version: String,
    pub(crate) set_id: String,
    pub(crate) functional_group: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) notes: Vec<String>,
    pub(crate) segments: BTreeMap<String, SegmentDef>,
    pub(crate) structure: Vec<StructureNode>,
}

// ---------------------------------------------------------------------------------------
// Compiled form, used by the validator.

/// A segment tag of 1 to 3 bytes, also packed into an integer so that comparisons need
/// no `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tag {
    key: u32,
    bytes: [u8; 3],
}

impl Tag {
    pub(crate) fn new(s: &[u8]) -> Option<Self> {
        let (bytes, len) = match *s {
            [a] => ([a, 0, 0], 1),
            [a, b] => ([a, b, 0], 2),
            [a, b, c] => ([a, b, c], 3),
            _ => return None,
        };
        let [a, b, c] = bytes;
        Some(Self {
            key: u32::from_be_bytes([a, b, c, len]),
            bytes,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        let [.., len] = self.key.to_be_bytes();
        self.bytes.get(..usize::from(len)).unwrap_or(&[])
    }

    pub(crate) fn is(&self, other: &[u8]) -> bool {
        Tag::new(other).is_some_and(|t| t.key == self.key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataType {
    An,
    Id,
    N(u8),
    R,
    Dt,
    Tm,
    B,
}

impl DataType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AN" => Self::An,
            "ID" => Self::Id,
            "R" => Self::R,
            "DT" => Self::Dt,
            "TM" => Self::Tm,
            "B" => Self::B,
            _ => {
                let digits = s.strip_prefix('N')?;
                let d: u8 = digits.parse().ok()?;
                if d > 9 {
                    return None;
                }
                Self::N(d)
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    /// Paired: if any is present, all are required.
    P,
    /// Required: at least one is required.
    R,
    /// Exclusion: not more than one may be present.
    E,
    /// Conditional: if the first is present, all others are required.
    C,
    /// List conditional: if the first is present, at least one of the others is required.
    L,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) kind: RuleKind,
    /// 1-based element positions.
    pub(crate) positions: Vec<u16>,
    pub(crate) text: String,
}

/// A set of codes: those of up to 7 bytes packed into sorted integers (no `memcmp` on
/// lookup), longer ones as sorted byte strings.
#[derive(Debug, Default)]
pub(crate) struct CodeSet {
    short: Vec<u64>,
    long: Vec<Box<[u8]>>,
}

impl CodeSet {
    fn pack(code: &[u8]) -> Option<u64> {
        if code.len() > 7 {
            return None;
        }
        let mut key = 0u64;
        for &b in code {
            key = (key << 8) | u64::from(b);
        }
        // The length disambiguates codes with leading NUL bytes (never valid, but exact).
        Some((key << 8) | u64::try_from(code.len()).ok()?)
    }

    pub(crate) fn insert(&mut self, code: &[u8]) {
        match Self::pack(code) {
            Some(k) => self.short.push(k),
            None => self.long.push(code.into()),
        }
    }

    pub(crate) fn finish(&mut self) {
        self.short.sort_unstable();
        self.long.sort();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    pub(crate) fn contains(&self, code: &[u8]) -> bool {
        match Self::pack(code) {
            Some(k) => self.short.binary_search(&k).is_ok(),
            None => self.long.binary_search_by(|c| c.as_ref().cmp(code)).is_ok(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct SimpleElem {
    pub(crate) data_type: DataType,
    pub(crate) min: u32,
    pub(crate) max: u32,
    /// The code list; empty when there is none.
    pub(crate) codes: CodeSet,
    pub(crate) open: bool,
}

#[derive(Debug)]
pub(crate) enum ElemKind {
    Simple(SimpleElem),
    Composite(Vec<CElem>),
}

#[derive(Debug)]
pub(crate) struct CElem {
    pub(crate) reference: String,
    pub(crate) de: Option<u16>,
    pub(crate) req: Requirement,
    pub(crate) repeat: u32,
    pub(crate) kind: ElemKind,
}

#[derive(Debug)]
pub(crate) struct CSeg {
    pub(crate) open: bool,
    pub(crate) elements: Vec<CElem>,
    /// 1-based positions of the mandatory elements, ascending: the only ones to look at
    /// after the last element a segment sends.
    pub(crate) mandatory: Vec<u16>,
    pub(crate) rules: Vec<Rule>,
}

#[derive(Debug)]
pub(crate) enum CNode {
    Segment {
        seg: usize,
        tag: Tag,
        req: Requirement,
        max_use: u32,
    },
    Loop {
        id: String,
        req: Requirement,
        repeat: u32,
        trigger: Tag,
        alt: Vec<Tag>,
        children: Vec<usize>,
    },
}

impl CNode {
    /// The tag that starts this node: the segment's own, or the loop's first segment's.
    pub(crate) fn start_tag(&self) -> Tag {
        match self {
            Self::Segment { tag, .. } => *tag,
            Self::Loop { trigger, .. } => *trigger,
        }
    }

    /// Whether a segment with `tag` can start this node.
    pub(crate) fn starts_with(&self, tag: Tag) -> bool {
        match self {
            Self::Segment { tag: t, .. } => *t == tag,
            Self::Loop { trigger, alt, .. } => *trigger == tag || alt.contains(&tag),
        }
    }

    pub(crate) fn req(&self) -> Requirement {
        match self {
            Self::Segment { req, .. } | Self::Loop { req, .. } => *req,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub(crate) segs: Vec<CSeg>,
    pub(crate) nodes: Vec<CNode>,
    pub(crate) root: Vec<usize>,
    /// Sorted tags used anywhere in the set.
    pub(crate) tags: Vec<Tag>,
}

impl Compiled {
    pub(crate) fn build(name: &str, raw: &RawSpec) -> Result<Self, SpecLoadError> {
        let invalid = |problem: String| SpecLoadError::Invalid {
            name: name.to_owned(),
            problem,
        };
        let mut out = Self::default();
        let mut seg_index = BTreeMap::new();
        for (tag, def) in &raw.segments {
            let t = Tag::new(tag.as_bytes()).ok_or_else(|| invalid(format!("bad tag {tag:?}")))?;
            let elements = def
                .elements
                .iter()
                .map(|e| compile_elem(e, false))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|p| invalid(format!("segment {tag}: {p}")))?;
            let rules = def
                .syntax
                .iter()
                .map(|r| parse_rule(r, elements.len()))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|p| invalid(format!("segment {tag}: {p}")))?;
            let mandatory = elements
                .iter()
                .enumerate()
                .filter(|(_, e)| e.req == Requirement::M)
                .map(|(i, _)| u16::try_from(i + 1))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| invalid(format!("segment {tag}: too many elements")))?;
            seg_index.insert(tag.clone(), out.segs.len());
            out.segs.push(CSeg {
                open: def.open,
                elements,
                mandatory,
                rules,
            });
            out.tags.push(t);
        }
        out.tags.sort();
        let mut root = Vec::with_capacity(raw.structure.len());
        for node in &raw.structure {
            root.push(compile_node(node, &seg_index, &mut out.nodes).map_err(invalid)?);
        }
        out.root = root;
        // Every dictionary segment should be used, and ST first / SE last.
        let first = out.root.first().and_then(|&i| out.nodes.get(i));
        let last = out.root.last().and_then(|&i| out.nodes.get(i));
        if !matches!(first, Some(CNode::Segment { tag, .. }) if tag.is(b"ST"))
            || !matches!(last, Some(CNode::Segment { tag, .. }) if tag.is(b"SE"))
        {
            return Err(invalid(
                "structure must start with ST and end with SE".to_owned(),
            ));
        }
        Ok(out)
    }
}

fn compile_node(
    node: &StructureNode,
    seg_index: &BTreeMap<String, usize>,
    nodes: &mut Vec<CNode>,
) -> Result<usize, String> {
    let compiled = match node {
        StructureNode::Segment {
            segment,
            req,
            max_use,
        } => {
            let seg = *seg_index.get(segment).ok_or_else(|| {
                format!("structure uses {segment}, not in the segment dictionary")
            })?;
            let tag = Tag::new(segment.as_bytes()).ok_or_else(|| format!("bad tag {segment:?}"))?;
            if *max_use == 0 {
                return Err(format!("{segment}: max_use 0"));
            }
            CNode::Segment {
                seg,
                tag,
                req: *req,
                max_use: *max_use,
            }
        }
        StructureNode::Loop {
            id,
            req,
            repeat,
            body,
            also_starts_with,
        } => {
            let trigger = match body.first() {
                Some(StructureNode::Segment { segment, .. }) => {
                    Tag::new(segment.as_bytes()).ok_or_else(|| format!("bad tag {segment:?}"))?
                }
                _ => return Err(format!("loop {id} must start with a segment")),
            };
            if *repeat == 0 {
                return Err(format!("loop {id}: repeat 0"));
            }
            let mut children = Vec::with_capacity(body.len());
            for child in body {
                children.push(compile_node(child, seg_index, nodes)?);
            }
            let mut alt = Vec::with_capacity(also_starts_with.len());
            for a in also_starts_with {
                let t = Tag::new(a.as_bytes()).ok_or_else(|| format!("bad tag {a:?}"))?;
                // Must be reachable inside the loop after its first segment, else the
                // implicit opening could not place it.
                let reachable = children
                    .iter()
                    .skip(1)
                    .any(|&c| nodes.get(c).is_some_and(|n| n.starts_with(t)));
                if !reachable {
                    return Err(format!(
                        "loop {id}: also_starts_with {a} is not a later member"
                    ));
                }
                alt.push(t);
            }
            CNode::Loop {
                id: id.clone(),
                req: *req,
                repeat: *repeat,
                trigger,
                alt,
                children,
            }
        }
    };
    nodes.push(compiled);
    Ok(nodes.len() - 1)
}

fn compile_elem(e: &ElementDef, in_composite: bool) -> Result<CElem, String> {
    let r = &e.reference;
    let kind = match (&e.components, &e.data_type) {
        (Some(components), None) => {
            if in_composite {
                return Err(format!("{r}: composite inside a composite"));
            }
            if components.is_empty() {
                return Err(format!("{r}: composite without components"));
            }
            ElemKind::Composite(
                components
                    .iter()
                    .map(|c| compile_elem(c, true))
                    .collect::<Result<_, _>>()?,
            )
        }
        (None, Some(t)) => {
            let data_type = DataType::parse(t).ok_or_else(|| format!("{r}: bad type {t:?}"))?;
            let (min, max) = match (e.min, e.max) {
                (Some(min), Some(max)) if min >= 1 && min <= max => (min, max),
                _ => return Err(format!("{r}: needs 1 <= min <= max")),
            };
            let mut codes = CodeSet::default();
            let mut open = false;
            if let Some(list) = &e.codes {
                if data_type != DataType::Id {
                    return Err(format!("{r}: codes on a non-ID element"));
                }
                open = list.open;
                for code in list.values.keys() {
                    let len = u32::try_from(code.len()).unwrap_or(u32::MAX);
                    if len < min || len > max {
                        return Err(format!("{r}: code {code:?} violates length {min}/{max}"));
                    }
                    codes.insert(code.as_bytes());
                }
                codes.finish();
            }
            ElemKind::Simple(SimpleElem {
                data_type,
                min,
                max,
                codes,
                open,
            })
        }
        _ => return Err(format!("{r}: needs either type or components")),
    };
    let repeat = e.repeat.unwrap_or(1);
    if repeat == 0 {
        return Err(format!("{r}: repeat 0"));
    }
    Ok(CElem {
        reference: e.reference.clone(),
        de: e.de,
        req: e.req,
        repeat,
        kind,
    })
}

fn parse_rule(text: &str, element_count: usize) -> Result<Rule, String> {
    let mut chars = text.chars();
    let kind = match chars.next() {
        Some('P') => RuleKind::P,
        Some('R') => RuleKind::R,
        Some('E') => RuleKind::E,
        Some('C') => RuleKind::C,
        Some('L') => RuleKind::L,
        _ => return Err(format!("bad syntax rule {text:?}")),
    };
    let digits = chars.as_str();
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("bad syntax rule {text:?}"));
    }
    let mut positions = Vec::new();
    let bytes = digits.as_bytes();
    for pair in bytes.chunks(2) {
        let s = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
        let p: u16 = s.parse().map_err(|_| format!("bad syntax rule {text:?}"))?;
        if p == 0 || usize::from(p) > element_count {
            return Err(format!(
                "syntax rule {text:?} names element {p} of {element_count}"
            ));
        }
        positions.push(p);
    }
    if positions.len() < 2 {
        return Err(format!("syntax rule {text:?} needs two positions"));
    }
    Ok(Rule {
        kind,
        positions,
        text: text.to_owned(),
    })
}
