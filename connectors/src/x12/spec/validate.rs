//! The validator: a loop matcher over the compiled spec tree, and element checks.

use crate::x12::access::SegmentAccess;

use super::error::{ElementPosition, SpecError, SpecErrorCode};
use super::model::{CElem, CNode, CSeg, Compiled, ElemKind, Requirement, RuleKind, Tag};
use super::structure::LoopObserver;
use super::values::check_simple;

/// One open level of the structure: the transaction set itself, or one loop instance.
#[derive(Debug)]
struct Frame<'a> {
    children: &'a [usize],
    /// Index into `children` of the last matched child.
    pos: usize,
    /// Offset of this frame's per-child counters in the shared counter stack.
    counts_at: usize,
    /// `None` for the transaction-set level.
    loop_id: Option<&'a str>,
}

struct Walker<'a, 'e, O> {
    spec: &'a Compiled,
    frames: Vec<Frame<'a>>,
    counts: Vec<u32>,
    errors: &'e mut Vec<SpecError>,
    observer: &'e mut O,
}

pub(crate) fn validate<S: SegmentAccess>(spec: &Compiled, segments: &[S]) -> Vec<SpecError> {
    validate_observed(spec, segments, &mut ())
}

/// [`validate`], telling `observer` where each segment goes (see [`LoopObserver`]).
pub(crate) fn validate_observed<S: SegmentAccess, O: LoopObserver>(
    spec: &Compiled,
    segments: &[S],
    observer: &mut O,
) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let mut w = Walker {
        spec,
        frames: Vec::with_capacity(8),
        counts: Vec::with_capacity(64),
        errors: &mut errors,
        observer,
    };
    w.counts.resize(spec.root.len(), 0);
    w.frames.push(Frame {
        children: &spec.root,
        pos: 0,
        counts_at: 0,
        loop_id: None,
    });
    for (idx, seg) in segments.iter().enumerate() {
        w.segment(idx, seg);
        w.observer.segment(idx);
    }
    let last = segments.len().saturating_sub(1);
    while w.frames.len() > 1 {
        w.pop(last);
    }
    // Whatever is left at the top level (SE, when it never came).
    if let Some(top) = w.frames.first() {
        let from = top.pos;
        w.missing_between(0, from, usize::MAX, last);
    }
    errors
}

