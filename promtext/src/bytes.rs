//! Byte-level helpers shared by the scanners: a class table and a SWAR byte search.
//!
//! Every delimiter in the format is ASCII, so positions found here are always
//! char boundaries of the `&str` being parsed.

/// May start a metric name: `[a-zA-Z_:]`.
pub(crate) const NAME_START: u8 = 1;
/// May continue a metric name: `[a-zA-Z0-9_:]`.
pub(crate) const NAME_CONT: u8 = 2;
/// May start a label name: `[a-zA-Z_]`.
pub(crate) const LABEL_START: u8 = 4;
/// May continue a label name: `[a-zA-Z0-9_]`.
pub(crate) const LABEL_CONT: u8 = 8;
/// Separates tokens on a line. `\r` is included so `\r\n` bodies need no special casing.
pub(crate) const SPACE: u8 = 16;
/// Ends an unquoted token: whitespace or the line feed.
pub(crate) const TOKEN_END: u8 = 32;
/// Interrupts the scan of a quoted label value.
pub(crate) const QUOTE_STOP: u8 = 64;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut c = 0;
        if alpha || b == b':' {
            c |= NAME_START | NAME_CONT;
        }
        if digit {
            c |= NAME_CONT | LABEL_CONT;
        }
        if alpha {
            c |= LABEL_START | LABEL_CONT;
        }
        if b == b' ' || b == b'\t' || b == b'\r' {
            c |= SPACE | TOKEN_END;
        }
        if b == b'\n' {
            c |= TOKEN_END | QUOTE_STOP;
        }
        if b == b'"' || b == b'\\' {
            c |= QUOTE_STOP;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASSES: [u8; 256] = build_classes();

/// Whether byte `b` belongs to class `class`.
#[inline(always)]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASSES[b as usize] & class != 0
}

/// Index of the first byte at or after `i` that is not in `class` (or `b.len()`).
#[inline(always)]
pub(crate) fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while i < b.len() && is(b[i], class) {
        i += 1;
    }
    i
}

/// Index of the first byte at or after `i` that is in `class` (or `b.len()`).
#[inline(always)]
pub(crate) fn find_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while i < b.len() && !is(b[i], class) {
        i += 1;
    }
    i
}

/// Skips spaces, tabs and carriage returns.
#[inline(always)]
pub(crate) fn skip_space(b: &[u8], i: usize) -> usize {
    skip_class(b, i, SPACE)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first `needle` at or after `start`, eight bytes per step.
///
/// HELP lines are long and make up about half of a CockroachDB body, so a
/// byte-at-a-time loop there would dominate the parse.
#[inline]
pub(crate) fn find_byte(hay: &[u8], start: usize, needle: u8) -> Option<usize> {
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut i = start;
    while let Some(chunk) = hay.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")) ^ pattern;
        // The classic "has zero byte" trick can flag false positives, but only in
        // bytes above a true zero, so the lowest flag (little-endian) is exact.
        let zero = word.wrapping_sub(LO) & !word & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay.get(i..)?
        .iter()
        .position(|&c| c == needle)
        .map(|p| i + p)
}

/// End of the line containing `i`: the index of its `\n`, or `b.len()`.
#[inline]
pub(crate) fn line_end(b: &[u8], i: usize) -> usize {
    find_byte(b, i, b'\n').unwrap_or(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive_search_at_every_offset() {
        let hay = b"abc\\def\nghijklmnopq\nrstuvwxyz0123456789\\\n\n";
        for needle in [b'\n', b'\\', b'z', b'#'] {
            for start in 0..=hay.len() {
                let naive = hay[start..]
                    .iter()
                    .position(|&c| c == needle)
                    .map(|p| p + start);
                assert_eq!(
                    find_byte(hay, start, needle),
                    naive,
                    "{needle} from {start}"
                );
            }
        }
    }

    #[test]
    fn find_byte_ignores_bytes_that_only_look_like_the_needle() {
        // 0x8a and 0x0b differ from '\n' (0x0a) in one bit each, a classic SWAR trap.
        let hay = [
            0x8au8, 0x0b, 0x8a, 0x0b, 0x8a, 0x0b, 0x8a, 0x0b, 0x8a, b'\n',
        ];
        assert_eq!(find_byte(&hay, 0, b'\n'), Some(9));
    }

    #[test]
    fn classes_follow_the_grammar() {
        assert!(is(b':', NAME_START) && !is(b':', LABEL_START));
        assert!(is(b'7', NAME_CONT) && !is(b'7', NAME_START));
        assert!(is(b'\r', SPACE) && !is(b'\n', SPACE));
        assert!(is(b'\n', TOKEN_END) && is(b'\n', QUOTE_STOP));
        assert!(!is(b'{', NAME_CONT) && !is(b'-', LABEL_CONT));
    }
}
