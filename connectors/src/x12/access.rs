//! The seam between the tokenizer and the transaction-set validator.
//!
//! The validator in [`crate::x12::spec`] reads segments only through this trait, so it does
//! not depend on how the tokenizer stores them.

/// Read access to one parsed segment.
pub trait SegmentAccess {
    /// The segment tag, e.g. `b"N1"`.
    fn tag(&self) -> &[u8];
    /// Number of elements after the tag, trailing empty ones included as sent.
    fn element_count(&self) -> usize;
    /// Element at 1-based position `pos` (N101 is position 1), raw bytes without the
    /// element separator; composites and repetitions still contain their separators.
    /// `None` when the segment has fewer elements.
    fn element(&self, pos: usize) -> Option<&[u8]>;
    /// Every element after the tag, in order: what `element(1..=element_count())` gives,
    /// in one pass. Implementations whose `element` has to scan should override it.
    fn elements(&self) -> impl Iterator<Item = &[u8]> {
        (1..=self.element_count()).map(|pos| self.element(pos).unwrap_or_default())
    }
    /// The component (sub-element) separator of the interchange (ISA16).
    fn component_separator(&self) -> u8;
    /// The repetition separator of the interchange (ISA11 from 00402 on), if any.
    fn repetition_separator(&self) -> Option<u8>;
}
