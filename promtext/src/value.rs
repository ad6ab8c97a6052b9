//! Sample values and timestamps.

use crate::bytes::{TOKEN_END, is};

/// Largest mantissa an `f64` holds exactly (2^53).
const MAX_EXACT: u64 = 1 << 53;

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value: decimal floats, exponents, `NaN`, `+Inf`, `-Inf`, `Inf`.
///
/// Both formats' reference parsers refuse a finite number too large for an `f64` (`1e400`)
/// rather than read it as infinity, and a sign on `NaN`; so does this one.
///
/// Most values in real bodies are short decimals (`0`, `2722.0`, `1.966079e+06`).
/// For those a mantissa of at most 2^53 and a power of ten of at most 10^22 are
/// both exact, so one multiplication or division rounds correctly (Clinger's
/// fast path) and gives bit-for-bit the result of `str::parse`, which handles
/// everything else.
#[inline]
pub(crate) fn parse_value(tok: &str) -> Option<f64> {
    fast_decimal(tok.as_bytes()).or_else(|| slow_value(tok))
}

#[cold]
fn slow_value(tok: &str) -> Option<f64> {
    let v: f64 = tok.parse().ok()?;
    if v.is_finite() {
        return Some(v);
    }
    let unsigned = tok.strip_prefix(['+', '-']).unwrap_or(tok);
    let spelled = if v.is_nan() {
        unsigned.len() == tok.len()
    } else {
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
    };
    spelled.then_some(v)
}

#[inline]
fn fast_decimal(b: &[u8]) -> Option<f64> {
    match decimal_prefix(b, 0)? {
        (v, end) if end == b.len() => Some(v),
        _ => None,
    }
}

/// The value token starting at `start` in a line, by the fast path alone: the value and the
/// index just past it, if the token is a short decimal that ends where tokens end (a blank,
/// the line feed or the end of the body). `None` means: use [`parse_value`] on the token.
///
/// This reads the token once, where finding its end and then parsing it would read it twice.
#[inline(always)]
pub(crate) fn fast_value_at(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let (v, end) = decimal_prefix(b, start)?;
    match b.get(end) {
        None => Some((v, end)),
        Some(&c) if is(c, TOKEN_END) => Some((v, end)),
        Some(_) => None,
    }
}

/// The decimal at the start of `b[start..]` and the index just past it, where Clinger's fast
/// path gives it exactly; the caller checks what follows.
#[inline(always)]
fn decimal_prefix(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let (negative, mut i) = match b.get(start)? {
        b'-' => (true, start + 1),
        b'+' => (false, start + 1),
        _ => (false, start),
    };
    // The mantissa may wrap while digits are read; a number with more than 19 digits (which
    // a u64 always holds) takes the slow path, so a wrapped value is never used.
    let int_start = i;
    let mut mantissa: u64 = 0;
    while let Some(&c) = b.get(i) {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    let mut digits = i - int_start;
    let mut exp: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let fraction_start = i;
        while let Some(&c) = b.get(i) {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            i += 1;
        }
        let fraction = i - fraction_start;
        digits += fraction;
        // Only used when there are at most 19 digits in all.
        exp = -(fraction.min(19) as i32);
    }
    if digits == 0 || digits > 19 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        let mut e: i32 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - exp_start >= 4 {
                break;
            }
            e = e * 10 + i32::from(c - b'0');
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        exp += if negative_exp { -e } else { e };
    }
    if mantissa > MAX_EXACT {
        return None;
    }
    let magnitude = mantissa as f64;
    let v = match exp {
        0 => magnitude,
        1..=22 => magnitude * POW10[exp as usize],
        -22..=-1 => magnitude / POW10[(-exp) as usize],
        _ => return None,
    };
    Some((if negative { -v } else { v }, i))
}

