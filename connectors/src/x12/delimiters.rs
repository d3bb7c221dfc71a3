//! Delimiters of an interchange and their detection from the ISA segment.
//!
//! The element separator is the byte right after `ISA`; the component (sub-element)
//! separator is ISA16, the single byte after the 16th element separator; the segment
//! terminator is the byte after ISA16. From version 00402 on, ISA11 holds the repetition
//! separator when it is not alphanumeric.

use serde::{Deserialize, Serialize};

/// The separators of one interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Delimiters {
    /// Separates elements (byte 3 of the ISA).
    #[serde(with = "byte_char")]
    pub element: u8,
    /// Separates the components of a composite element (ISA16).
    #[serde(with = "byte_char")]
    pub component: u8,
    /// Ends a segment (the byte after ISA16).
    #[serde(with = "byte_char")]
    pub segment: u8,
    /// Separates repetitions of an element (ISA11 from 00402 on), if any.
    #[serde(with = "opt_byte_char", default)]
    pub repetition: Option<u8>,
}

/// The component separator used for data without an ISA (bare ST..SE): the ASCII unit
/// separator, which never occurs in real data, so nothing is split as a composite.
pub const UNKNOWN_COMPONENT: u8 = 0x1F;

/// Length of a fixed-width ISA segment, terminator excluded (106 with it).
pub const ISA_FIXED_LEN: usize = 105;

/// How far a non-fixed-width ISA is searched for its 16 element separators.
const ISA_MAX_LEN: usize = 512;

impl Default for Delimiters {
    fn default() -> Self {
        Self {
            element: b'*',
            component: b':',
            segment: b'~',
            repetition: Some(b'^'),
        }
    }
}

impl Delimiters {
    /// Checks that the separators are usable: pairwise distinct and not alphanumeric.
    pub fn check(&self) -> Result<(), DelimiterError> {
        if self.element.is_ascii_alphanumeric() || self.element == b' ' {
            return Err(DelimiterError::Element(self.element));
        }
        if self.segment.is_ascii_alphanumeric()
            || self.segment == self.element
            || self.segment == b' '
        {
            return Err(DelimiterError::Segment(self.segment));
        }
        if self.component.is_ascii_alphanumeric()
            || self.component == self.element
            || self.component == self.segment
        {
            return Err(DelimiterError::Component(self.component));
        }
        if let Some(r) = self.repetition
            && (r.is_ascii_alphanumeric()
                || r == self.element
                || r == self.segment
                || r == self.component)
        {
            return Err(DelimiterError::Repetition(r));
        }
        Ok(())
    }

    /// True when `b` is one of the separators.
    pub fn is_delimiter(&self, b: u8) -> bool {
        b == self.element || b == self.component || b == self.segment || Some(b) == self.repetition
    }
}

/// Why the delimiters of an ISA could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DelimiterError {
    /// The data ends before the ISA's 16 elements and its terminator.
    #[error("the ISA segment is truncated")]
    Truncated,
    /// The ISA has no 16 element separators within its first bytes.
    #[error("the ISA segment does not have 16 elements")]
    Malformed,
    /// The element separator is unusable.
    #[error("invalid element separator {0:#04x}")]
    Element(u8),
    /// The component separator (ISA16) is unusable.
    #[error("invalid component separator {0:#04x}")]
    Component(u8),
    /// The segment terminator is unusable.
    #[error("invalid segment terminator {0:#04x}")]
    Segment(u8),
    /// The repetition separator (ISA11) is unusable.
    #[error("invalid repetition separator {0:#04x}")]
    Repetition(u8),
}

/// The layout of one ISA segment as found in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsaLayout {
    /// The delimiters the ISA declares.
    pub delimiters: Delimiters,
    /// Length of the ISA segment in bytes, terminator excluded (105 when fixed width).
    pub len: usize,
    /// Whether the ISA has the standard fixed width of 106 bytes with its terminator.
    pub fixed_width: bool,
}

