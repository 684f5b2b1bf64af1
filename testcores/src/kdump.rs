//! kdump-compressed dumps (`makedumpfile -c/-l/-p/-z`, signature `KDUMP   `), written from the
//! layout in makedumpfile's `diskdump_mod.h` for x86-64 (LP64, little-endian).
//!
//! File layout (block = page size):
//!
//! | where | what |
//! |---|---|
//! | block 0 | `disk_dump_header` (464 bytes) |
//! | block 1.. | `kdump_sub_header` (size by version, see below), then for v3 the raw VMCOREINFO text, for v4+ the ELF note section (`CORE` PRSTATUS per CPU, then `VMCOREINFO`), `offset_vmcoreinfo` pointing at the VMCOREINFO note's descriptor |
//! | block 1 + `sub_hdr_size` | 1st bitmap (RAM pfns), `bitmap_blocks / 2` blocks, LSB first |
//! | then | 2nd bitmap (dumped pfns), `bitmap_blocks / 2` blocks |
//! | then | one 24-byte `page_desc` per dumped pfn, in pfn order |
//! | then | page data (with `zero_page_dedup`, one shared zero page first) |
//!
//! Where VMCOREINFO goes by `header_version`: v1 and v2 have no place for it (a reader of such a
//! file has no VMCOREINFO at all); v3 stores the text right after the sub header
//! (`offset_vmcoreinfo`/`size_vmcoreinfo`); v4+ stores the ELF notes (`offset_note`/`size_note`)
//! and `offset_vmcoreinfo` points into them, as makedumpfile does. The sub header is written
//! with the size it had in its version (16, 32, 48, 64, 80, 104 bytes for v1..v6), so readers
//! must use the offsets, not assume the v6 size. Versions above 6 are written with the v6 sub
//! header and the header field as given.

use std::ops::Range;

use crate::compress::{Codec, PageCompressor, FLAG_INCOMPLETE};
use crate::image::MemoryImage;
use crate::notes::note_section;

/// Size of `struct disk_dump_header` on x86-64.
pub const DISK_DUMP_HEADER_SIZE: usize = 464;
/// Size of `struct page_desc`.
pub const PAGE_DESC_SIZE: usize = 24;
/// `KDUMP_SIGNATURE`.
pub const KDUMP_SIGNATURE: &[u8; 8] = b"KDUMP   ";

/// Byte offsets of `disk_dump_header` fields (x86-64).
pub mod header {
    pub const SIGNATURE: usize = 0;
    pub const HEADER_VERSION: usize = 8;
    pub const UTSNAME: usize = 12;
    /// `struct timeval` is 8-aligned: 12 + 6 * 65 = 402 rounds up to 408.
    pub const TIMESTAMP_SEC: usize = 408;
    pub const TIMESTAMP_USEC: usize = 416;
    pub const STATUS: usize = 424;
    pub const BLOCK_SIZE: usize = 428;
    pub const SUB_HDR_SIZE: usize = 432;
    pub const BITMAP_BLOCKS: usize = 436;
    pub const MAX_MAPNR: usize = 440;
    pub const TOTAL_RAM_BLOCKS: usize = 444;
    pub const DEVICE_BLOCKS: usize = 448;
    pub const WRITTEN_BLOCKS: usize = 452;
    pub const CURRENT_CPU: usize = 456;
    pub const NR_CPUS: usize = 460;
}

/// Byte offsets of `kdump_sub_header` fields, relative to its start (block 1).
pub mod sub_header {
    pub const PHYS_BASE: usize = 0;
    pub const DUMP_LEVEL: usize = 8;
    pub const SPLIT: usize = 12;
    pub const START_PFN: usize = 16;
    pub const END_PFN: usize = 24;
    pub const OFFSET_VMCOREINFO: usize = 32;
    pub const SIZE_VMCOREINFO: usize = 40;
    pub const OFFSET_NOTE: usize = 48;
    pub const SIZE_NOTE: usize = 56;
    pub const OFFSET_ERASEINFO: usize = 64;
    pub const SIZE_ERASEINFO: usize = 72;
    pub const START_PFN_64: usize = 80;
    pub const END_PFN_64: usize = 88;
    pub const MAX_MAPNR_64: usize = 96;