impl<'a, O: LoopObserver> Walker<'a, '_, O> {
    fn node(&self, i: usize) -> Option<&'a CNode> {
        self.spec.nodes.get(i)
    }

    fn bump(&mut self, depth: usize, child: usize) -> u32 {
        let Some(at) = self.frames.get(depth).map(|f| f.counts_at + child) else {
            return 0;
        };
        match self.counts.get_mut(at) {
            Some(c) => {
                *c = c.saturating_add(1);
                *c
            }
            None => 0,
        }
    }

    /// Loop ids of the frames `1..=depth`, joined with `/`.
    fn path(&self, depth: usize) -> String {
        let mut out = String::new();
        for f in self.frames.iter().take(depth + 1) {
            if let Some(id) = f.loop_id {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(id);
            }
        }
        out
    }

    fn segment<S: SegmentAccess>(&mut self, idx: usize, seg: &S) {
        let raw = seg.tag();
        let found = Tag::new(raw).and_then(|tag| self.find(tag));
        match found {
            Some((depth, child)) => {
                while self.frames.len() > depth + 1 {
                    self.pop(idx);
                }
                self.accept(idx, seg, raw, depth, child);
            }
            None => self.unmatched(idx, raw),
        }
    }

    /// Accepts segment `seg` as child `child` of the (innermost) frame `depth`.
    fn accept<S: SegmentAccess>(
        &mut self,
        idx: usize,
        seg: &S,
        tag: &[u8],
        depth: usize,
        child: usize,
    ) {
        let from = self.frames.get(depth).map_or(0, |f| f.pos);
        if from < child {
            self.missing_between(depth, from, child, idx);
        }
        if let Some(f) = self.frames.get_mut(depth) {
            f.pos = child;
        }
        let n = self.bump(depth, child);
        let node_index = self
            .frames
            .get(depth)
            .and_then(|f| f.children.get(child))
            .copied();
        match node_index.and_then(|i| self.node(i)) {
            Some(CNode::Segment {
                seg: def, max_use, ..
            }) => {
                // Reported once, at the first use over the maximum.
                if n == max_use.saturating_add(1) {
                    self.error(
                        idx,
                        tag,
                        depth,
                        SpecErrorCode::SegmentExceedsMaximumUse,
                        format!("segment occurs {n} times, maximum use is {max_use}"),
                    );
                }
                if let Some(def) = self.spec.segs.get(*def) {
                    self.elements(idx, seg, tag, def, depth);
                }
            }
            Some(CNode::Loop {
                id,
                repeat,
                trigger,
                children,
                ..
            }) => {
                let direct = trigger.is(tag);
                let at = self.counts.len();
                self.counts.resize(at + children.len(), 0);
                if direct && let Some(first) = self.counts.get_mut(at) {
                    *first = 1;
                }
                self.frames.push(Frame {
                    children,
                    pos: 0,
                    counts_at: at,
                    loop_id: Some(id),
                });
                self.observer.open_loop(id);
                let depth = depth + 1;
                // Reported once, at the first repeat over the maximum.
                if n == repeat.saturating_add(1) {
                    self.error(
                        idx,
                        tag,
                        depth,
                        SpecErrorCode::LoopOccursOverMaximumTimes,
                        format!("loop {id} occurs {n} times, maximum is {repeat}"),
                    );
                }
                if direct {
                    let first = children.first().and_then(|&i| self.node(i));
                    if let Some(CNode::Segment { seg: def, .. }) = first
                        && let Some(def) = self.spec.segs.get(*def)
                    {
                        self.elements(idx, seg, tag, def, depth);
                    }
                } else if let Some(c) = Tag::new(tag).and_then(|t| self.find_in(depth, t)) {
                    // Opened by a later member (`also_starts_with`): place the segment in
                    // the new loop, which may open nested loops the same way. Each step
                    // goes one level deeper in a finite tree, so this ends.
                    self.accept(idx, seg, tag, depth, c);
                }
            }
            None => {}
        }
    }

    /// The innermost open level (and child index) where `tag` can come next.
    fn find(&self, tag: Tag) -> Option<(usize, usize)> {
        (0..self.frames.len())
            .rev()
            .find_map(|depth| self.find_in(depth, tag).map(|child| (depth, child)))
    }

    /// The child of frame `depth` where `tag` can come next.
    fn find_in(&self, depth: usize, tag: Tag) -> Option<usize> {
        let f = self.frames.get(depth)?;
        // In a loop, child 0 is the loop's first segment: seeing it again starts a new
        // instance of the loop one level up.
        let start = if f.loop_id.is_some() {
            f.pos.max(1)
        } else {
            f.pos
        };
        f.children
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, n)| self.node(**n).is_some_and(|node| node.starts_with(tag)))
            .map(|(i, _)| i)
    }

    /// Closes the innermost loop instance, reporting its missing mandatory children.
    fn pop(&mut self, idx: usize) {
        let depth = self.frames.len().saturating_sub(1);
        if depth == 0 {
            return;
        }
        let from = self.frames.get(depth).map_or(0, |f| f.pos);
        self.missing_between(depth, from, usize::MAX, idx);
        if let Some(f) = self.frames.pop() {
            self.counts.truncate(f.counts_at);
            self.observer.close_loop();
        }
    }

    /// Reports mandatory children in `from..to` of frame `depth` that never occurred.
    fn missing_between(&mut self, depth: usize, from: usize, to: usize, idx: usize) {
        let Some((children, counts_at)) = self.frames.get(depth).map(|f| (f.children, f.counts_at))
        else {
            return;
        };
        let to = to.min(children.len());
        for child in from..to {
            if self.counts.get(counts_at + child).is_some_and(|&c| c > 0) {
                continue;
            }
            let Some(&n) = children.get(child) else {
                continue;
            };
            let Some(node) = self.node(n) else { continue };
            if node.req() != Requirement::M {
                continue;
            }
            let tag = node.start_tag();
            let mut path = self.path(depth);
            let message = match node {
                CNode::Loop { id, .. } => {
                    if !path.is_empty() {
                        path.push('/');
                    }
                    path.push_str(id);
                    format!(
                        "mandatory loop {id} (starting with {}) is missing",
                        String::from_utf8_lossy(tag.as_bytes())
                    )
                }
                CNode::Segment { .. } => "mandatory segment is missing".to_owned(),
            };
            self.errors.push(SpecError {
                segment_index: idx,
                segment_tag: String::from_utf8_lossy(tag.as_bytes()).into_owned(),
                loop_path: path,
                element: None,
                code: SpecErrorCode::MandatorySegmentMissing,
                message,
            });
        }
    }

    fn unmatched(&mut self, idx: usize, tag: &[u8]) {
        let depth = self.frames.len().saturating_sub(1);
        let (code, message) = if !plausible_tag(tag) {
            (
                SpecErrorCode::UnrecognizedSegmentId,
                "not a segment id".to_owned(),
            )
        } else if self
            .spec
            .tags
            .binary_search_by(|t| t.as_bytes().cmp(tag))
            .is_err()
        {
            (
                SpecErrorCode::SegmentNotInDefinedTransactionSet,
                "segment is not used in this transaction set".to_owned(),
            )
        } else if self.behind(tag) {
            (
                SpecErrorCode::SegmentNotInProperSequence,
                "segment comes after a position it must precede".to_owned(),
            )
        } else {
            (
                SpecErrorCode::UnexpectedSegment,
                "segment cannot occur here (outside the loop it belongs to)".to_owned(),
            )
        };
        self.error(idx, tag, depth, code, message);
    }

    /// Whether `tag` occurs (at any depth) in a child of an open level that is already
    /// behind: before the level's current position, or at it unless that child is the
    /// loop instance open one level deeper.
    fn behind(&self, tag: &[u8]) -> bool {
        let innermost = self.frames.len().saturating_sub(1);
        self.frames.iter().enumerate().any(|(depth, f)| {
            f.children
                .iter()
                .enumerate()
                .take(f.pos + 1)
                .any(|(i, &n)| {
                    let open_loop = i == f.pos
                        && depth < innermost
                        && matches!(self.node(n), Some(CNode::Loop { .. }));
                    !open_loop && self.contains(n, tag)
                })
        })
    }

    fn contains(&self, n: usize, tag: &[u8]) -> bool {
        match self.node(n) {
            Some(CNode::Segment { tag: t, .. }) => t.is(tag),
            Some(CNode::Loop { children, .. }) => children.iter().any(|&c| self.contains(c, tag)),
            None => false,
        }
    }

    fn error(
        &mut self,
        idx: usize,
        tag: &[u8],
        depth: usize,
        code: SpecErrorCode,
        message: String,
    ) {
        self.errors.push(SpecError {
            segment_index: idx,
            segment_tag: String::from_utf8_lossy(tag).into_owned(),
            loop_path: self.path(depth),
            element: None,
            code,
            message,
        });
    }

    // -----------------------------------------------------------------------------------
    // Elements

    fn elements<S: SegmentAccess>(
        &mut self,
        idx: usize,
        seg: &S,
        tag: &[u8],
        def: &CSeg,
        depth: usize,
    ) {
        if !O::CHECK_ELEMENTS {
            return;
        }
        let mut present: u64 = 0;
        let ctx = ElemCtx {
            idx,
            seg_tag: tag,
            depth,
            comp: seg.component_separator(),
            comp_in_numbers: matches!(seg.component_separator(), b'0'..=b'9' | b'.' | b'-' | b'E'),
            rep: seg.repetition_separator(),
        };
        // One pass over the segment's bytes, up to its last element (an open segment's
        // up to its last defined one).
        let mut values = seg.elements();
        let mut pos = 0usize;
        loop {
            pos += 1;
            if def.open && pos > def.elements.len() {
                break;
            }
            let Some(value) = values.next() else { break };
            let Ok(pos16) = u16::try_from(pos) else { break };
            match def.elements.get(pos - 1) {
                None => {
                    if !value.is_empty() && !def.open {
                        self.element_error(
                            &ctx,
                            ElementPosition {
                                element: pos16,
                                component: None,
                                repetition: None,
                                data_element: None,
                            },
                            SpecErrorCode::TooManyDataElements,
                            format!("segment defines {} elements", def.elements.len()),
                        );
                    }
                }
                Some(e) => {
                    if !value.is_empty() && pos < 64 {
                        present |= 1u64 << pos;
                    }
                    // The common case, a simple element that is fine, decided here;
                    // anything else (or any doubt) goes the full way, which reports.
                    if !value.is_empty()
                        && let ElemKind::Simple(s) = &e.kind
                        && !ctx.comp_in_numbers
                        && match ctx.rep {
                            None => true,
                            Some(r) => e.repeat == 1 && !value.contains(&r),
                        }
                        && check_simple(s, value, ctx.comp).is_none()
                    {
                        continue;
                    }
                    self.element(&ctx, e, pos16, value);
                }
            }
        }
        // Positions past the segment's last element are empty: only the mandatory ones
        // there are findings.
        let from = def.mandatory.partition_point(|&m| usize::from(m) < pos);
        for &m in def.mandatory.get(from..).unwrap_or_default() {
            if let Some(e) = def.elements.get(usize::from(m) - 1) {
                self.element(&ctx, e, m, b"");
            }
        }
        for rule in &def.rules {
            let is = |p: u16| p < 64 && present & (1u64 << p) != 0;
            let first = rule.positions.first().copied().unwrap_or(0);
            let rest = rule.positions.get(1..).unwrap_or(&[]);
            let report = |this: &mut Self, p: u16, code: SpecErrorCode, what: &str| {
                let de = def
                    .elements
                    .get(usize::from(p).saturating_sub(1))
                    .and_then(|e| e.de);
                this.element_error(
                    &ctx,
                    ElementPosition {
                        element: p,
                        component: None,
                        repetition: None,
                        data_element: de,
                    },
                    code,
                    format!("syntax rule {}: {what}", rule.text),
                );
            };
            match rule.kind {
                RuleKind::P => {
                    if rule.positions.iter().any(|&p| is(p)) {
                        for &p in &rule.positions {
                            if !is(p) {
                                report(
                                    self,
                                    p,
                                    SpecErrorCode::ConditionalRequiredDataElementMissing,
                                    "if any of these elements is present, all are required",
                                );
                            }
                        }
                    }
                }
                RuleKind::R => {
                    if !rule.positions.iter().any(|&p| is(p)) {
                        report(
                            self,
                            first,
                            SpecErrorCode::ConditionalRequiredDataElementMissing,
                            "at least one of these elements is required",
                        );
                    }
                }
                RuleKind::E => {
                    if let Some(&second) = rule.positions.iter().filter(|&&p| is(p)).nth(1) {
                        report(
                            self,
                            second,
                            SpecErrorCode::ExclusionConditionViolated,
                            "only one of these elements may be present",
                        );
                    }
                }
                RuleKind::C => {
                    if is(first) {
                        for &p in rest {
                            if !is(p) {
                                report(
                                    self,
                                    p,
                                    SpecErrorCode::ConditionalRequiredDataElementMissing,
                                    "required when the first element is present",
                                );
                            }
                        }
                    }
                }
                RuleKind::L => {
                    if is(first)
                        && !rest.iter().any(|&p| is(p))
                        && let Some(&p) = rest.first()
                    {
                        report(
                            self,
                            p,
                            SpecErrorCode::ConditionalRequiredDataElementMissing,
                            "one of the later elements is required when the first is present",
                        );
                    }
                }
            }
        }
    }

    #[inline]
    fn element(&mut self, ctx: &ElemCtx<'_>, e: &CElem, pos: u16, value: &[u8]) {
        let at =
            |repetition: Option<u16>, component: Option<u16>, de: Option<u16>| ElementPosition {
                element: pos,
                component,
                repetition,
                data_element: de,
            };
        if value.is_empty() {
            if e.req == Requirement::M {
                self.element_error(
                    ctx,
                    at(None, None, e.de),
                    SpecErrorCode::MandatoryDataElementMissing,
                    format!("{} is mandatory", e.reference),
                );
            }
            return;
        }
        match ctx.rep {
            Some(rep) if e.repeat > 1 => {
                let mut n: u32 = 0;
                for part in value.split(|&b| b == rep) {
                    n += 1;
                    let r = u16::try_from(n).ok();
                    if n > e.repeat {
                        self.element_error(
                            ctx,
                            at(r, None, e.de),
                            SpecErrorCode::TooManyRepetitions,
                            format!("{} repeats at most {} times", e.reference, e.repeat),
                        );
                        break;
                    }
                    if !part.is_empty() {
                        self.one(ctx, e, pos, r, part);
                    }
                }
            }
            _ => self.one(ctx, e, pos, None, value),
        }
    }

    /// One repetition of an element.
    #[inline]
    fn one(&mut self, ctx: &ElemCtx<'_>, e: &CElem, pos: u16, rep: Option<u16>, value: &[u8]) {
        let at = |component: Option<u16>, de: Option<u16>| ElementPosition {
            element: pos,
            component,
            repetition: rep,
            data_element: de,
        };
        if let Some(r) = ctx.rep
            && e.repeat == 1
            && value.contains(&r)
        {
            self.element_error(
                ctx,
                at(None, e.de),
                SpecErrorCode::InvalidCharacterInDataElement,
                format!(
                    "{} does not repeat but contains the repetition separator",
                    e.reference
                ),
            );
            return;
        }
        match &e.kind {
            ElemKind::Simple(s) => {
                // One pass in the common case: `check_simple` rejects the component
                // separator as an invalid character (AN/ID) or a non-digit (the others);
                // the slower check below only names the cause.
                let code = check_simple(s, value, ctx.comp);
                let separator = match code {
                    Some(_) => value.contains(&ctx.comp),
                    None => ctx.comp_in_numbers && value.contains(&ctx.comp),
                };
                if separator {
                    self.element_error(
                        ctx,
                        at(None, e.de),
                        SpecErrorCode::InvalidCharacterInDataElement,
                        format!(
                            "{} is not a composite but contains the component separator",
                            e.reference
                        ),
                    );
                } else if let Some(code) = code {
                    self.value_error(ctx, at(None, e.de), code, &e.reference, value, s.min, s.max);
                }
            }
            ElemKind::Composite(components) => {
                let mut parts = value.split(|&b| b == ctx.comp);
                for (ci, c) in components.iter().enumerate() {
                    let part = parts.next().unwrap_or_default();
                    let cpos = u16::try_from(ci + 1).ok();
                    if part.is_empty() {
                        if c.req == Requirement::M {
                            self.element_error(
                                ctx,
                                at(cpos, c.de),
                                SpecErrorCode::MandatoryDataElementMissing,
                                format!("{} is mandatory", c.reference),
                            );
                        }
                        continue;
                    }
                    if let ElemKind::Simple(s) = &c.kind
                        && let Some(code) = check_simple(s, part, ctx.comp)
                    {
                        self.value_error(
                            ctx,
                            at(cpos, c.de),
                            code,
                            &c.reference,
                            part,
                            s.min,
                            s.max,
                        );
                    }
                }
                // Extra components; trailing empty ones are tolerated.
                if let Some((extra, _)) = parts.enumerate().find(|(_, p)| !p.is_empty()) {
                    let cpos = u16::try_from(components.len() + extra + 1).ok();
                    self.element_error(
                        ctx,
                        at(cpos, None),
                        SpecErrorCode::TooManyComponents,
                        format!("{} has {} components", e.reference, components.len()),
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn value_error(
        &mut self,
        ctx: &ElemCtx<'_>,
        at: ElementPosition,
        code: SpecErrorCode,
        reference: &str,
        value: &[u8],
        min: u32,
        max: u32,
    ) {
        let v = String::from_utf8_lossy(value);
        let message = match code {
            SpecErrorCode::DataElementTooShort | SpecErrorCode::DataElementTooLong => {
                format!("{reference} {v:?}: length must be {min} to {max}")
            }
            SpecErrorCode::InvalidCodeValue => format!("{reference} {v:?}: not a valid code"),
            SpecErrorCode::InvalidDate => format!("{reference} {v:?}: not a valid date"),
            SpecErrorCode::InvalidTime => format!("{reference} {v:?}: not a valid time"),
            _ => format!("{reference} {v:?}: invalid character for its type"),
        };
        self.element_error(ctx, at, code, message);
    }

    fn element_error(
        &mut self,
        ctx: &ElemCtx<'_>,
        at: ElementPosition,
        code: SpecErrorCode,
        message: String,
    ) {
        self.errors.push(SpecError {
            segment_index: ctx.idx,
            segment_tag: String::from_utf8_lossy(ctx.seg_tag).into_owned(),
            loop_path: self.path(ctx.depth),
            element: Some(at),
            code,
            message,
        });
    }
}

struct ElemCtx<'s> {
    idx: usize,
    seg_tag: &'s [u8],
    depth: usize,
    comp: u8,
    /// The component separator is a character numbers use (digit, point, minus, `E`).
    comp_in_numbers: bool,
    rep: Option<u8>,
}

/// A segment id is 2 or 3 upper-case letters or digits, starting with a letter.
fn plausible_tag(tag: &[u8]) -> bool {
    matches!(tag.len(), 2 | 3)
        && tag.first().is_some_and(u8::is_ascii_uppercase)
        && tag
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
