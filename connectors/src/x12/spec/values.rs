//! Checks of one simple element value against its type, length and code list.

use super::error::SpecErrorCode;
#[cfg(test)]
use super::model::CodeSet;
use super::model::{DataType, SimpleElem};

/// Checks `v` (non-empty, one repetition, one component) against `e`; `sep` (the
/// component separator) is an invalid character in it.
#[inline(always)]
pub(crate) fn check_simple(e: &SimpleElem, v: &[u8], sep: u8) -> Option<SpecErrorCode> {
    let len = match e.data_type {
        DataType::An | DataType::Id => match text_chars(v, sep) {
            Some(n) => n,
            None => return Some(SpecErrorCode::InvalidCharacterInDataElement),
        },
        DataType::N(_) => match numeric_digits(v) {
            Some(n) => n,
            None => return Some(SpecErrorCode::InvalidCharacterInDataElement),
        },
        DataType::R => match decimal_digits(v) {
            Some(n) => n,
            None => return Some(SpecErrorCode::InvalidCharacterInDataElement),
        },
        DataType::Dt => {
            if !v.iter().all(u8::is_ascii_digit) {
                return Some(SpecErrorCode::InvalidDate);
            }
            v.len()
        }
        DataType::Tm => {
            if !v.iter().all(u8::is_ascii_digit) {
                return Some(SpecErrorCode::InvalidTime);
            }
            v.len()
        }
        DataType::B => return None,
    };
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    if len < e.min {
        return Some(SpecErrorCode::DataElementTooShort);
    }
    if len > e.max {
        return Some(SpecErrorCode::DataElementTooLong);
    }
    match e.data_type {
        DataType::Dt if !valid_date(v) => Some(SpecErrorCode::InvalidDate),
        DataType::Tm if !valid_time(v) => Some(SpecErrorCode::InvalidTime),
        DataType::Id if !e.open && !e.codes.is_empty() && !e.codes.contains(v) => {
            Some(SpecErrorCode::InvalidCodeValue)
        }
        _ => None,
    }
}

/// Whether the word `x` has a byte that is not printable ASCII (>= 0x80, < 0x20, 0x7f)
/// or is `sep` (`seps`: `sep` in every byte), for an `ONES`-wide word.
macro_rules! odd_bytes {
    ($x:expr, $seps:expr, $t:ty) => {{
        let x: $t = $x;
        let ones = <$t>::MAX / 0xff;
        let high = ones * 0x80;
        let low7 = ones * 0x7f;
        let zero = |y: $t| !(((y & low7) + low7) | y | low7);
        (x & high) | (x.wrapping_sub(ones * 0x20) & !x & high) | zero(x ^ low7) | zero(x ^ $seps)
    }};
}

/// Characters of an `AN`/`ID` value (the bytes that do not continue a UTF-8 sequence), or
/// `None` when it holds a control character or `sep`.
#[inline(always)]
fn text_chars(v: &[u8], sep: u8) -> Option<usize> {
    // Printable ASCII without `sep` (the common case) is checked a word at a time, the
    // last word overlapping the one before; anything else byte by byte.
    let ascii = match v.len() {
        8.. => {
            let seps = u64::from(sep) * (u64::MAX / 0xff);
            let word = |w: &[u8]| <[u8; 8]>::try_from(w).map(u64::from_le_bytes).ok();
            let last = v.len() - 8;
            let mut odd = v
                .get(last..)
                .and_then(word)
                .map_or(1, |x| odd_bytes!(x, seps, u64));
            for w in v.chunks_exact(8) {
                odd |= word(w).map_or(1, |x| odd_bytes!(x, seps, u64));
            }
            odd == 0
        }
        4.. => {
            let seps = u32::from(sep) * (u32::MAX / 0xff);
            let word = |w: &[u8]| <[u8; 4]>::try_from(w).map(u32::from_le_bytes).ok();
            let first = v.get(..4).and_then(word);
            let last = v.get(v.len() - 4..).and_then(word);
            match (first, last) {
                (Some(a), Some(b)) => (odd_bytes!(a, seps, u32) | odd_bytes!(b, seps, u32)) == 0,
                _ => false,
            }
        }
        _ => false,
    };
    if ascii {
        return Some(v.len());
    }
    let mut chars = 0usize;
    for &b in v {
        if b < 0x20 || b == 0x7f || b == sep {
            return None;
        }
        chars += usize::from(b & 0xC0 != 0x80);
    }
    Some(chars)
}