    /// Size of the sub header as written for `version` (1..=6; larger as 6).
    pub fn size_for_version(version: u32) -> usize {
        match version {
            0 | 1 => 16,
            2 => 32,
            3 => 48,
            4 => 64,
            5 => 80,
            _ => 104,
        }
    }
}

/// How to write a kdump-compressed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdumpOptions {
    /// `header_version` (1..=6; makedumpfile writes 6). See the module docs for what each adds.
    pub header_version: u32,
    /// Page compression; pages that do not shrink are stored raw (flags 0).
    pub codec: Codec,
    /// All-zero dumped pages share one descriptor target: a raw zero page written first in the
    /// data area (makedumpfile does this for `-d` with bit 1).
    pub zero_page_dedup: bool,
    /// `Some(n)`: an interrupted dump. Header `status` gets `DUMP_DH_COMPRESSED_INCOMPLETE`,
    /// only the first `n` dumped pages (pfn order) get a descriptor and data, the remaining
    /// descriptors are zero bytes (as unwritten parts of the file read) and the file ends right
    /// after the last written page data.
    pub incomplete: Option<usize>,
}

impl Default for KdumpOptions {
    /// Version 6, zlib, no zero-page sharing, complete.
    fn default() -> Self {
        KdumpOptions {
            header_version: 6,
            codec: Codec::Zlib,
            zero_page_dedup: false,
            incomplete: None,
        }
    }
}

/// Where one dumped page landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRecord {
    /// The page frame number.
    pub pfn: u64,
    /// File offset of this page's `page_desc`.
    pub desc_at: u64,
    /// `page_desc.offset`: file offset of the data (0 when not written).
    pub offset: u64,
    /// `page_desc.size` (0 when not written).
    pub size: u32,
    /// `page_desc.flags` (codec flag or 0).
    pub flags: u32,
    /// False for pages cut off by [`KdumpOptions::incomplete`]: their descriptor is zeros.
    pub written: bool,
}

/// Where each part of a written kdump file is (file offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdumpLayout {
    /// Block size (= page size).
    pub block_size: u64,
    /// `sub_hdr_size` in blocks.
    pub sub_hdr_blocks: u64,
    /// `bitmap_blocks` (both bitmaps).
    pub bitmap_blocks: u64,
    /// The sub header as written for the version.
    pub sub_header: Range<u64>,
    /// ELF note section (v4+ with CPUs or VMCOREINFO).
    pub notes: Option<Range<u64>>,
    /// VMCOREINFO text (v3+ with VMCOREINFO).
    pub vmcoreinfo: Option<Range<u64>>,
    /// 1st bitmap (RAM).
    pub bitmap1: Range<u64>,
    /// 2nd bitmap (dumped pages).
    pub bitmap2: Range<u64>,
    /// The page descriptor table.
    pub descs: Range<u64>,
    /// Start of page data.
    pub data_start: u64,
    /// The shared zero page, with `zero_page_dedup`.
    pub zero_page: Option<u64>,
    /// Every dumped pfn, in descriptor order.
    pub pages: Vec<PageRecord>,
    /// Total file length.
    pub file_len: u64,
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_str(buf: &mut [u8], at: usize, field_len: usize, s: &str) {
    // Leave at least one NUL, as the kernel's utsname fields always have one.
    let n = s.len().min(field_len - 1);
    buf[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Writes `img` as a kdump-compressed file.
///
/// ```
/// use testcores::{write_kdump, Codec, KdumpOptions, MemoryImage};
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0..64);
/// img.write_phys(0x3000, b"hello").unwrap();
/// let bytes = write_kdump(&img, &KdumpOptions { codec: Codec::Lzo, ..Default::default() });
/// assert_eq!(&bytes[..8], b"KDUMP   ");
/// ```
pub fn write_kdump(img: &MemoryImage, opts: &KdumpOptions) -> Vec<u8> {
    write_kdump_with_layout(img, opts).0
}

/// [`write_kdump`], also telling where each part landed.
pub fn write_kdump_with_layout(img: &MemoryImage, opts: &KdumpOptions) -> (Vec<u8>, KdumpLayout) {
    let mut out = Vec::new();
    let layout = write_kdump_into(img, opts, &mut out).expect("writing to memory cannot fail");
    (out, layout)
}

/// [`write_kdump`] into a file, sparse: bitmap stretches with no bit set and unwritten descriptors stay
/// holes, so a machine of terabytes with few dumped pages takes little disk (`du`, not `ls`). The 1st bitmap
/// of a big machine is all ones, and so takes `RAM / 32768` bytes.
///
/// ```no_run
/// use testcores::{write_kdump_file, KdumpOptions, MemoryImage};
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0..1 << 32); // 16 TiB of 4 KiB pages: needs header version 6 (max_mapnr_64)
/// img.write_phys(0x3000, b"hello").unwrap();
/// let mut f = std::fs::File::create("/tmp/16t.kdump").unwrap();
/// write_kdump_file(&img, &KdumpOptions::default(), &mut f).unwrap();
/// ```
pub fn write_kdump_file(
    img: &MemoryImage,
    opts: &KdumpOptions,
    file: &mut std::fs::File,
) -> std::io::Result<KdumpLayout> {
    write_kdump_into(img, opts, file)
}

