//! The flattened stream (`makedumpfile -F`, QEMU's kdump formats), read in place.
//!
//! A flattened file is what makedumpfile writes to a pipe: a 4096-byte header (`makedumpfile` signature, type 1,
//! version 1, big-endian), then records `{i64 offset; i64 size; data}` each placing `size` bytes at `offset` of
//! the file that would have been written, in whatever order the writer produced them; an offset of -1 ends the
//! stream. Instead of asking users to run `makedumpfile -R`, we build an offset map from logical ranges to file
//! ranges once, and read through it. A later record over an earlier one wins, as it would on disk.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Error;
use crate::source::be_i64;

/// Signature at the start of a flattened file.
pub const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
/// Size of the flattened header block.
pub const FLAT_HEADER_SIZE: u64 = 4096;
const RECORD_HEADER: u64 = 16;

/// One contiguous piece of the logical file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    logical: u64,
    len: u64,
    file: u64,
}

/// Logical-to-file offset map of a flattened stream.
#[derive(Debug)]
pub(crate) struct FlatMap {
    /// Sorted by `logical`, non-overlapping.
    extents: Vec<Extent>,
    logical_len: u64,
    /// Number of data records in the stream.
    pub(crate) records: u64,
    /// The stream ended without its end marker (cut short).
    pub(crate) unterminated: bool,
}

/// Does `bytes` start like a flattened stream?
pub(crate) fn is_flattened(bytes: &[u8]) -> bool {
    bytes.len() >= 16 && bytes.starts_with(FLAT_SIGNATURE) && bytes[12..16].iter().all(|&b| b == 0)
}

impl FlatMap {
    /// Parse the stream's header and record headers (not the data) and build the map.
    pub(crate) fn build(path: &Path, bytes: &[u8]) -> Result<FlatMap, Error> {
        let flen = bytes.len() as u64;
        if flen < FLAT_HEADER_SIZE {
            return Err(Error::Truncated {
                file: path.to_path_buf(),
                what: "flattened header (4096 bytes)".into(),
                offset: 0,
                end: FLAT_HEADER_SIZE,
                len: flen,
                kind: "file",
            });
        }
        let ty = be_i64(bytes, 16);
        let version = be_i64(bytes, 24);
        if ty != 1 {
            return Err(Error::malformed(
                path,
                16,
                format!("flattened header type 1 (big-endian), found {ty}"),
            ));
        }
        if version != 1 {
            return Err(Error::malformed(
                path,
                24,
                format!("flattened header version 1, found {version}"),
            ));
        }
        let mut pos = FLAT_HEADER_SIZE;
        let mut writes: Vec<Extent> = Vec::new();
        let mut unterminated = true;
        while pos < flen {
            if flen - pos < RECORD_HEADER {
                return Err(Error::Truncated {
                    file: path.to_path_buf(),
                    what: "flattened record header".into(),
                    offset: pos,
                    end: pos + RECORD_HEADER,
                    len: flen,
                    kind: "file",
                });
            }
            let offset = be_i64(bytes, pos as usize);
            let size = be_i64(bytes, pos as usize + 8);
            if offset == -1 {
                unterminated = false;
                break;
            }
            if offset < 0 {
                return Err(Error::malformed(
                    path,
                    pos,
                    format!("record offset >= 0 or -1 (end), found {offset}"),
                ));
            }
            let data = pos + RECORD_HEADER;
            if size < 0 || (size as u64) > flen - data {
                return Err(Error::malformed(
                    path,
                    pos + 8,
                    format!(
                        "record size within the file ({} bytes left), found {size}",
                        flen - data
                    ),
                ));
            }
            let size = size as u64;
            if (offset as u64).checked_add(size).is_none() {
                return Err(Error::malformed(
                    path,
                    pos,
                    "record offset + size without overflow",
                ));
            }
            if size > 0 {
                writes.push(Extent {
                    logical: offset as u64,
                    len: size,
                    file: data,
                });
            }
            pos = data + size;
        }
        let records = writes.len() as u64;
        let extents = resolve(writes);
        let logical_len = extents.last().map_or(0, |e| e.logical + e.len);
        Ok(FlatMap {
            extents,
            logical_len,
            records,
            unterminated,
        })
    }

    pub(crate) fn logical_len(&self) -> u64 {
        self.logical_len
    }

    /// Index of the extent containing logical `off`.
    fn find(&self, off: u64) -> Option<usize> {
        let i = self
            .extents
            .partition_point(|e| e.logical <= off)
            .checked_sub(1)?;
        let e = &self.extents[i];
        (off < e.logical + e.len).then_some(i)
    }

    /// File offset of a logical range that lies in one extent.
    pub(crate) fn file_offset(&self, off: u64, len: u64) -> Option<u64> {
        let e = &self.extents[self.find(off)?];
        (off + len <= e.logical + e.len).then(|| e.file + (off - e.logical))
    }

