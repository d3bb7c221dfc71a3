//! Observing the loop structure the validator finds while it walks a transaction set.

/// Told, in order, how the validator's walk places the segments of one transaction set
/// (ST..SE) into loop instances; see [`TransactionSpec::validate_observed`].
///
/// For each segment the calls are: [`close_loop`](Self::close_loop) once per loop
/// instance that ends before it (innermost first), [`open_loop`](Self::open_loop) once per
/// loop instance it starts (outermost first; a segment can open nested loops at once), then
/// [`segment`](Self::segment) with its index. The segment belongs to the innermost loop
/// instance open at that point (the transaction set itself when none is). A segment the
/// walker cannot place (unknown, out of sequence) opens and closes nothing, so it stays at
/// the innermost open level. After the last segment, the instances still open close.
///
/// Every method does nothing by default; plain validation uses `()`, whose calls compile
/// away.
///
/// [`TransactionSpec::validate_observed`]: super::TransactionSpec::validate_observed
pub trait LoopObserver {
    /// Whether the walk checks elements too. An observer that only wants the structure sets
    /// this to `false`; the walk then reports structural findings only.
    const CHECK_ELEMENTS: bool = true;

    /// A new instance of loop `id` opens inside the innermost open level.
    #[inline]
    fn open_loop(&mut self, id: &str) {
        let _ = id;
    }

    /// The innermost open loop instance closes.
    #[inline]
    fn close_loop(&mut self) {}

    /// Segment `index` (0-based in ST..SE) goes into the innermost open level.
    #[inline]
    fn segment(&mut self, index: usize) {
        let _ = index;
    }
}

/// No observer: validation only.
impl LoopObserver for () {}