/// Where a kdump file is written: a growing buffer, or a file written at offsets (leaving holes).
trait Sink {
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()>;
    /// Grow (or shrink) to `len`, new bytes reading as zeros.
    fn set_len(&mut self, len: u64) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        let end = at as usize + bytes.len();
        if self.len() < end {
            self.resize(end, 0);
        }
        self[at as usize..end].copy_from_slice(bytes);
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.resize(len as usize, 0);
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, bytes, at)
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        std::fs::File::set_len(self, len)
    }
}

/// Bitmap bytes built and written at once.
const BITMAP_WINDOW: u64 = 1 << 20;

/// Write a bitmap of `nbytes` bytes at `at` with the bits of the sorted, disjoint `ranges` set, a window at a
/// time; windows with no bit set are not written (zeros, or holes in a file).
fn write_bitmap(
    sink: &mut impl Sink,
    at: u64,
    nbytes: u64,
    ranges: &[Range<u64>],
) -> std::io::Result<()> {
    let mut buf = vec![0u8; BITMAP_WINDOW.min(nbytes) as usize];
    let mut first = 0; // first range that may reach the current window
    let mut w = 0;
    let set = |buf: &mut [u8], bits: Range<u64>| {
        for bit in bits {
            buf[(bit / 8) as usize] |= 1 << (bit % 8);
        }
    };
    while w < nbytes {
        let len = BITMAP_WINDOW.min(nbytes - w);
        let (lo, hi) = (w * 8, (w + len) * 8);
        while first < ranges.len() && ranges[first].end <= lo {
            first += 1;
        }
        let mut any = false;
        for r in ranges[first..].iter().take_while(|r| r.start < hi) {
            let (a, b) = (r.start.max(lo) - lo, r.end.min(hi) - lo);
            if a >= b {
                continue;
            }
            any = true;
            let (fa, fb) = (a.div_ceil(8), b / 8);
            if fa > fb {
                set(&mut buf, a..b);
                continue;
            }
            set(&mut buf, a..fa * 8);
            buf[fa as usize..fb as usize].fill(0xff);
            set(&mut buf, fb * 8..b);
        }
        if any {
            sink.write_at(at + w, &buf[..len as usize])?;
            buf.fill(0);
        }
        w += len;
    }
    Ok(())
}

