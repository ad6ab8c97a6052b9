//! Byte-level helpers shared by the scanners: a class table, and searches that take 16
//! bytes a step with SSE2 on x86-64, 8 bytes a step (SWAR) elsewhere and near the end of
//! the text, and one byte a step in its last 8 bytes.
//!
//! Every delimiter in the format is ASCII, so positions found here are always
//! char boundaries of the `&str` being parsed: an ASCII byte is a whole char, and so
//! is the byte just past one the start of the next ([`ascii_slice`] relies on this).

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

/// The eight bytes at `i` as one little-endian word, if there are eight.
#[inline(always)]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk = b.get(i..i.checked_add(8)?)?;
    Some(u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")))
}

/// Flags (high bit of the byte) the bytes of `word` equal to zero. The classic trick can
/// flag false positives, but only in bytes above a true zero, so the lowest flag
/// (little-endian: the first byte in the text) is exact, even in an OR of such masks.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(LO) & !word & HI
}

/// Flags the bytes of `y` in `lo..=hi`. Every byte of `y` must be below 0x80: then neither
/// addition carries out of a byte, so every flag is exact.
#[inline(always)]
fn in_range(y: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = y.wrapping_add(LO * u64::from(0x80 - lo));
    let above_hi = y.wrapping_add(LO * u64::from(0x7f - hi));
    at_least_lo & !above_hi & HI
}

/// Flags the bytes of `x` that may continue a metric name (`COLON`: `[a-zA-Z0-9_:]`) or a
/// label name (`[a-zA-Z0-9_]`); exact in every byte.
#[inline(always)]
fn name_bytes<const COLON: bool>(x: u64) -> u64 {
    let y = x & !HI;
    // `| 0x20` folds upper case onto lower case; `_` (0x5f) becomes 0x7f, no letter.
    let letters = in_range(y | (LO * 0x20), b'a', b'z');
    let digits = in_range(y, b'0', if COLON { b':' } else { b'9' });
    let underscore = in_range(y, b'_', b'_');
    // Bytes of 0x80 and above are in no class; `& !x` drops their flags.
    (letters | digits | underscore) & !x
}

/// Sixteen bytes per step with SSE2, which every x86-64 processor has. The functions carry
/// `#[target_feature(enable = "sse2")]` only because intrinsics must be called from such a
/// function; the module exists only where the build already targets SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8, _mm_sub_epi8,
    };

    /// The chunk as a vector (the compiler makes this one unaligned load).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(chunk: &[u8; 16]) -> __m128i {
        let (lo, hi) = chunk.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(hi.try_into().expect("8 bytes"));
        _mm_set_epi64x(hi as i64, lo as i64)
    }

    /// Bit `k` is set where byte `k` is `needle`.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn hits(chunk: &[u8; 16], needle: u8) -> u32 {
        let v = load(chunk);
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(needle as i8))) as u32
    }

    /// Bit `k` is set where byte `k` is `"`, `\` or a line feed.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn quote_stops(chunk: &[u8; 16]) -> u32 {
        let v = load(chunk);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let line_feed = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), line_feed)) as u32
    }

    /// Bit `k` is set where byte `k` cannot continue a metric name (`COLON`) or label name.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn name_stops<const COLON: bool>(chunk: &[u8; 16]) -> u32 {
        let v = load(chunk);
        // `x <= max` unsigned is `min(x, max) == x`; the subtractions wrap, so bytes below
        // the range land far above it.
        let within =
            |x: __m128i, max: u8| _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(max as i8)), x);
        // `| 0x20` folds upper case onto lower case; `_` (0x5f) becomes 0x7f, no letter.
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        let letters = within(_mm_sub_epi8(folded, _mm_set1_epi8(b'a' as i8)), b'z' - b'a');
        let last_digit = if COLON { b':' } else { b'9' };
        let digits = within(
            _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8)),
            last_digit - b'0',
        );
        let underscore = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8));
        let ok = _mm_or_si128(_mm_or_si128(letters, digits), underscore);
        !(_mm_movemask_epi8(ok) as u32) & 0xffff
    }
}

/// The sixteen bytes at `i`, if there are sixteen.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn chunk16(b: &[u8], i: usize) -> Option<&[u8; 16]> {
    b.get(i..i.checked_add(16)?)?.try_into().ok()
}