/// Digits of an `Nn` value (optional leading minus sign), or `None` if malformed.
fn numeric_digits(v: &[u8]) -> Option<usize> {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.len())
}

/// Digits of an `R` value: optional minus, digits with at most one decimal point, and an
/// optional exponent (`E`, optional minus, digits). The sign, the point and the exponent do
/// not count toward the length.
fn decimal_digits(v: &[u8]) -> Option<usize> {
    let body = v.strip_prefix(b"-").unwrap_or(v);
    let (mantissa, exponent) = match body.iter().position(|&b| b == b'E') {
        Some(i) => (body.get(..i)?, Some(body.get(i + 1..)?)),
        None => (body, None),
    };
    let mut digits = 0usize;
    let mut points = 0usize;
    for &b in mantissa {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => points += 1,
            _ => return None,
        }
    }
    if digits == 0 || points > 1 {
        return None;
    }
    if let Some(exp) = exponent {
        let exp = exp.strip_prefix(b"-").unwrap_or(exp);
        if exp.is_empty() || !exp.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    Some(digits)
}

fn two(v: &[u8], at: usize) -> Option<u32> {
    let hi = v.get(at)?.checked_sub(b'0')?;
    let lo = v.get(at + 1)?.checked_sub(b'0')?;
    if hi > 9 || lo > 9 {
        return None;
    }
    Some(u32::from(hi) * 10 + u32::from(lo))
}