fn write_kdump_into(
    img: &MemoryImage,
    opts: &KdumpOptions,
    sink: &mut impl Sink,
) -> std::io::Result<KdumpLayout> {
    let bs = img.page_size as usize;
    let version = opts.header_version;
    let v = version.clamp(1, 6);
    let max_mapnr = img.max_pfn();

    // Sub header and what follows it in the sub-header blocks.
    let sh_size = sub_header::size_for_version(v);
    let mut sh = vec![0u8; sh_size];
    put_u64(&mut sh, sub_header::PHYS_BASE, img.phys_base);
    put_u32(&mut sh, sub_header::DUMP_LEVEL, img.dump_level as u32);
    let sh_at = bs;
    let mut extra = Vec::new();
    let mut notes_range = None;
    let mut vmci_range = None;
    if v == 3 {
        if let Some(text) = &img.vmcoreinfo {
            let at = (sh_at + sh_size) as u64;
            put_u64(&mut sh, sub_header::OFFSET_VMCOREINFO, at);
            put_u64(&mut sh, sub_header::SIZE_VMCOREINFO, text.len() as u64);
            vmci_range = Some(at..at + text.len() as u64);
            extra.extend_from_slice(text.as_bytes());
        }
    } else if v >= 4 {
        let (notes, vmci) = note_section(img, false, true);
        if !notes.is_empty() {
            let at = (sh_at + sh_size) as u64;
            put_u64(&mut sh, sub_header::OFFSET_NOTE, at);
            put_u64(&mut sh, sub_header::SIZE_NOTE, notes.len() as u64);
            notes_range = Some(at..at + notes.len() as u64);
            if let Some(r) = vmci {
                let start = at + r.start as u64;
                put_u64(&mut sh, sub_header::OFFSET_VMCOREINFO, start);
                put_u64(&mut sh, sub_header::SIZE_VMCOREINFO, r.len() as u64);
                vmci_range = Some(start..start + r.len() as u64);
            }
            extra = notes;
        }
    }
    if v >= 6 {
        put_u64(&mut sh, sub_header::MAX_MAPNR_64, max_mapnr);
    }
    let sub_hdr_blocks = (sh_size + extra.len()).div_ceil(bs).max(1);

    // Bitmaps: each rounded up to whole blocks, like makedumpfile's len_bitmap.
    let one_bitmap_blocks = (max_mapnr.div_ceil(8) as usize).div_ceil(bs);
    let bitmap_blocks = 2 * one_bitmap_blocks;
    let bitmap1_at = (1 + sub_hdr_blocks) * bs;
    let bitmap2_at = bitmap1_at + one_bitmap_blocks * bs;
    let descs_at = bitmap2_at + one_bitmap_blocks * bs;

    let dumped: Vec<(u64, &Vec<u8>)> = img
        .pages
        .iter()
        .filter(|(pfn, _)| img.is_ram(**pfn))
        .map(|(pfn, data)| (*pfn, data))
        .collect();
    let data_at = descs_at + PAGE_DESC_SIZE * dumped.len();

    // Header block and sub header (small: built in memory), then the rest written at its offsets.
    let head_len = sh_at + sh_size + extra.len();
    let mut out = vec![0u8; head_len];

    // disk_dump_header
    out[..8].copy_from_slice(KDUMP_SIGNATURE);
    put_u32(&mut out, header::HEADER_VERSION, version);
    let uts = [
        &img.sysname,
        &img.nodename,
        &img.release,
        &img.version,
        &img.machine,
        &img.domainname,
    ];
    for (i, s) in uts.iter().enumerate() {
        put_str(&mut out, header::UTSNAME + 65 * i, 65, s);
    }
    put_u64(&mut out, header::TIMESTAMP_SEC, img.timestamp.0 as u64);
    put_u64(&mut out, header::TIMESTAMP_USEC, img.timestamp.1 as u64);
    let mut status = opts.codec.flag();
    if opts.incomplete.is_some() {
        status |= FLAG_INCOMPLETE;
    }
    put_u32(&mut out, header::STATUS, status);
    put_u32(&mut out, header::BLOCK_SIZE, bs as u32);
    put_u32(&mut out, header::SUB_HDR_SIZE, sub_hdr_blocks as u32);
    put_u32(&mut out, header::BITMAP_BLOCKS, bitmap_blocks as u32);
    put_u32(
        &mut out,
        header::MAX_MAPNR,
        max_mapnr.min(u64::from(u32::MAX)) as u32,
    );
    put_u32(&mut out, header::NR_CPUS, img.cpus.len() as u32);

    // sub header and notes / vmcoreinfo
    out[sh_at..sh_at + sh_size].copy_from_slice(&sh);
    out[sh_at + sh_size..sh_at + sh_size + extra.len()].copy_from_slice(&extra);
    sink.set_len(0)?;
    sink.set_len(data_at as u64)?;
    sink.write_at(0, &out)?;

    // bitmaps
    let bitmap_bytes = (one_bitmap_blocks * bs) as u64;
    write_bitmap(sink, bitmap1_at as u64, bitmap_bytes, &img.ram)?;
    let mut dumped_runs: Vec<Range<u64>> = Vec::new();
    for (pfn, _) in &dumped {
        match dumped_runs.last_mut() {
            Some(r) if r.end == *pfn => r.end += 1,
            _ => dumped_runs.push(*pfn..*pfn + 1),
        }
    }
    write_bitmap(sink, bitmap2_at as u64, bitmap_bytes, &dumped_runs)?;

    // page descriptors and data
    let written_limit = opts.incomplete.unwrap_or(usize::MAX);
    let mut end = data_at as u64;
    let mut zero_page = None;
    if opts.zero_page_dedup {
        zero_page = Some(end);
        end += bs as u64;
        sink.set_len(end)?;
    }
    let mut descs = vec![0u8; PAGE_DESC_SIZE * dumped.len()];
    let mut pages = Vec::with_capacity(dumped.len());
    let mut compressor = PageCompressor::new(opts.codec);
    for (i, (pfn, data)) in dumped.iter().enumerate() {
        let desc_at = descs_at + PAGE_DESC_SIZE * i;
        let mut rec = PageRecord {
            pfn: *pfn,
            desc_at: desc_at as u64,
            offset: 0,
            size: 0,
            flags: 0,
            written: false,
        };
        if i < written_limit {
            match zero_page {
                Some(zp) if data.iter().all(|b| *b == 0) => {
                    rec.offset = zp;
                    rec.size = bs as u32;
                }
                _ => {
                    let (bytes, flags) = compressor.compress_page(data);
                    rec.offset = end;
                    rec.size = bytes.len() as u32;
                    rec.flags = flags;
                    sink.write_at(end, &bytes)?;
                    end += bytes.len() as u64;
                }
            }
            rec.written = true;
            let d = PAGE_DESC_SIZE * i;
            put_u64(&mut descs, d, rec.offset);
            put_u32(&mut descs, d + 8, rec.size);
            put_u32(&mut descs, d + 12, rec.flags);
            // page_flags stays 0, as makedumpfile writes it.
        }
        pages.push(rec);
    }
    sink.write_at(descs_at as u64, &descs)?;

    Ok(KdumpLayout {
        block_size: bs as u64,
        sub_hdr_blocks: sub_hdr_blocks as u64,
        bitmap_blocks: bitmap_blocks as u64,
        sub_header: sh_at as u64..(sh_at + sh_size) as u64,
        notes: notes_range,
        vmcoreinfo: vmci_range,
        bitmap1: bitmap1_at as u64..bitmap2_at as u64,
        bitmap2: bitmap2_at as u64..descs_at as u64,
        descs: descs_at as u64..data_at as u64,
        data_start: data_at as u64,
        zero_page,
        pages,
        file_len: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::CpuState;
    use std::io::Read;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn image() -> MemoryImage {
        let mut img = MemoryImage::new(4096);
        img.add_ram(1..0x9f);
        img.add_ram(0x100..0x200);
        img.fill_pattern(0x100..0x120);
        img.write_phys(0x5000, &[0; 16]).unwrap(); // an all-zero dumped page (pfn 5)
        img.write_phys(0x1f0_000, b"last").unwrap();
        img.vmcoreinfo = Some("OSRELEASE=6.1.0-test\nPAGESIZE=4096\n".into());
        img.cpus = vec![CpuState::new(11), CpuState::new(12)];
        img.phys_base = 0xffff_ffff_e200_0000;
        img
    }

    #[test]
    fn header_fields_land_where_the_spec_says() {
        let img = image();
        let (b, l) = write_kdump_with_layout(&img, &KdumpOptions::default());
        assert_eq!(&b[..8], b"KDUMP   ");
        assert_eq!(u32_at(&b, header::HEADER_VERSION), 6);
        assert_eq!(&b[12..17], b"Linux");
        assert_eq!(&b[12 + 2 * 65..12 + 2 * 65 + 15], b"6.1.0-testcores");
        assert_eq!(&b[12 + 4 * 65..12 + 4 * 65 + 6], b"x86_64");
        assert_eq!(u64_at(&b, 408), 1_700_000_000);
        assert_eq!(u64_at(&b, 416), 123_456);
        assert_eq!(u32_at(&b, header::STATUS), 1); // zlib
        assert_eq!(u32_at(&b, header::BLOCK_SIZE), 4096);
        assert_eq!(u32_at(&b, header::MAX_MAPNR), 0x200);
        assert_eq!(u32_at(&b, header::NR_CPUS), 2);
        // 0x200 pfns -> 64 bytes of bitmap -> one block each
        assert_eq!(u32_at(&b, header::BITMAP_BLOCKS), 2);
        let sh = 4096;
        assert_eq!(
            u64_at(&b, sh + sub_header::PHYS_BASE),
            0xffff_ffff_e200_0000
        );
        assert_eq!(u32_at(&b, sh + sub_header::DUMP_LEVEL), 31);
        assert_eq!(u64_at(&b, sh + sub_header::MAX_MAPNR_64), 0x200);
        // Notes right after the 104-byte sub header.
        assert_eq!(u64_at(&b, sh + sub_header::OFFSET_NOTE), 4096 + 104);
        let note_len = u64_at(&b, sh + sub_header::SIZE_NOTE) as usize;
        assert_eq!(note_len, 2 * (12 + 8 + 336) + 12 + 12 + 36);
        let vo = u64_at(&b, sh + sub_header::OFFSET_VMCOREINFO) as usize;
        let vs = u64_at(&b, sh + sub_header::SIZE_VMCOREINFO) as usize;
        assert_eq!(&b[vo..vo + vs], img.vmcoreinfo.as_ref().unwrap().as_bytes());
        assert_eq!(&b[vo - 12..vo - 1], b"VMCOREINFO\0");
        // The first CORE note's pid.
        let n0 = 4096 + 104;
        assert_eq!(&b[n0 + 12..n0 + 17], b"CORE\0");
        assert_eq!(u32_at(&b, n0 + 20 + 32), 11);
        // Layout consistent with header fields.
        assert_eq!(l.bitmap1.start, (1 + l.sub_hdr_blocks) * 4096);
        assert_eq!(l.descs.start, l.bitmap2.end);
        assert_eq!(l.file_len, b.len() as u64);
    }

    #[test]
    fn bitmaps_are_lsb_first() {
        let img = image();
        let (b, l) = write_kdump_with_layout(&img, &KdumpOptions::default());
        let bm1 = &b[l.bitmap1.start as usize..l.bitmap1.end as usize];
        let bm2 = &b[l.bitmap2.start as usize..l.bitmap2.end as usize];
        let bit = |bm: &[u8], pfn: u64| bm[(pfn / 8) as usize] >> (pfn % 8) & 1 == 1;
        assert!(!bit(bm1, 0));
        assert!(bit(bm1, 1));
        assert_eq!(bm1[0], 0xfe);
        assert!(bit(bm1, 0x9e) && !bit(bm1, 0x9f) && !bit(bm1, 0xff) && bit(bm1, 0x100));
        assert!(bit(bm2, 5) && !bit(bm2, 4) && bit(bm2, 0x100) && bit(bm2, 0x1f0));
        assert!(!bit(bm2, 0x120));
        let dumped: u32 = bm2.iter().map(|x| x.count_ones()).sum();
        assert_eq!(dumped as usize, l.pages.len());
        assert_eq!(l.pages.len(), 34);
    }

    #[test]
    fn every_codec_decodes_to_the_page() {
        let img = image();
        for codec in [
            Codec::Raw,
            Codec::Zlib,
            Codec::Lzo,
            Codec::Snappy,
            Codec::Zstd,
        ] {
            let opts = KdumpOptions {
                codec,
                ..Default::default()
            };
            let (b, l) = write_kdump_with_layout(&img, &opts);
            assert_eq!(u32_at(&b, header::STATUS), codec.flag());
            let mut compressed = 0;
            for rec in &l.pages {
                let d = rec.desc_at as usize;
                assert_eq!(u64_at(&b, d), rec.offset);
                assert_eq!(u32_at(&b, d + 8), rec.size);
                assert_eq!(u32_at(&b, d + 12), rec.flags);
                assert_eq!(u64_at(&b, d + 16), 0);
                let raw = &b[rec.offset as usize..rec.offset as usize + rec.size as usize];
                let page = match rec.flags {
                    0 => raw.to_vec(),
                    1 => {
                        let mut o = Vec::new();
                        flate2::read::ZlibDecoder::new(raw)
                            .read_to_end(&mut o)
                            .unwrap();
                        o
                    }
                    2 => lzokay_native::decompress_all(raw, Some(4096)).unwrap(),
                    4 => snap::raw::Decoder::new().decompress_vec(raw).unwrap(),
                    0x20 => zstd::bulk::decompress(raw, 4096).unwrap(),
                    f => panic!("unexpected flags {f}"),
                };
                if rec.flags != 0 {
                    compressed += 1;
                    assert!(rec.size < 4096);
                }
                assert_eq!(
                    page,
                    img.page(rec.pfn).unwrap(),
                    "{codec:?} pfn {}",
                    rec.pfn
                );
            }
            if codec == Codec::Raw {
                assert_eq!(compressed, 0);
            } else {
                assert_eq!(compressed, l.pages.len(), "{codec:?}");
            }
        }
    }

    #[test]
    fn zero_pages_share_one_target() {
        let mut img = image();
        img.write_phys(0x6000, &[0; 1]).unwrap();
        let opts = KdumpOptions {
            zero_page_dedup: true,
            ..Default::default()
        };
        let (b, l) = write_kdump_with_layout(&img, &opts);
        let zp = l.zero_page.unwrap();
        assert_eq!(zp, l.data_start);
        assert!(b[zp as usize..zp as usize + 4096].iter().all(|x| *x == 0));
        let zeros: Vec<_> = l.pages.iter().filter(|r| r.offset == zp).collect();
        assert_eq!(zeros.len(), 2);
        assert!(zeros.iter().all(|r| r.size == 4096 && r.flags == 0));
    }

    #[test]
    fn older_versions_place_vmcoreinfo_by_their_rules() {
        let img = image();
        for v in 1..=6u32 {
            let opts = KdumpOptions {
                header_version: v,
                ..Default::default()
            };
            let (b, l) = write_kdump_with_layout(&img, &opts);
            assert_eq!(u32_at(&b, header::HEADER_VERSION), v);
            assert_eq!(
                l.sub_header.end - l.sub_header.start,
                sub_header::size_for_version(v) as u64
            );
            match v {
                1 | 2 => assert!(l.vmcoreinfo.is_none() && l.notes.is_none()),
                3 => {
                    let r = l.vmcoreinfo.clone().unwrap();
                    assert_eq!(r.start, 4096 + 48);
                    assert_eq!(u64_at(&b, 4096 + sub_header::OFFSET_VMCOREINFO), r.start);
                    assert!(l.notes.is_none());
                }
                _ => {
                    let n = l.notes.clone().unwrap();
                    assert_eq!(u64_at(&b, 4096 + sub_header::OFFSET_NOTE), n.start);
                    let r = l.vmcoreinfo.clone().unwrap();
                    assert!(n.start < r.start && r.end <= n.end);
                }
            }
            // v1/v2: nothing after the sub header up to the bitmaps.
            if v <= 2 {
                let sh_end = l.sub_header.end as usize;
                assert!(b[sh_end..l.bitmap1.start as usize].iter().all(|x| *x == 0));
            }
            if let Some(r) = &l.vmcoreinfo {
                assert_eq!(
                    &b[r.start as usize..r.end as usize],
                    img.vmcoreinfo.as_ref().unwrap().as_bytes()
                );
            }
        }
    }

    #[test]
    fn incomplete_dump_stops_part_way() {
        let img = image();
        let full = write_kdump(&img, &KdumpOptions::default());
        let opts = KdumpOptions {
            incomplete: Some(10),
            ..Default::default()
        };
        let (b, l) = write_kdump_with_layout(&img, &opts);
        assert_eq!(u32_at(&b, header::STATUS), 1 | 8);
        assert!(b.len() < full.len());
        let last_written = &l.pages[9];
        assert_eq!(
            b.len() as u64,
            last_written.offset + u64::from(last_written.size)
        );
        for rec in &l.pages[10..] {
            assert!(!rec.written);
            let d = rec.desc_at as usize;
            assert!(b[d..d + 24].iter().all(|x| *x == 0));
        }
        assert!(l.pages[..10].iter().all(|r| r.written));
    }

    #[test]
    fn big_note_section_spans_blocks() {
        let mut img = image();
        img.cpus = (0..40).map(CpuState::new).collect();
        let (b, l) = write_kdump_with_layout(&img, &KdumpOptions::default());
        assert!(l.sub_hdr_blocks > 1);
        assert_eq!(u32_at(&b, header::SUB_HDR_SIZE) as u64, l.sub_hdr_blocks);
        assert!(l.notes.unwrap().end <= l.bitmap1.start);
    }

    #[test]
    fn deterministic() {
        let img = image();
        for codec in [Codec::Zlib, Codec::Lzo, Codec::Snappy, Codec::Zstd] {
            let o = KdumpOptions {
                codec,
                ..Default::default()
            };
            assert_eq!(write_kdump(&img, &o), write_kdump(&img, &o));
        }
    }
}