/// Parses a timestamp in integer milliseconds, possibly negative.
#[inline]
pub(crate) fn parse_timestamp(tok: &str) -> Option<i64> {
    let b = tok.as_bytes();
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so i64::MIN is representable.
    let mut acc: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if negative {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

/// Parses an OpenMetrics timestamp, in seconds, into milliseconds: `123.123` is 123123.
///
/// Decimal forms are converted exactly (digits past the millisecond are cut, towards zero,
/// as an integer conversion would); exponent forms go through an `f64`, rounded to the
/// nearest millisecond. NaN, infinities and values outside the `i64` range are refused.
#[inline]
pub(crate) fn parse_seconds_timestamp(tok: &str) -> Option<i64> {
    let b = tok.as_bytes();
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let int_len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    let (int, rest) = digits.split_at(int_len);
    let fraction = match rest {
        [] => &[][..],
        [b'.', fraction @ ..] if fraction.iter().all(u8::is_ascii_digit) => fraction,
        _ => return exponent_timestamp(tok),
    };
    if int.is_empty() && fraction.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN milliseconds is representable.
    let mut acc: i64 = 0;
    for &c in int {
        acc = acc.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    acc = acc.checked_mul(1000)?;
    let mut scale = 100;
    for &c in fraction.iter().take(3) {
        acc = acc.checked_sub(i64::from(c - b'0') * scale)?;
        scale /= 10;
    }
    if negative {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

#[cold]
fn exponent_timestamp(tok: &str) -> Option<i64> {
    // Only the realnumber grammar: no `inf`, `nan`, hex or other spellings `f64` accepts.
    let plain = tok
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    let seconds: f64 = tok.parse().ok().filter(|_| plain)?;
    let ms = (seconds * 1000.0).round();
    // i64::MAX as f64 rounds up to 2^63, which is already out of range.
    (ms.is_finite() && ms >= i64::MIN as f64 && ms < i64::MAX as f64).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_bit_for_bit_with_std() {
        let cases = [
            "0",
            "-0",
            "+0",
            "1",
            "2722.0",
            "0.1",
            "0.3",
            "1e-05",
            "1.681737728e+09",
            "1.966079e+06",
            "1.0200547327e+10",
            "123456789012345678",
            "9007199254740993",
            "4.9e-324",
            "1.7976931348623157e308",
            "3.14159",
            "-271.828e-2",
            "1E22",
            "1e23",
            "0.000000000000000000001",
            "12345.678901234567",
            "1.",
            ".5",
            "5e",
            "1e+",
            "--1",
            "1.2.3",
            "0x10",
            "1_0",
            "",
        ];
        for case in cases {
            let std = case.parse::<f64>().ok();
            let ours = parse_value(case);
            assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{case:?}");
        }
    }

    #[test]
    fn fast_path_declines_what_it_cannot_do_exactly() {
        assert_eq!(fast_decimal(b"9007199254740993"), None);
        assert_eq!(fast_decimal(b"1e23"), None);
        assert_eq!(fast_decimal(b"NaN"), None);
        assert_eq!(fast_decimal(b"12345678901234567890"), None);
        assert_eq!(fast_decimal(b"1e99999"), None);
    }

    #[test]
    fn out_of_range_numbers_and_signed_nan_are_refused() {
        for bad in [
            "1e400", "-1e400", "-NaN", "+NaN", "-nan", "infinite", "1e99999",
        ] {
            assert_eq!(parse_value(bad), None, "{bad}");
        }
        for (good, expected) in [("+Inf", f64::INFINITY), ("-inf", f64::NEG_INFINITY)] {
            assert_eq!(parse_value(good), Some(expected), "{good}");
        }
        assert_eq!(parse_value("Infinity"), Some(f64::INFINITY));
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        assert!(parse_value("nan").is_some_and(f64::is_nan));
        assert_eq!(parse_value("1e308"), Some(1e308));
        assert_eq!(parse_value("1e-400"), Some(0.0));
    }

    #[test]
    fn seconds_timestamps_convert_exactly_to_milliseconds() {
        let cases = [
            ("123.123", Some(123_123)),
            ("1000", Some(1_000_000)),
            ("1520879607.789", Some(1_520_879_607_789)),
            ("1.5", Some(1_500)),
            ("0.0019", Some(1)),
            ("-1.5", Some(-1_500)),
            ("+2", Some(2_000)),
            (".25", Some(250)),
            ("3.", Some(3_000)),
            ("1604676851.123456789", Some(1_604_676_851_123)),
            ("1.6e9", Some(1_600_000_000_000)),
            ("1.5E-1", Some(150)),
            ("-9223372036854775.808", Some(i64::MIN)),
            ("9223372036854775.807", Some(i64::MAX)),
            ("9223372036854775.808", None),
            ("1e20", None),
            ("NaN", None),
            ("Inf", None),
            ("", None),
            ("-", None),
            (".", None),
            ("1.2.3", None),
            ("1_0", None),
            ("0x10", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_seconds_timestamp(text), expected, "{text:?}");
        }
    }

    #[test]
    fn timestamps_cover_the_i64_range() {
        assert_eq!(parse_timestamp("1395066363000"), Some(1_395_066_363_000));
        assert_eq!(parse_timestamp("-1"), Some(-1));
        assert_eq!(parse_timestamp("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_timestamp("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_timestamp("9223372036854775808"), None);
        assert_eq!(parse_timestamp("1.5"), None);
        assert_eq!(parse_timestamp("-"), None);
    }
}
