//! Compact storage of older reports' values. A value is stored as the XOR of its bits with the
//! same series' value in the next newer report: unchanged values cost one bit, and a changed
//! one only its bytes between the leading and trailing zero bytes of the XOR (the idea of
//! Facebook's Gorilla, at byte granularity).

/// Values of one stored report.
#[derive(Debug, Clone)]
pub enum Packed {
    /// Stored as they are (the newer report has other series).
    Raw(Box<[f64]>),
    /// XOR against the next newer report's values: a bitmap of changed values, then per
    /// changed value one header byte (leading zero bytes << 4 | trailing zero bytes) and the
    /// bytes in between.
    Xor(Box<[u8]>),
}

impl Packed {
    /// Packs `older` relative to `newer`, which must be just as long for XOR packing.
    pub fn new(older: &[f64], newer: &[f64]) -> Packed {
        if older.len() != newer.len() {
            return Packed::Raw(older.into());
        }
        let bitmap_len = older.len().div_ceil(8);
        let mut out = vec![0u8; bitmap_len];
        for (i, (o, n)) in older.iter().zip(newer).enumerate() {
            let x = o.to_bits() ^ n.to_bits();
            if x == 0 {
                continue;
            }
            out[i / 8] |= 1 << (i % 8);
            let lead = (x.leading_zeros() / 8) as usize;
            let trail = (x.trailing_zeros() / 8) as usize;
            out.push(((lead << 4) | trail) as u8);
            out.extend_from_slice(&x.to_le_bytes()[trail..8 - lead]);
        }
        Packed::Xor(out.into())
    }

    /// The values, given the next newer report's values.
    pub fn unpack(&self, newer: &[f64]) -> Box<[f64]> {
        match self {
            Packed::Raw(values) => values.clone(),
            Packed::Xor(bytes) => {
                let (bitmap, mut rest) = bytes.split_at(newer.len().div_ceil(8));
                let mut out: Box<[f64]> = newer.into();
                for (i, value) in out.iter_mut().enumerate() {
                    if bitmap[i / 8] & (1 << (i % 8)) == 0 {
                        continue;
                    }
                    let lead = (rest[0] >> 4) as usize;
                    let trail = (rest[0] & 0x0f) as usize;
                    let n = 8 - lead - trail;
                    let mut le = [0u8; 8];
                    le[trail..8 - lead].copy_from_slice(&rest[1..1 + n]);
                    rest = &rest[1 + n..];
                    *value = f64::from_bits(value.to_bits() ^ u64::from_le_bytes(le));
                }
                out
            }
        }
    }
}

impl Packed {
    /// The values of XOR bytes given the base they were packed against, or `None` when the
    /// bytes do not fit it (bytes read back from disk are not trusted).
    pub fn unpack_checked(bytes: &[u8], base: &[f64]) -> Option<Box<[f64]>> {
        let (bitmap, mut rest) = bytes.split_at_checked(base.len().div_ceil(8))?;
        let mut out: Box<[f64]> = base.into();
        for (i, value) in out.iter_mut().enumerate() {
            if bitmap[i / 8] & (1 << (i % 8)) == 0 {
                continue;
            }
            let (&header, tail) = rest.split_first()?;
            let lead = (header >> 4) as usize;
            let trail = (header & 0x0f) as usize;
            let n = 8usize.checked_sub(lead + trail)?;
            let (bytes, tail) = tail.split_at_checked(n)?;
            let mut le = [0u8; 8];
            le[trail..8 - lead].copy_from_slice(bytes);
            rest = tail;
            *value = f64::from_bits(value.to_bits() ^ u64::from_le_bytes(le));
        }
        rest.is_empty().then_some(out)
    }
}

#[cfg(test)]
impl Packed {
    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Packed::Raw(v) => std::mem::size_of_val(&**v),
            Packed::Xor(b) => b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Packed;

    fn round_trip(older: &[f64], newer: &[f64]) -> Packed {
        let packed = Packed::new(older, newer);
        let back = packed.unpack(newer);
        assert_eq!(back.len(), older.len());
        for (a, b) in back.iter().zip(older) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        packed
    }

    #[test]
    fn unchanged_values_cost_one_bit() {
        let values: Vec<f64> = (0..3000).map(|i| i as f64 * 1.5).collect();
        let packed = round_trip(&values, &values);
        assert_eq!(packed.heap_bytes(), 375);
    }

    #[test]
    fn changed_values_round_trip_exactly() {
        let older = [
            0.0,
            1.0,
            -2.5,
            f64::NAN,
            f64::INFINITY,
            1e300,
            5e-324,
            42.0,
            7.0,
        ];
        let newer = [
            0.0,
            2.0,
            -2.5,
            1.0,
            f64::NEG_INFINITY,
            1e-300,
            0.0,
            42.0,
            7.0000001,
        ];
        let packed = round_trip(&older, &newer);
        assert!(matches!(packed, Packed::Xor(_)));
    }

    #[test]
    fn counters_that_grow_a_little_pack_small() {
        let older: Vec<f64> = (0..1000).map(|i| 1_000_000.0 + i as f64).collect();
        let newer: Vec<f64> = older.iter().map(|v| v + 3.0).collect();
        let packed = round_trip(&older, &newer);
        assert!(packed.heap_bytes() < 1000 * 5, "{}", packed.heap_bytes());
    }

    #[test]
    fn different_lengths_are_stored_raw() {
        let packed = round_trip(&[1.0, 2.0], &[1.0]);
        assert!(matches!(packed, Packed::Raw(_)));
    }
}
