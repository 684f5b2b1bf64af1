//! kdump-compressed dumps (`KDUMP   `, makedumpfile's `diskdump_mod.h`), header versions 1 to 6.
//!
//! Layout, in blocks of `block_size` bytes: block 0 is `disk_dump_header`; then `sub_hdr_size` blocks of
//! `kdump_sub_header`; then `bitmap_blocks` blocks holding two bitmaps of equal size (the 1st marks RAM, the 2nd
//! the pages actually dumped; LSB first); then one 24-byte `page_desc` per dumped page in PFN order; then page
//! data. A page in the 1st bitmap but not the 2nd was filtered out (`-d`): that is an *excluded* page, a
//! different answer from a page that is not RAM at all.
//!
//! Finding a page's descriptor needs the number of dumped pages before it. Nothing is counted at open: a rank
//! table (one count per 4096 bits) is filled on demand, in order, only up to the highest page read, and a lookup
//! is then one table entry plus at most 64 word popcounts. Totals (for `info`) are counted when first asked.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use serde::Serialize;

use crate::codec::Compression;
use crate::error::{Error, ReadError};
use crate::source::{le_i32, le_i64, le_u32, le_u64, Source};

pub(crate) const KDUMP_SIGNATURE: &[u8; 8] = b"KDUMP   ";
const HEADER_SIZE: u64 = 464;
const PAGE_DESC_SIZE: u64 = 24;
/// `status` flag: the dump was cut short.
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
/// Bits per rank-table entry: 512 bytes of bitmap, so a lookup counts at most 64 words past its entry, and the
/// table of a 16 TiB machine read to its top page is 8 MiB.
const RANK_BITS: u64 = 4096;
const RANK_BYTES: usize = (RANK_BITS / 8) as usize;

/// Header fields of a kdump-compressed dump.
#[derive(Debug, Clone, Serialize)]
pub struct KdumpHeader {
    pub header_version: u32,
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
    /// Seconds and microseconds since the epoch when the dump was taken.
    pub timestamp_sec: i64,
    pub timestamp_usec: i64,
    pub status: u32,
    pub block_size: u32,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    pub max_mapnr: u64,
    pub nr_cpus: i32,
    pub current_cpu: u32,
    pub phys_base: u64,
    pub dump_level: i32,
    pub split: bool,
    pub start_pfn: u64,
    pub end_pfn: u64,
}

impl KdumpHeader {
    pub fn incomplete(&self) -> bool {
        self.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0
    }
}