/// Detects the delimiters from data that starts with `ISA`.
///
/// Returns [`DelimiterError::Truncated`] when `data` ends before the terminator: a
/// streaming caller reads more and tries again.
pub fn detect(data: &[u8]) -> Result<IsaLayout, DelimiterError> {
    if !data.starts_with(b"ISA") {
        return Err(DelimiterError::Malformed);
    }
    let element = *data.get(3).ok_or(DelimiterError::Truncated)?;
    if element.is_ascii_alphanumeric() || element == b' ' || element == b'\r' || element == b'\n' {
        return Err(DelimiterError::Element(element));
    }
    // Positions of the element separators, up to the 16th.
    let window = data.get(3..data.len().min(ISA_MAX_LEN)).unwrap_or_default();
    let mut seps = [0usize; 16];
    let mut found = 0usize;
    for rel in memchr::memchr_iter(element, window) {
        if let Some(slot) = seps.get_mut(found) {
            *slot = rel + 3;
        }
        found += 1;
        if found == 16 {
            break;
        }
    }
    if found < 16 {
        return Err(if data.len() < ISA_MAX_LEN {
            DelimiterError::Truncated
        } else {
            DelimiterError::Malformed
        });
    }
    let last = seps[15];
    let component = *data.get(last + 1).ok_or(DelimiterError::Truncated)?;
    let segment = *data.get(last + 2).ok_or(DelimiterError::Truncated)?;
    // ISA11 lies between the 10th and 11th separators; ISA12 between the 11th and 12th.
    let isa11 = data.get(seps[10] + 1..seps[11]).unwrap_or_default();
    let isa12 = data.get(seps[11] + 1..seps[12]).unwrap_or_default();
    let repetition = match isa11 {
        [r] if !r.is_ascii_alphanumeric() && isa12 >= b"00402".as_slice() && isa12.len() == 5 => {
            Some(*r)
        }
        _ => None,
    };
    let delimiters = Delimiters {
        element,
        component,
        segment,
        repetition,
    };
    delimiters.check()?;
    let len = last + 2;
    Ok(IsaLayout {
        delimiters,
        len,
        fixed_width: len == ISA_FIXED_LEN,
    })
}

/// Detects delimiters of data without an ISA (bare `ST..SE` segments): the element
/// separator is the byte after the first tag, the terminator the first byte that is
/// followed (after optional CR/LF) by another tag and element separator.
pub fn detect_bare(data: &[u8]) -> Option<Delimiters> {
    let tag_len = data
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if !(2..=3).contains(&tag_len) {
        return None;
    }
    let element = *data.get(tag_len)?;
    if element.is_ascii_alphanumeric() || element.is_ascii_whitespace() {
        return None;
    }
    let rest = data.get(tag_len + 1..)?;
    for (i, &b) in rest.iter().enumerate() {
        if b.is_ascii_alphanumeric() || b == element || b == b' ' {
            continue;
        }
        let mut j = i + 1;
        while matches!(rest.get(j), Some(b'\r' | b'\n')) {
            j += 1;
        }
        let next = rest.get(j..).unwrap_or_default();
        let next_tag = next
            .iter()
            .take(4)
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .count();
        if (2..=3).contains(&next_tag) && next.get(next_tag) == Some(&element) {
            let d = Delimiters {
                element,
                component: UNKNOWN_COMPONENT,
                segment: b,
                repetition: None,
            };
            return d.check().is_ok().then_some(d);
        }
    }
    None
}

mod byte_char {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(b: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(char::from(*b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let c = char::deserialize(d)?;
        u8::try_from(u32::from(c))
            .map_err(|_| D::Error::custom("a delimiter must be a single byte (U+0000..U+00FF)"))
    }
}

mod opt_byte_char {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[allow(clippy::ref_option, reason = "serde's `with` passes a reference")]
    pub(super) fn serialize<S: Serializer>(b: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&char::from(*b)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        Option::<char>::deserialize(d)?
            .map(|c| {
                u8::try_from(u32::from(c)).map_err(|_| {
                    D::Error::custom("a delimiter must be a single byte (U+0000..U+00FF)")
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &[u8] = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*^*00501*000011111*0*P*:~";

    #[test]
    fn fixed_width_isa_with_repetition() {
        let l = detect(ISA).unwrap();
        assert_eq!(l.len, 105);
        assert!(l.fixed_width);
        assert_eq!(
            l.delimiters,
            Delimiters {
                element: b'*',
                component: b':',
                segment: b'~',
                repetition: Some(b'^')
            }
        );
    }

    #[test]
    fn no_repetition_before_00402() {
        let isa = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00401*000011111*0*P*>~";
        let l = detect(isa).unwrap();
        assert_eq!(l.delimiters.repetition, None);
        assert_eq!(l.delimiters.component, b'>');
    }

    #[test]
    fn non_fixed_width_and_truncated() {
        let isa = b"ISA*00*0*00*0*ZZ*S*ZZ*R*240131*1100*U*00401*1*0*P*>\r\n";
        let l = detect(isa).unwrap();
        assert!(!l.fixed_width);
        assert_eq!(l.delimiters.segment, b'\r');
        assert_eq!(detect(&ISA[..60]), Err(DelimiterError::Truncated));
        assert_eq!(detect(&ISA[..105]), Err(DelimiterError::Truncated));
    }

    #[test]
    fn same_delimiters_rejected() {
        let isa = b"ISA 00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240131*1100*U*00000*000011111*0*P*`~";
        assert!(matches!(detect(isa), Err(DelimiterError::Element(b' '))));
    }

    #[test]
    fn bare_detection() {
        let d = detect_bare(b"ST*997*0001~\nAK1*FA*1~").unwrap();
        assert_eq!((d.element, d.segment), (b'*', b'~'));
        assert_eq!(detect_bare(b"hello world"), None);
    }
}