    /// Read a logical range. Bytes no record wrote read as zeros, as they would in the file `makedumpfile -R`
    /// rebuilds (it seeks past them, leaving holes): makedumpfile itself leaves such gaps, e.g. after the
    /// 464-byte header and at the end of each bitmap. A range that is mostly holes is refused rather than
    /// allocated: its length comes from untrusted record offsets.
    pub(crate) fn read<'a>(
        &self,
        bytes: &'a [u8],
        off: u64,
        len: u64,
    ) -> Result<Cow<'a, [u8]>, FlatReadError> {
        let end = off
            .checked_add(len)
            .filter(|&e| e <= self.logical_len)
            .ok_or(FlatReadError::PastEnd)?;
        if len == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        if let Some(file) = self.file_offset(off, len) {
            return Ok(Cow::Borrowed(&bytes[file as usize..(file + len) as usize]));
        }
        let first = self.extents.partition_point(|e| e.logical + e.len <= off);
        let pieces = || {
            self.extents[first..]
                .iter()
                .take_while(move |e| e.logical < end)
        };
        let written: u64 = pieces()
            .map(|e| (e.logical + e.len).min(end) - e.logical.max(off))
            .sum();
        let unwritten = len - written;
        if unwritten > written.max(MAX_HOLE_SLACK) {
            return Err(FlatReadError::MostlyUnwritten { written, len });
        }
        // Spans several extents or holes: assemble, zeros where nothing was written.
        let mut out = vec![0u8; len as usize];
        for e in pieces() {
            let s = e.logical.max(off);
            let t = (e.logical + e.len).min(end);
            let fs = (e.file + (s - e.logical)) as usize;
            out[(s - off) as usize..(t - off) as usize]
                .copy_from_slice(&bytes[fs..fs + (t - s) as usize]);
        }
        Ok(Cow::Owned(out))
    }
}

/// Unwritten bytes a read may hold regardless of how little was written around them.
const MAX_HOLE_SLACK: u64 = 1 << 20;

/// Why a logical range of a flattened stream cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlatReadError {
    /// Beyond the last byte any record wrote.
    PastEnd,
    /// More holes than data: the records' offsets describe a file far larger than the stream.
    MostlyUnwritten { written: u64, len: u64 },
}

/// Turn writes in stream order into sorted, non-overlapping extents where later writes win.
fn resolve(writes: Vec<Extent>) -> Vec<Extent> {
    let mut sorted = writes.clone();
    sorted.sort_by_key(|e| e.logical);
    let overlapping = sorted
        .windows(2)
        .any(|w| w[0].logical + w[0].len > w[1].logical);
    if !overlapping {
        return coalesce(sorted);
    }
    // Rare (a header rewritten at the end): replay the writes in order into an interval map.
    let mut map: BTreeMap<u64, (u64, u64)> = BTreeMap::new(); // start -> (end, file)
    for w in writes {
        let (s, e) = (w.logical, w.logical + w.len);
        let hit: Vec<(u64, (u64, u64))> = map
            .range(..e)
            .rev()
            .take_while(|(_, &(end, _))| end > s)
            .map(|(&k, &v)| (k, v))
            .collect();
        for (ks, (ke, kf)) in hit {
            if ke <= s {
                continue;
            }
            map.remove(&ks);
            if ks < s {
                map.insert(ks, (s, kf));
            }
            if ke > e {
                map.insert(e, (ke, kf + (e - ks)));
            }
        }
        map.insert(s, (e, w.file));
    }
    coalesce(
        map.into_iter()
            .map(|(s, (e, f))| Extent {
                logical: s,
                len: e - s,
                file: f,
            })
            .collect(),
    )
}

/// Merge extents that continue each other both logically and in the file.
fn coalesce(sorted: Vec<Extent>) -> Vec<Extent> {
    let mut out: Vec<Extent> = Vec::with_capacity(sorted.len());
    for e in sorted {
        if let Some(last) = out.last_mut() {
            if last.logical + last.len == e.logical && last.file + last.len == e.file {
                last.len += e.len;
                continue;
            }
        }
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[(i64, &[u8])], end: bool) -> Vec<u8> {
        let mut v = vec![0u8; 4096];
        v[..12].copy_from_slice(FLAT_SIGNATURE);
        v[16..24].copy_from_slice(&1i64.to_be_bytes());
        v[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (off, data) in records {
            v.extend_from_slice(&off.to_be_bytes());
            v.extend_from_slice(&(data.len() as i64).to_be_bytes());
            v.extend_from_slice(data);
        }
        if end {
            v.extend_from_slice(&(-1i64).to_be_bytes());
            v.extend_from_slice(&(-1i64).to_be_bytes());
        }
        v
    }

    #[test]
    fn out_of_order_records_and_last_write_wins() {
        let s = stream(&[(4, b"EFGH"), (0, b"abcd"), (2, b"XY")], true);
        let m = FlatMap::build(Path::new("t"), &s).unwrap();
        assert_eq!(m.logical_len(), 8);
        assert!(!m.unterminated);
        assert_eq!(&*m.read(&s, 0, 8).unwrap(), b"abXYEFGH");
        assert_eq!(&*m.read(&s, 3, 2).unwrap(), b"YE");
    }

    #[test]
    fn holes_read_as_zeros_and_bad_records_are_errors() {
        let s = stream(&[(0, b"ab"), (4, b"cd")], false);
        let m = FlatMap::build(Path::new("t"), &s).unwrap();
        assert!(m.unterminated);
        assert_eq!(&*m.read(&s, 1, 4).unwrap(), b"b\0\0c");
        assert_eq!(m.read(&s, 4, 3), Err(FlatReadError::PastEnd));
        // A record far out makes the logical file huge; reading across the hole is refused, not allocated.
        let far = stream(&[(0, b"ab"), (1 << 40, b"cd")], true);
        let m = FlatMap::build(Path::new("t"), &far).unwrap();
        assert_eq!(
            m.read(&far, 0, 1 << 39),
            Err(FlatReadError::MostlyUnwritten {
                written: 2,
                len: 1 << 39
            })
        );
        let mut bad = stream(&[(0, b"ab")], true);
        bad[4096 + 8..4096 + 16].copy_from_slice(&(1i64 << 40).to_be_bytes());
        let e = FlatMap::build(Path::new("t"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("offset 0x1008") && e.contains("record size"),
            "{e}"
        );
    }
}