pub(crate) struct Kdump {
    pub(crate) header: KdumpHeader,
    ram: Bitmap,
    dumped: Bitmap,
    /// rank[i] = dumped pages with pfn < i * RANK_BITS, for the blocks counted so far (rank[0] = 0).
    rank: RwLock<Vec<u64>>,
    desc_offset: u64,
    totals: OnceLock<PageTotals>,
    compression: OnceLock<Compression>,
    pub(crate) vmcoreinfo: Option<String>,
    pub(crate) notes: Option<Vec<u8>>,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Kdump {
    pub(crate) fn parse(src: &Source) -> Result<Kdump, Error> {
        let path = &src.path;
        let h = src.read_at(0, HEADER_SIZE, "kdump disk_dump_header")?;
        if &h[..8] != KDUMP_SIGNATURE {
            return Err(Error::malformed(path, 0, "signature `KDUMP   `"));
        }
        let header_version = le_i32(&h, 8);
        if !(1..=6).contains(&header_version) {
            return Err(Error::malformed(
                path,
                8,
                format!("header_version 1 to 6, found {header_version}"),
            ));
        }
        let uts = |i: usize| cstr(&h[12 + 65 * i..12 + 65 * (i + 1)]);
        // struct timeval follows the 390-byte utsname, aligned to 8: offset 408.
        let block_size = le_i32(&h, 428);
        if !(512..=1 << 20).contains(&block_size) || (block_size as u32).count_ones() != 1 {
            return Err(Error::malformed(
                path,
                428,
                format!("block_size a power of two from 512 to 1 MiB, found {block_size}"),
            ));
        }
        let bs = block_size as u64;
        let sub_hdr_size = le_i32(&h, 432);
        let bitmap_blocks = le_u32(&h, 436) as u64;
        let flen = src.len();
        // A declared part that runs past the end of the file is a truncated file when the value is
        // plausible, and a malformed header when it is wild (more than twice the file, plus slack).
        let plausible = |end: u64| end <= flen.saturating_mul(2).saturating_add(1 << 20);
        let truncated = |what: String, offset: u64, end: u64| Error::Truncated {
            file: path.to_path_buf(),
            what,
            offset,
            end,
            len: flen,
            kind: src.kind(),
        };
        let sub_end = (sub_hdr_size as i64 + 1)
            .checked_mul(bs as i64)
            .filter(|&e| sub_hdr_size >= 0 && e > 0);
        match sub_end {
            Some(e) if e as u64 <= flen => {}
            Some(e) if plausible(e as u64) => {
                return Err(truncated(
                    format!("the kdump sub-header (sub_hdr_size {sub_hdr_size} at offset 0x1b0)"),
                    bs,
                    e as u64,
                ));
            }
            _ => {
                return Err(Error::malformed(
                    path,
                    432,
                    format!(
                        "sub_hdr_size within the file ({} blocks of {bs}), found {sub_hdr_size}",
                        flen / bs
                    ),
                ));
            }
        }
        let sub_blocks = sub_hdr_size as u64;
        let bitmap_offset = (1 + sub_blocks) * bs;
        let bitmap_end = bitmap_blocks
            .checked_mul(bs)
            .and_then(|l| l.checked_add(bitmap_offset));
        let bitmap_len = match bitmap_end {
            Some(e) if bitmap_blocks > 0 && bitmap_blocks % 2 == 0 && e <= flen => {
                e - bitmap_offset
            }
            Some(e) if bitmap_blocks > 0 && bitmap_blocks % 2 == 0 && plausible(e) => {
                return Err(truncated(
                    format!("the kdump bitmaps (bitmap_blocks {bitmap_blocks} at offset 0x1b4)"),
                    bitmap_offset,
                    e,
                ));
            }
            _ => {
                return Err(Error::malformed(
                    path,
                    436,
                    format!("bitmap_blocks an even count within the file ({} bytes after the sub-header), found {bitmap_blocks}", flen.saturating_sub(bitmap_offset)),
                ));
            }
        };
        let mut header = KdumpHeader {
            header_version: header_version as u32,
            sysname: uts(0),
            nodename: uts(1),
            release: uts(2),
            version: uts(3),
            machine: uts(4),
            domainname: uts(5),
            timestamp_sec: le_i64(&h, 408),
            timestamp_usec: le_i64(&h, 416),
            status: le_u32(&h, 424),
            block_size: block_size as u32,
            sub_hdr_size: sub_hdr_size as u32,
            bitmap_blocks: bitmap_blocks as u32,
            max_mapnr: le_u32(&h, 440) as u64,
            current_cpu: le_u32(&h, 456),
            nr_cpus: le_i32(&h, 460),
            phys_base: 0,
            dump_level: 0,
            split: false,
            start_pfn: 0,
            end_pfn: 0,
        };

        // kdump_sub_header: fields valid by header version.
        let (mut vmcoreinfo_at, mut notes_at) = (None, None);
        if sub_blocks > 0 {
            let sub_len = (sub_blocks * bs).min(104);
            let s = src.read_at(bs, sub_len, "kdump_sub_header")?;
            let field = |off: usize| (off + 8 <= s.len()).then(|| le_u64(&s, off));
            header.phys_base = field(0).unwrap_or(0);
            header.dump_level = if s.len() >= 12 { le_i32(&s, 8) } else { 0 };
            if header_version >= 2 && s.len() >= 32 {
                header.split = le_i32(&s, 12) != 0;
                header.start_pfn = le_u64(&s, 16);
                header.end_pfn = le_u64(&s, 24);
            }
            if header_version >= 3 {
                vmcoreinfo_at = field(32).zip(field(40)).map(|(o, n)| (o, n, bs + 32));
            }
            if header_version >= 4 {
                notes_at = field(48).zip(field(56)).map(|(o, n)| (o, n, bs + 48));
            }
            if header_version >= 6 {
                if let (Some(s64), Some(e64), Some(m64)) = (field(80), field(88), field(96)) {
                    header.start_pfn = s64;
                    header.end_pfn = e64;
                    header.max_mapnr = m64;
                }
            }
        }
        let half = bitmap_len / 2;
        if header.max_mapnr > half * 8 {
            return Err(Error::malformed(
                path,
                if header_version >= 6 { bs + 96 } else { 440 },
                format!(
                    "max_mapnr at most {} (what the {half}-byte bitmaps cover), found {}",
                    half * 8,
                    header.max_mapnr
                ),
            ));
        }
        // Nothing of the bitmaps is read here: a 16 TiB machine's are 512 MiB each. Pages are located through
        // rank blocks counted on demand, and the totals only `info` needs are counted when first asked.
        let ram = Bitmap {
            offset: bitmap_offset,
            what: "kdump 1st bitmap",
        };
        let dumped = Bitmap {
            offset: bitmap_offset + half,
            what: "kdump 2nd bitmap",
        };
        let desc_offset = bitmap_offset + bitmap_len;

        let read_blob = |at: Option<(u64, u64, u64)>,
                         what: &str|
         -> Result<Option<Vec<u8>>, Error> {
            match at {
                None | Some((0, _, _)) | Some((_, 0, _)) => Ok(None),
                Some((off, len, field_off)) => {
                    if len > 1 << 24 || off.checked_add(len).is_none_or(|e| e > flen) {
                        return Err(Error::malformed(
                            path,
                            field_off,
                            format!("{what} offset/size within the file, found {off:#x}+{len:#x}"),
                        ));
                    }
                    Ok(Some(src.read_at(off, len, what)?.into_owned()))
                }
            }
        };
        let vmcoreinfo = read_blob(vmcoreinfo_at, "VMCOREINFO")?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let notes = read_blob(notes_at, "ELF notes")?;

        Ok(Kdump {
            header,
            ram,
            dumped,
            rank: RwLock::new(vec![0]),
            desc_offset,
            totals: OnceLock::new(),
            compression: OnceLock::new(),
            vmcoreinfo,
            notes,
        })
    }

    /// Dumped pages before `pfn` (`pfn < max_mapnr`): the cached count before its rank block plus the bits
    /// of that block below it. Blocks are counted once, in order, and only up to the highest block asked for.
    fn rank_of(&self, src: &Source, pfn: u64) -> Result<u64, Error> {
        let block = pfn / RANK_BITS;
        let cached = self
            .rank
            .read()
            .expect("kdump rank lock")
            .get(block as usize)
            .copied();
        let before = match cached {
            Some(n) => n,
            None => self.fill_ranks(src, block)?,
        };
        // Bytes of a block already counted when its rank was filled: not counted again as read.
        Ok(before + self.dumped.count(src, block * RANK_BITS, pfn, false)?)
    }

    /// Extend the rank table through `block`; returns its entry.
    fn fill_ranks(&self, src: &Source, block: u64) -> Result<u64, Error> {
        let mut rank = self.rank.write().expect("kdump rank lock");
        // Count in order from the first block not yet known, through `block`, in slabs.
        let first = rank.len() as u64 - 1;
        let mut acc = *rank.last().expect("rank[0] = 0");
        rank.reserve((block + 1 - first) as usize);
        src.for_each_slab(
            self.dumped.offset + first * RANK_BITS / 8,
            (block - first) * RANK_BITS / 8,
            COUNT_SLAB_BYTES,
            self.dumped.what,
            true,
            |bytes| {
                for chunk in bytes.chunks(RANK_BYTES) {
                    acc += popcount(chunk);
                    rank.push(acc);
                }
            },
        )?;
        Ok(rank[block as usize])
    }

    /// Pages of RAM (1st bitmap) and dumped pages (2nd bitmap) below `max_mapnr`, counted on first use:
    /// reading both bitmaps whole is what these totals cost, so only `info` asks.
    pub(crate) fn totals(&self, src: &Source) -> Result<PageTotals, Error> {
        if let Some(t) = self.totals.get() {
            return Ok(*t);
        }
        let max = self.header.max_mapnr;
        let t = PageTotals {
            ram: self.ram.count(src, 0, max, true)?,
            dumped: self.dumped.count(src, 0, max, true)?,
        };
        Ok(*self.totals.get_or_init(|| t))
    }

    /// Bytes past the end of the file that the page descriptors of every dumped page would need (0 when the
    /// table fits, or when the dump says it was cut short).
    pub(crate) fn descriptors_missing(&self, src: &Source, dumped: u64) -> u64 {
        if self.header.incomplete() {
            return 0;
        }
        (self.desc_offset + dumped * PAGE_DESC_SIZE).saturating_sub(src.len())
    }

    /// The page codec of the dump, from the first dumped pages (counted on first use).
    pub(crate) fn compression(&self, src: &Source) -> Compression {
        *self
            .compression
            .get_or_init(|| self.sample_compression(src))
    }

    /// Locate a page's stored bytes: (file offset or logical offset, size, codec).
    pub(crate) fn page_desc(&self, src: &Source, pfn: u64) -> Result<PageDesc, ReadError> {
        let paddr = pfn.saturating_mul(self.header.block_size as u64);
        if pfn >= self.header.max_mapnr {
            return Err(ReadError::NotInDump { paddr });
        }
        let corrupt = |file_offset: u64, detail: String| ReadError::Corrupt {
            file: src.path.clone(),
            paddr,
            file_offset,
            detail,
        };
        let bitmap_error = |bm: &Bitmap, e: Error| corrupt(bm.offset + pfn / 8, e.to_string());
        if !self
            .dumped
            .bit(src, pfn)
            .map_err(|e| bitmap_error(&self.dumped, e))?
        {
            return Err(
                if self
                    .ram
                    .bit(src, pfn)
                    .map_err(|e| bitmap_error(&self.ram, e))?
                {
                    ReadError::Excluded { paddr }
                } else {
                    ReadError::NotInDump { paddr }
                },
            );
        }
        let idx = self
            .rank_of(src, pfn)
            .map_err(|e| bitmap_error(&self.dumped, e))?;
        let at = self.desc_offset + idx * PAGE_DESC_SIZE;
        let corrupt = |file_offset: u64, detail: String| ReadError::Corrupt {
            file: src.path.clone(),
            paddr,
            file_offset,
            detail,
        };
        let d = match src.read_at(at, PAGE_DESC_SIZE, "page descriptor") {
            Ok(d) => d,
            Err(_) if self.header.incomplete() => return Err(ReadError::NotWritten { paddr }),
            Err(e) => {
                return Err(corrupt(
                    at,
                    format!(
                        "page descriptor #{idx} within the {}-byte {}: the 2nd bitmap marks more dumped pages \
                         than the file holds descriptors for ({e})",
                        src.len(),
                        src.kind()
                    ),
                ))
            }
        };
        let offset = le_i64(&d, 0);
        let size = le_u32(&d, 8);
        let flags = le_u32(&d, 12);
        if offset == 0 && size == 0 && self.header.incomplete() {
            return Err(ReadError::NotWritten { paddr });
        }
        let codec = Compression::from_page_flags(flags).map_err(|e| corrupt(at + 12, e))?;
        let bs = self.header.block_size;
        if size == 0 || size > bs {
            return Err(corrupt(
                at + 8,
                format!("page descriptor size 1 to {bs}, found {size}"),
            ));
        }
        if offset < 0
            || (offset as u64)
                .checked_add(size as u64)
                .is_none_or(|e| e > src.len())
        {
            if self.header.incomplete() {
                return Err(ReadError::NotWritten { paddr });
            }
            return Err(corrupt(
                at,
                format!(
                    "page data offset within the {}-byte {}, found {offset:#x}+{size:#x}",
                    src.len(),
                    src.kind()
                ),
            ));
        }
        Ok(PageDesc {
            offset: offset as u64,
            size,
            codec,
            paddr,
        })
    }

    /// Decode one page into `out` (exactly one block).
    pub(crate) fn read_page(
        &self,
        src: &Source,
        d: &PageDesc,
        out: &mut [u8],
    ) -> Result<(), ReadError> {
        let data = self.page_bytes(src, d)?;
        crate::codec::decompress(d.codec, &data, out).map_err(|e| ReadError::Corrupt {
            file: src.path.clone(),
            paddr: d.paddr,
            file_offset: src.file_range(d.offset, d.size as u64).unwrap_or(d.offset),
            detail: format!("expected {e}"),
        })
    }

    /// The stored bytes of a page (borrowed when contiguous in the file).
    pub(crate) fn page_bytes<'a>(
        &self,
        src: &'a Source,
        d: &PageDesc,
    ) -> Result<Cow<'a, [u8]>, ReadError> {
        src.read_at(d.offset, d.size as u64, "page data")
            .map_err(|e| ReadError::Corrupt {
                file: src.path.clone(),
                paddr: d.paddr,
                file_offset: d.offset,
                detail: e.to_string(),
            })
    }

    /// The codec of the dump, from the first few dumped pages (makedumpfile uses one codec per dump, but
    /// stores pages raw where compression would not shrink them).
    fn sample_compression(&self, src: &Source) -> Compression {
        let max = self.header.max_mapnr;
        let mut seen = 0;
        let mut pfn = 0;
        while pfn < max && seen < 256 {
            // Skip empty stretches a slab at a time; a damaged bitmap ends the search with no answer.
            let end = (pfn + SAMPLE_SLAB_BITS).min(max);
            match self.dumped.count(src, pfn, end, false) {
                Ok(0) => {
                    pfn = end;
                    continue;
                }
                Ok(_) => {}
                Err(_) => return Compression::None,
            }
            while pfn < end && seen < 256 {
                if self.dumped.bit_quiet(src, pfn) {
                    if let Ok(d) = self.page_desc(src, pfn) {
                        if d.codec != Compression::None {
                            return d.codec;
                        }
                    }
                    seen += 1;
                }
                pfn += 1;
            }
        }
        Compression::None
    }
}

