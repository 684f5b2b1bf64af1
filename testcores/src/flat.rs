//! The flattened format (`makedumpfile -F`, QEMU's `kdump-*` formats): a 4096-byte header
//! (`struct makedumpfile_header`: signature `makedumpfile` NUL-padded to 16 bytes, `type` and
//! `version` as big-endian i64, both 1; the rest zero), then records of
//! `struct makedumpfile_data_header { i64 offset; i64 buf_size; }` (big-endian) each followed by
//! `buf_size` bytes to place at `offset` of the real file, ending with a record whose offset and
//! size are both -1 (`END_FLAG_FLAT_HEADER`).

/// Size of the flattened header block (`MAX_SIZE_MDF_HEADER`).
pub const FLAT_HEADER_SIZE: usize = 4096;
/// Size of one record header (`struct makedumpfile_data_header`).
pub const RECORD_HEADER_SIZE: usize = 16;
/// `MAKEDUMPFILE_SIGNATURE`.
pub const FLAT_SIGNATURE: &[u8; 12] = b"makedumpfile";

/// One record of a flattened stream as [`flatten_with_layout`] wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatRecord {
    /// Stream offset of the record header.
    pub header_at: u64,
    /// Offset in the real file.
    pub offset: u64,
    /// Data length.
    pub size: u64,
    /// A stale early write that a later record overwrites (last write wins).
    pub stale: bool,
}

/// SplitMix64: a tiny deterministic generator so shuffles do not depend on a crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Flattens `file` into a makedumpfile stream of records of at most `chunk` bytes (0 counts as
/// 1). `None` keeps file order. `Some(seed)` shuffles the records deterministically and, like
/// makedumpfile rewriting its header at the end, first emits a stale record of zeros over the
/// start of the file (overlapping the first chunk and part of the second): a reader that does not
/// let the last write win reads a file without a signature.
///
/// ```
/// let flat = testcores::flatten(b"0123456789", 4, Some(7));
/// assert_eq!(&flat[..12], b"makedumpfile");
/// ```
pub fn flatten(file: &[u8], chunk: usize, shuffle_seed: Option<u64>) -> Vec<u8> {
    flatten_with_layout(file, chunk, shuffle_seed).0
}

/// [`flatten`], also listing the records in stream order.
pub fn flatten_with_layout(
    file: &[u8],
    chunk: usize,
    shuffle_seed: Option<u64>,
) -> (Vec<u8>, Vec<FlatRecord>) {
    let chunk = chunk.max(1);
    let mut pieces: Vec<(usize, usize)> = (0..file.len())
        .step_by(chunk)
        .map(|start| (start, (start + chunk).min(file.len())))
        .collect();
    let mut stale = None;
    if let Some(seed) = shuffle_seed {
        let mut rng = SplitMix(seed);
        for i in (1..pieces.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            pieces.swap(i, j);
        }
        if !file.is_empty() {
            stale = Some((chunk + chunk / 2).min(file.len()));
        }
    }

    let mut out = Vec::with_capacity(FLAT_HEADER_SIZE + file.len() + 16 * (pieces.len() + 2));
    out.extend_from_slice(FLAT_SIGNATURE);
    out.resize(16, 0);
    out.extend_from_slice(&1i64.to_be_bytes()); // TYPE_FLAT_HEADER
    out.extend_from_slice(&1i64.to_be_bytes()); // VERSION_FLAT_HEADER
    out.resize(FLAT_HEADER_SIZE, 0);

    let mut records = Vec::with_capacity(pieces.len() + 1);
    if let Some(len) = stale {
        records.push(FlatRecord {
            header_at: out.len() as u64,
            offset: 0,
            size: len as u64,
            stale: true,
        });
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&(len as i64).to_be_bytes());
        out.resize(out.len() + len, 0);
    }
    for (start, end) in pieces {
        records.push(FlatRecord {
            header_at: out.len() as u64,
            offset: start as u64,
            size: (end - start) as u64,
            stale: false,
        });
        out.extend_from_slice(&(start as i64).to_be_bytes());
        out.extend_from_slice(&((end - start) as i64).to_be_bytes());
        out.extend_from_slice(&file[start..end]);
    }
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    (out, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rebuilds the file the way `makedumpfile -R` does (records applied in stream order).
    fn unflatten(flat: &[u8]) -> Vec<u8> {
        let mut file = Vec::new();
        let mut at = FLAT_HEADER_SIZE;
        loop {
            let off = i64::from_be_bytes(flat[at..at + 8].try_into().unwrap());
            let size = i64::from_be_bytes(flat[at + 8..at + 16].try_into().unwrap());
            at += 16;
            if off == -1 && size == -1 {
                assert_eq!(at, flat.len());
                return file;
            }
            let (off, size) = (off as usize, size as usize);
            if file.len() < off + size {
                file.resize(off + size, 0);
            }
            file[off..off + size].copy_from_slice(&flat[at..at + size]);
            at += size;
        }
    }

    #[test]
    fn header_is_big_endian_and_4096_bytes() {
        let flat = flatten(b"abc", 2, None);
        assert_eq!(&flat[..16], b"makedumpfile\0\0\0\0");
        assert_eq!(&flat[16..24], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&flat[24..32], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(flat[32..4096].iter().all(|b| *b == 0));
        // record 0: offset 0 size 2 "ab"; record 1: offset 2 size 1 "c"; end marker
        assert_eq!(
            &flat[4096..4112],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        assert_eq!(&flat[4112..4114], b"ab");
        assert_eq!(&flat[flat.len() - 16..], &[0xff; 16]);
        assert_eq!(flat.len(), 4096 + 16 + 2 + 16 + 1 + 16);
    }

    #[test]
    fn shuffled_stream_rebuilds_the_file_with_last_write_winning() {
        let file: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        for seed in [None, Some(1), Some(2), Some(99)] {
            let (flat, recs) = flatten_with_layout(&file, 1000, seed);
            assert_eq!(unflatten(&flat), file, "seed {seed:?}");
            if seed.is_some() {
                assert!(recs[0].stale && recs[0].offset == 0 && recs[0].size == 1500);
                let order: Vec<u64> = recs[1..].iter().map(|r| r.offset).collect();
                let mut sorted = order.clone();
                sorted.sort();
                assert_ne!(order, sorted, "seed {seed:?} did not shuffle");
            }
        }
    }

    #[test]
    fn deterministic() {
        let file = vec![5u8; 5000];
        assert_eq!(flatten(&file, 512, Some(3)), flatten(&file, 512, Some(3)));
        assert_ne!(
            flatten_with_layout(&file, 512, Some(3)).1,
            flatten_with_layout(&file, 512, Some(4)).1
        );
    }
}