/// `CCYYMMDD` or `YYMMDD`, all digits (already checked).
pub(crate) fn valid_date(v: &[u8]) -> bool {
    let (year, rest) = match v.len() {
        8 => match (two(v, 0), two(v, 2)) {
            (Some(cc), Some(yy)) => (cc * 100 + yy, 4),
            _ => return false,
        },
        // YYMMDD: the century is unknown; leap years by YY alone (2000 was one).
        6 => match two(v, 0) {
            Some(yy) => (2000 + yy, 2),
            None => return false,
        },
        _ => return false,
    };
    let (Some(month), Some(day)) = (two(v, rest), two(v, rest + 2)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `HHMM`, `HHMMSS`, `HHMMSSd` or `HHMMSSdd`, all digits (already checked).
pub(crate) fn valid_time(v: &[u8]) -> bool {
    if !matches!(v.len(), 4 | 6..=8) {
        return false;
    }
    let (Some(h), Some(m)) = (two(v, 0), two(v, 2)) else {
        return false;
    };
    if h > 23 || m > 59 {
        return false;
    }
    if v.len() >= 6 {
        match two(v, 4) {
            Some(s) if s <= 59 => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem(data_type: DataType, min: u32, max: u32, codes: &[&str], open: bool) -> SimpleElem {
        let mut set = CodeSet::default();
        for c in codes {
            set.insert(c.as_bytes());
        }
        set.finish();
        let codes = set;
        SimpleElem {
            data_type,
            min,
            max,
            codes,
            open,
        }
    }

    fn check_simple_t(e: &SimpleElem, v: &[u8]) -> Option<SpecErrorCode> {
        check_simple(e, v, b':')
    }

    #[test]
    fn dates() {
        assert!(valid_date(b"20240229"));
        assert!(!valid_date(b"20230229"));
        assert!(!valid_date(b"19000229"));
        assert!(valid_date(b"20000229"));
        assert!(!valid_date(b"20241301"));
        assert!(!valid_date(b"20240100"));
        assert!(valid_date(b"071216"));
        assert!(!valid_date(b"071232"));
        let dt = elem(DataType::Dt, 8, 8, &[], false);
        assert_eq!(
            check_simple_t(&dt, b"20240132"),
            Some(SpecErrorCode::InvalidDate)
        );
        assert_eq!(
            check_simple_t(&dt, b"2024013A"),
            Some(SpecErrorCode::InvalidDate)
        );
        assert_eq!(
            check_simple_t(&dt, b"240131"),
            Some(SpecErrorCode::DataElementTooShort)
        );
        assert_eq!(check_simple_t(&dt, b"20240131"), None);
    }

    #[test]
    fn times() {
        let tm = elem(DataType::Tm, 4, 8, &[], false);
        for ok in [&b"0000"[..], b"2359", b"235959", b"2359591", b"23595999"] {
            assert_eq!(check_simple_t(&tm, ok), None, "{ok:?}");
        }
        assert_eq!(
            check_simple_t(&tm, b"2400"),
            Some(SpecErrorCode::InvalidTime)
        );
        assert_eq!(
            check_simple_t(&tm, b"1260"),
            Some(SpecErrorCode::InvalidTime)
        );
        assert_eq!(
            check_simple_t(&tm, b"12:0"),
            Some(SpecErrorCode::InvalidTime)
        );
        assert_eq!(
            check_simple_t(&tm, b"12005"),
            Some(SpecErrorCode::InvalidTime)
        );
        assert_eq!(
            check_simple_t(&tm, b"120"),
            Some(SpecErrorCode::DataElementTooShort)
        );
    }

    #[test]
    fn numbers() {
        let n0 = elem(DataType::N(0), 1, 3, &[], false);
        assert_eq!(check_simple_t(&n0, b"-123"), None);
        assert_eq!(
            check_simple_t(&n0, b"1234"),
            Some(SpecErrorCode::DataElementTooLong)
        );
        assert_eq!(
            check_simple_t(&n0, b"1.2"),
            Some(SpecErrorCode::InvalidCharacterInDataElement)
        );
        let r = elem(DataType::R, 1, 4, &[], false);
        assert_eq!(check_simple_t(&r, b"-12.34"), None);
        assert_eq!(check_simple_t(&r, b".5"), None);
        assert_eq!(check_simple_t(&r, b"1E-3"), None);
        assert_eq!(
            check_simple_t(&r, b"12.345"),
            Some(SpecErrorCode::DataElementTooLong)
        );
        assert_eq!(
            check_simple_t(&r, b"1.2.3"),
            Some(SpecErrorCode::InvalidCharacterInDataElement)
        );
        assert_eq!(
            check_simple_t(&r, b"."),
            Some(SpecErrorCode::InvalidCharacterInDataElement)
        );
        assert_eq!(
            check_simple_t(&r, b"1,5"),
            Some(SpecErrorCode::InvalidCharacterInDataElement)
        );
    }

    #[test]
    fn text_characters() {
        assert_eq!(text_chars(b"ABCDEFGHIJKLMNOPQ", b':'), Some(17));
        assert_eq!(text_chars("ABCDEFGäöüßxyz".as_bytes(), b':'), Some(14));
        assert_eq!(text_chars("äöüßäöüßäöüß".as_bytes(), b':'), Some(12));
        for odd in [b':', 0x00, 0x1f, 0x7f, b'\n'] {
            for at in 0..20 {
                let mut v = vec![b'A'; 20];
                v[at] = odd;
                assert_eq!(text_chars(&v, b':'), None, "{odd:#x} at {at}");
            }
        }
        for len in 0..20 {
            for at in 0..len {
                for odd in [b':', 0x00, 0x1f, 0x7f] {
                    let mut v = vec![b'A'; len];
                    v[at] = odd;
                    assert_eq!(text_chars(&v, b':'), None, "{odd:#x} at {at} of {len}");
                }
                let mut v = vec![b' '; len];
                v[at] = b'~';
                assert_eq!(text_chars(&v, b':'), Some(len));
            }
        }
        for fine in [b' ', b'~', 0x80, 0xff] {
            let mut v = vec![b'A'; 20];
            v[9] = fine;
            assert!(text_chars(&v, b':').is_some(), "{fine:#x}");
        }
        assert_eq!(text_chars("aäb".as_bytes(), b':'), Some(3));
        assert_eq!(text_chars("aäbcdefghij".as_bytes(), b':'), Some(11));
    }

    #[test]
    fn codes_and_lengths() {
        let closed = elem(DataType::Id, 2, 2, &["00", "04"], false);
        assert_eq!(check_simple_t(&closed, b"04"), None);
        assert_eq!(
            check_simple_t(&closed, b"05"),
            Some(SpecErrorCode::InvalidCodeValue)
        );
        assert_eq!(
            check_simple_t(&closed, b"0"),
            Some(SpecErrorCode::DataElementTooShort)
        );
        let open = elem(DataType::Id, 2, 2, &["00"], true);
        assert_eq!(check_simple_t(&open, b"99"), None);
        let an = elem(DataType::An, 1, 3, &[], false);
        assert_eq!(check_simple_t(&an, "äöü".as_bytes()), None);
        assert_eq!(
            check_simple_t(&an, b"abcd"),
            Some(SpecErrorCode::DataElementTooLong)
        );
        assert_eq!(
            check_simple_t(&an, b"a\tb"),
            Some(SpecErrorCode::InvalidCharacterInDataElement)
        );
    }
}