/// Bits skipped at once when looking for the first dumped pages.
const SAMPLE_SLAB_BITS: u64 = 1 << 20;

/// Bytes read at once when counting a long run of bits (bounded: a flattened stream assembles what spans records).
/// Small enough that a slab copied out of the page cache is still in the core's L2 cache when it is counted.
const COUNT_SLAB_BYTES: u64 = 256 << 10;

/// One of the two bitmaps: a range of the (logical) dump file, read on demand, never copied whole.
struct Bitmap {
    offset: u64,
    what: &'static str,
}

impl Bitmap {
    /// The bit of `pfn` (callers keep `pfn < max_mapnr`, which the bitmap covers). One byte read.
    fn bit(&self, src: &Source, pfn: u64) -> Result<bool, Error> {
        let b = src.read_at(self.offset + pfn / 8, 1, self.what)?;
        Ok(b[0] & (1 << (pfn % 8)) != 0)
    }

    /// [`Bitmap::bit`] without counting the byte as read, false when unreadable.
    fn bit_quiet(&self, src: &Source, pfn: u64) -> bool {
        src.peek_at(self.offset + pfn / 8, 1, self.what)
            .is_ok_and(|b| b[0] & (1 << (pfn % 8)) != 0)
    }

    /// Set bits in `[from, to)`, read in bounded slabs; `count_read` says whether the bytes count as read
    /// from the file (false for bytes a rank fill has already counted).
    fn count(&self, src: &Source, from: u64, to: u64, count_read: bool) -> Result<u64, Error> {
        if to <= from {
            return Ok(0);
        }
        let mut n = 0u64;
        // Whole bytes [first_byte, last_byte), then the partial bytes at either end.
        let (first_byte, last_byte) = (from.div_ceil(8), to / 8);
        let partial = |byte: u64, mask: u8| -> Result<u64, Error> {
            let b = src.peek_at(self.offset + byte, 1, self.what)?;
            Ok((b[0] & mask).count_ones() as u64)
        };
        if first_byte > last_byte {
            // from and to inside one byte
            let mask = ((1u16 << (to % 8)) - (1u16 << (from % 8))) as u8;
            return partial(from / 8, mask);
        }
        if from % 8 != 0 {
            n += partial(from / 8, !((1u8 << (from % 8)) - 1))?;
        }
        src.for_each_slab(
            self.offset + first_byte,
            last_byte.saturating_sub(first_byte),
            COUNT_SLAB_BYTES,
            self.what,
            count_read,
            |bytes| n += popcount(bytes),
        )?;
        if to % 8 != 0 {
            n += partial(last_byte, (1u8 << (to % 8)) - 1)?;
        }
        Ok(n)
    }
}