/// Index of the first byte at or after `i` that cannot continue a metric name (`COLON`) or
/// a label name: `skip_class(b, i, NAME_CONT)` (or `LABEL_CONT`), eight bytes per step.
#[inline(always)]
pub(crate) fn skip_name<const COLON: bool>(b: &[u8], mut i: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = chunk16(b, i) {
        // SAFETY: `name_stops` only needs SSE2, which this build targets (the cfg above).
        let stop = unsafe { sse2::name_stops::<COLON>(chunk) };
        if stop != 0 {
            return i + stop.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(x) = word(b, i) {
        let stop = !name_bytes::<COLON>(x) & HI;
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    skip_class(b, i, if COLON { NAME_CONT } else { LABEL_CONT })
}

/// Index of the first `"`, `\` or line feed at or after `i` (or `b.len()`):
/// `find_class(b, i, QUOTE_STOP)`, eight bytes per step.
#[inline(always)]
pub(crate) fn find_quote_stop(b: &[u8], mut i: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = chunk16(b, i) {
        // SAFETY: `quote_stops` only needs SSE2, which this build targets (the cfg above).
        let stop = unsafe { sse2::quote_stops(chunk) };
        if stop != 0 {
            return i + stop.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(x) = word(b, i) {
        let stop = zero_bytes(x ^ (LO * u64::from(b'"')))
            | zero_bytes(x ^ (LO * u64::from(b'\\')))
            | zero_bytes(x ^ (LO * u64::from(b'\n')));
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    find_class(b, i, QUOTE_STOP)
}

/// Index of the first `needle` at or after `start`, eight bytes per step.
///
/// HELP lines are long and make up about half of a CockroachDB body, so a
/// byte-at-a-time loop there would dominate the parse.
#[inline]
pub(crate) fn find_byte(hay: &[u8], start: usize, needle: u8) -> Option<usize> {
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut i = start;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = chunk16(hay, i) {
        // SAFETY: `hits` only needs SSE2, which this build targets (the cfg above).
        let hit = unsafe { sse2::hits(chunk, needle) };
        if hit != 0 {
            return Some(i + hit.trailing_zeros() as usize);
        }
        i += 16;
    }
    while let Some(x) = word(hay, i) {
        let zero = zero_bytes(x ^ pattern);
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

/// `src[start..end]`, for ends the scanners found next to ASCII bytes (see the module
/// docs) without the char-boundary checks of indexing, which were a tenth of the parse.
///
/// Every caller passes `start <= end <= src.len()`, each of them either 0, `src.len()`, the
/// index of an ASCII byte of `src` or the index just past one. Such an index is a char
/// boundary: an ASCII byte is a whole char, and in UTF-8 the byte after a whole char starts
/// the next one. Debug builds (and so the tests) check this.
#[inline(always)]
pub(crate) fn ascii_slice(src: &str, start: usize, end: usize) -> &str {
    debug_assert!(start <= end && src.is_char_boundary(start) && src.is_char_boundary(end));
    // SAFETY: `start..end` is in bounds and both ends are char boundaries (see above).
    unsafe { src.get_unchecked(start..end) }
}

/// [`line_end`], and whether a backslash comes before it (from `i` on), in one pass.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
pub(crate) fn line_end_noting_backslash(b: &[u8], mut i: usize) -> (usize, bool) {
    let mut backslash = false;
    while let Some(chunk) = chunk16(b, i) {
        // SAFETY: `hits` only needs SSE2, which this build targets (the cfg above).
        let (line_feeds, backslashes) =
            unsafe { (sse2::hits(chunk, b'\n'), sse2::hits(chunk, b'\\')) };
        if line_feeds != 0 {
            let before = (1u32 << line_feeds.trailing_zeros()) - 1;
            return (
                i + line_feeds.trailing_zeros() as usize,
                backslash || backslashes & before != 0,
            );
        }
        backslash |= backslashes != 0;
        i += 16;
    }
    let eol = line_end(b, i);
    (eol, backslash || b[i..eol].contains(&b'\\'))
}

/// [`line_end`], and whether a backslash comes before it (from `i` on).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
pub(crate) fn line_end_noting_backslash(b: &[u8], i: usize) -> (usize, bool) {
    let eol = line_end(b, i);
    (eol, b[i..eol].contains(&b'\\'))
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
    fn line_ends_and_backslashes_match_naive_search_at_every_offset() {
        let mut hay = b"# HELP m a \\ b\nx\n".to_vec();
        hay.extend_from_slice(&[b'y'; 40]);
        hay.extend_from_slice(b"\\z\n");
        hay.extend_from_slice(&[b'w'; 21]);
        hay.extend_from_slice(b"\n\\");
        for start in 0..=hay.len() {
            let eol = hay[start..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(hay.len(), |p| p + start);
            let backslash = hay[start..eol].contains(&b'\\');
            assert_eq!(
                line_end_noting_backslash(&hay, start),
                (eol, backslash),
                "from {start}"
            );
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
    fn word_scans_agree_with_the_class_table_for_every_byte() {
        // Each byte value, alone in a run of name characters, at every offset of a word
        // and with name characters or other bytes after it.
        for c in 0..=255u8 {
            for at in 0..36 {
                for fill in [b'a', b'Z', b'9', b':', b'"', 0xc3] {
                    let mut hay = vec![fill; 40];
                    hay[..at].fill(b'x');
                    hay[at] = c;
                    for start in 0..=at {
                        assert_eq!(
                            skip_name::<true>(&hay, start),
                            skip_class(&hay, start, NAME_CONT),
                            "metric {c:#x} at {at} from {start}, fill {fill:#x}"
                        );
                        assert_eq!(
                            skip_name::<false>(&hay, start),
                            skip_class(&hay, start, LABEL_CONT),
                            "label {c:#x} at {at} from {start}, fill {fill:#x}"
                        );
                        assert_eq!(
                            find_quote_stop(&hay, start),
                            find_class(&hay, start, QUOTE_STOP),
                            "quote stop {c:#x} at {at} from {start}, fill {fill:#x}"
                        );
                    }
                }
            }
        }
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