/// Set bits in `bytes`, with the CPU's population-count instructions where it has them.
fn popcount(bytes: &[u8]) -> u64 {
    // x86-64's baseline has no POPCNT, so the portable loop counts bits in a dozen instructions a word: a third
    // of `info`'s time on a 16 TiB machine. AVX2 (vectorised counting) and POPCNT are checked once at run time.
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU has the features the function is compiled for (checked just above).
            #[allow(unsafe_code)]
            return unsafe { popcount_avx2(bytes) };
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: as above, for POPCNT.
            #[allow(unsafe_code)]
            return unsafe { popcount_popcnt(bytes) };
        }
    }
    popcount_words(bytes)
}

/// [`popcount_words`] compiled for AVX2, which LLVM vectorises.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn popcount_avx2(bytes: &[u8]) -> u64 {
    popcount_words(bytes)
}

/// [`popcount_words`] compiled with the POPCNT instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn popcount_popcnt(bytes: &[u8]) -> u64 {
    popcount_words(bytes)
}

/// Set bits in `bytes`, eight bytes at a time (inlined into each CPU-specific copy above).
#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail: u64 = words
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum();
    words
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")).count_ones() as u64)
        .sum::<u64>()
        + tail
}

/// How many pages the bitmaps mark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageTotals {
    pub(crate) ram: u64,
    pub(crate) dumped: u64,
}

/// Where a dumped page's bytes are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageDesc {
    /// Logical offset of the stored bytes.
    pub(crate) offset: u64,
    pub(crate) size: u32,
    pub(crate) codec: Compression,
    pub(crate) paddr: u64,
}

#[cfg(test)]
mod tests {
    use super::{popcount, popcount_words};

    /// The CPU-specific counts (AVX2, POPCNT, whichever this CPU has) agree with a bit-by-bit count, on
    /// every length around the vector and word widths and on unaligned starts.
    #[test]
    fn popcount_matches_bit_by_bit() {
        let bytes = testcores::noise(4096, 0x9e37_79b9_7f4a_7c15);
        for start in 0..9 {
            for len in (0..300).chain([1023, 1024, 1025, 4000]) {
                let b = &bytes[start..start + len];
                let slow: u64 = b
                    .iter()
                    .map(|&v| (0..8).filter(|i| v & (1 << i) != 0).count() as u64)
                    .sum();
                assert_eq!(popcount(b), slow, "start {start} len {len}");
                assert_eq!(popcount_words(b), slow, "start {start} len {len}");
            }
        }
        assert_eq!(popcount(&[0xff; 100_000]), 800_000);
    }
}
