//! Damaged variants of valid dumps, for testing that readers fail cleanly (an error, never a
//! panic, a hang or a huge allocation).
//!
//! Every function takes the bytes of a valid dump (from this crate's writers, or a real one),
//! finds what it damages by parsing the fixed-format headers (so nothing depends on how the file
//! was written), and returns a damaged copy. Each documents what it breaks.
//!
//! ```
//! use testcores::{damage, write_kdump, KdumpOptions, MemoryImage};
//! let mut img = MemoryImage::new(4096);
//! img.add_ram(0..32);
//! img.fill_pattern(0..32);
//! let good = write_kdump(&img, &KdumpOptions::default());
//! let bad = damage::kdump_block_size(&good, 0).unwrap();
//! assert_eq!(bad.len(), good.len());
//! ```

use crate::elf::{ehdr, phdr, PN_XNUM, PT_LOAD, PT_NOTE};
use crate::flat::{FLAT_HEADER_SIZE, FLAT_SIGNATURE, RECORD_HEADER_SIZE};
use crate::kdump::{header, sub_header, KDUMP_SIGNATURE, PAGE_DESC_SIZE};

/// Why a damage could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DamageError {
    /// The input is not the kind of dump the function damages.
    #[error("input is not a valid {0} dump")]
    Format(&'static str),
    /// The input has no such part (index past the end, no compressed page, ...).
    #[error("input has no {0}")]
    Missing(&'static str),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn i64_be_at(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn with(bytes: &[u8], at: usize, new: &[u8], what: &'static str) -> Result<Vec<u8>, DamageError> {
    let mut out = bytes.to_vec();
    out.get_mut(at..at + new.len())
        .ok_or(DamageError::Missing(what))?
        .copy_from_slice(new);
    Ok(out)
}

// ---------------------------------------------------------------- any format

/// The first `at` bytes (all of them when shorter). Breaks whatever lies past `at`: headers,
/// tables or page data a reader must notice are missing.
pub fn truncate(bytes: &[u8], at: usize) -> Vec<u8> {
    bytes[..at.min(bytes.len())].to_vec()
}

/// Alters one byte of the format's signature (`KDUMP   `, `\x7fELF`, `makedumpfile`), so the
/// file is no known format.
pub fn wrong_magic(bytes: &[u8]) -> Result<Vec<u8>, DamageError> {
    if bytes.starts_with(KDUMP_SIGNATURE) || bytes.starts_with(FLAT_SIGNATURE) {
        with(bytes, 0, &[bytes[0] ^ 0x20], "signature")
    } else if bytes.starts_with(b"\x7fELF") {
        with(bytes, 3, b"G", "signature")
    } else {
        Err(DamageError::Format("kdump, ELF or flattened"))
    }
}

// ---------------------------------------------------------------- kdump-compressed

struct Kdump {
    block_size: usize,
    sub_hdr_blocks: usize,
    bitmap_blocks: usize,
    version: u32,
}

impl Kdump {
    fn parse(b: &[u8]) -> Result<Kdump, DamageError> {
        let bad = DamageError::Format("kdump-compressed");
        if !b.starts_with(KDUMP_SIGNATURE) {
            return Err(bad);
        }
        let field = |at| u32_at(b, at).ok_or(DamageError::Format("kdump-compressed"));
        let k = Kdump {
            version: field(header::HEADER_VERSION)?,
            block_size: field(header::BLOCK_SIZE)? as usize,
            sub_hdr_blocks: field(header::SUB_HDR_SIZE)? as usize,
            bitmap_blocks: field(header::BITMAP_BLOCKS)? as usize,
        };
        if !k.block_size.is_power_of_two() || k.bitmap_blocks % 2 != 0 {
            return Err(bad);
        }
        Ok(k)
    }

    fn bitmap2(&self) -> usize {
        (1 + self.sub_hdr_blocks + self.bitmap_blocks / 2) * self.block_size
    }

    fn descs(&self) -> usize {
        (1 + self.sub_hdr_blocks + self.bitmap_blocks) * self.block_size
    }

    /// The pfn of descriptor `index`: the index-th set bit of the 2nd bitmap.
    fn pfn_of(&self, b: &[u8], index: usize) -> Option<u64> {
        let start = self.bitmap2();
        let bm = b.get(start..start + self.bitmap_blocks / 2 * self.block_size)?;
        let mut seen = 0usize;
        for (i, byte) in bm.iter().enumerate() {
            let ones = byte.count_ones() as usize;
            if seen + ones > index {
                let mut k = seen;
                for bit in 0..8 {
                    if byte >> bit & 1 == 1 {
                        if k == index {
                            return Some(i as u64 * 8 + bit);
                        }
                        k += 1;
                    }
                }
            }
            seen += ones;
        }
        None
    }

    fn desc_at(&self, b: &[u8], index: usize) -> Result<usize, DamageError> {
        self.pfn_of(b, index)
            .ok_or(DamageError::Missing("page descriptor with that index"))?;
        let at = self.descs() + PAGE_DESC_SIZE * index;
        if at + PAGE_DESC_SIZE > b.len() {
            return Err(DamageError::Missing("page descriptor with that index"));
        }
        Ok(at)
    }
}

fn kdump_header_u32(bytes: &[u8], at: usize, v: u32) -> Result<Vec<u8>, DamageError> {
    Kdump::parse(bytes)?;
    with(bytes, at, &v.to_le_bytes(), "header")
}

/// Sets `block_size`. 0 breaks every offset computed in blocks (and divides by zero in naive
/// readers); a non-power of two (e.g. 3000) or a huge value (e.g. `1 << 30`, or negative) puts the
/// sub header, bitmaps and descriptors elsewhere or past the end of the file.
pub fn kdump_block_size(bytes: &[u8], block_size: i32) -> Result<Vec<u8>, DamageError> {
    kdump_header_u32(bytes, header::BLOCK_SIZE, block_size as u32)
}

/// Sets `sub_hdr_size` (in blocks): a wild value moves the bitmaps and descriptor table past the
/// end of the file (or, negative, before the header).
pub fn kdump_sub_hdr_size(bytes: &[u8], blocks: i32) -> Result<Vec<u8>, DamageError> {
    kdump_header_u32(bytes, header::SUB_HDR_SIZE, blocks as u32)
}

/// Sets `bitmap_blocks`: a wild value makes the bitmaps run past the end of the file (and odd
/// values make the two halves unequal).
pub fn kdump_bitmap_blocks(bytes: &[u8], blocks: u32) -> Result<Vec<u8>, DamageError> {
    kdump_header_u32(bytes, header::BITMAP_BLOCKS, blocks)
}

/// Sets `max_mapnr` (header, clamped to u32) and, for header version 6+, `max_mapnr_64`: a huge
/// value claims bitmaps far larger than `bitmap_blocks` and the file (a reader must not allocate
/// by it).
pub fn kdump_max_mapnr(bytes: &[u8], max_mapnr: u64) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let clamped = max_mapnr.min(u64::from(u32::MAX)) as u32;
    let mut out = with(bytes, header::MAX_MAPNR, &clamped.to_le_bytes(), "header")?;
    if k.version >= 6 {
        out = with(
            &out,
            k.block_size + sub_header::MAX_MAPNR_64,
            &max_mapnr.to_le_bytes(),
            "sub header",
        )?;
    }
    Ok(out)
}

/// Sets the sub header's `offset_note` and `size_note` (v4+ fields; written whatever the
/// version): e.g. a size past the end of the file, or an offset inside the bitmaps.
pub fn kdump_note_region(bytes: &[u8], offset: u64, size: u64) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let sh = k.block_size;
    let out = with(
        bytes,
        sh + sub_header::OFFSET_NOTE,
        &offset.to_le_bytes(),
        "sub header",
    )?;
    with(
        &out,
        sh + sub_header::SIZE_NOTE,
        &size.to_le_bytes(),
        "sub header",
    )
}

/// Sets the sub header's `offset_vmcoreinfo` and `size_vmcoreinfo` (v3+ fields).
pub fn kdump_vmcoreinfo_region(
    bytes: &[u8],
    offset: u64,
    size: u64,
) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let sh = k.block_size;
    let out = with(
        bytes,
        sh + sub_header::OFFSET_VMCOREINFO,
        &offset.to_le_bytes(),
        "sub header",
    )?;
    with(
        &out,
        sh + sub_header::SIZE_VMCOREINFO,
        &size.to_le_bytes(),
        "sub header",
    )
}

/// The pfn that page descriptor `index` describes (the index-th set bit of the 2nd bitmap), to
/// know which page a descriptor damage hits.
pub fn kdump_desc_pfn(bytes: &[u8], index: usize) -> Result<u64, DamageError> {
    let k = Kdump::parse(bytes)?;
    k.pfn_of(bytes, index)
        .ok_or(DamageError::Missing("page descriptor with that index"))
}

/// Sets `page_desc.offset` of descriptor `index`: beyond EOF (data missing) or negative.
pub fn kdump_page_desc_offset(
    bytes: &[u8],
    index: usize,
    offset: i64,
) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let at = k.desc_at(bytes, index)?;
    with(bytes, at, &offset.to_le_bytes(), "page descriptor")
}

/// Sets `page_desc.size` of descriptor `index`: 0, or larger than `block_size` (a compressed page
/// can never be larger than a page; a raw page must be exactly one).
pub fn kdump_page_desc_size(bytes: &[u8], index: usize, size: u32) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let at = k.desc_at(bytes, index)?;
    with(bytes, at + 8, &size.to_le_bytes(), "page descriptor")
}

/// Sets `page_desc.flags` of descriptor `index`: e.g. an unknown codec bit, or several codecs.
pub fn kdump_page_desc_flags(
    bytes: &[u8],
    index: usize,
    flags: u32,
) -> Result<Vec<u8>, DamageError> {
    let k = Kdump::parse(bytes)?;
    let at = k.desc_at(bytes, index)?;
    with(bytes, at + 12, &flags.to_le_bytes(), "page descriptor")
}

/// Overwrites the data of the first compressed page with 0xff bytes, which no codec accepts
/// (zlib: bad header; LZO: literal run past the input; snappy: overlong length varint; zstd: bad
/// magic). Returns the damaged file and the pfn of that page; other pages stay readable.
pub fn kdump_corrupt_compressed_page(bytes: &[u8]) -> Result<(Vec<u8>, u64), DamageError> {
    let k = Kdump::parse(bytes)?;
    let mut index = 0;
    while let Some(pfn) = k.pfn_of(bytes, index) {
        let at = k.descs() + PAGE_DESC_SIZE * index;
        let (Some(off), Some(size), Some(flags)) = (
            u64_at(bytes, at),
            u32_at(bytes, at + 8),
            u32_at(bytes, at + 12),
        ) else {
            break;
        };
        let (off, size) = (off as usize, size as usize);
        if flags & 0x27 != 0 && off.checked_add(size).is_some_and(|end| end <= bytes.len()) {
            let mut out = bytes.to_vec();
            out[off..off + size].fill(0xff);
            return Ok((out, pfn));
        }
        index += 1;
    }
    Err(DamageError::Missing("compressed page"))
}

// ---------------------------------------------------------------- ELF

struct Elf {
    phoff: usize,
    phnum: usize,
}

impl Elf {
    fn parse(b: &[u8]) -> Result<Elf, DamageError> {
        let bad = DamageError::Format("ELF64 little-endian");
        if !b.starts_with(b"\x7fELF\x02\x01") {
            return Err(bad);
        }
        let phoff = u64_at(b, ehdr::E_PHOFF).ok_or(DamageError::Format("ELF64"))? as usize;
        let mut phnum = usize::from(u16_at(b, ehdr::E_PHNUM).ok_or(DamageError::Format("ELF64"))?);
        if phnum == usize::from(PN_XNUM) {
            let shoff = u64_at(b, ehdr::E_SHOFF).ok_or(DamageError::Format("ELF64"))? as usize;
            phnum =
                u32_at(b, shoff.saturating_add(44)).ok_or(DamageError::Format("ELF64"))? as usize;
        }
        if phoff.saturating_add(phnum.saturating_mul(56)) > b.len() {
            return Err(bad);
        }
        Ok(Elf { phoff, phnum })
    }

    fn phdrs(&self, b: &[u8], p_type: u32) -> Vec<usize> {
        (0..self.phnum)
            .map(|i| self.phoff + 56 * i)
            .filter(|at| u32_at(b, *at) == Some(p_type))
            .collect()
    }
}

/// Sets `e_phoff`: program headers past the end of the file or overlapping the header.
pub fn elf_phoff(bytes: &[u8], phoff: u64) -> Result<Vec<u8>, DamageError> {
    Elf::parse(bytes)?;
    with(bytes, ehdr::E_PHOFF, &phoff.to_le_bytes(), "ELF header")
}

/// Sets `e_phnum` (0xffff = PN_XNUM without a section header when the original had none): more
/// program headers than the file holds.
pub fn elf_phnum(bytes: &[u8], phnum: u16) -> Result<Vec<u8>, DamageError> {
    Elf::parse(bytes)?;
    with(bytes, ehdr::E_PHNUM, &phnum.to_le_bytes(), "ELF header")
}

/// Sets the u64 at `field` (a `phdr::P_*` offset) of PT_LOAD number `load_index` (0-based among PT_LOADs).
fn elf_load_field(
    bytes: &[u8],
    load_index: usize,
    field: usize,
    value: u64,
) -> Result<Vec<u8>, DamageError> {
    let e = Elf::parse(bytes)?;
    let at = *e
        .phdrs(bytes, PT_LOAD)
        .get(load_index)
        .ok_or(DamageError::Missing("PT_LOAD with that index"))?;
    with(bytes, at + field, &value.to_le_bytes(), "program header")
}

/// Sets `p_offset` of PT_LOAD number `load_index` (0-based among PT_LOADs): e.g. beyond EOF.
pub fn elf_load_offset(
    bytes: &[u8],
    load_index: usize,
    offset: u64,
) -> Result<Vec<u8>, DamageError> {
    elf_load_field(bytes, load_index, phdr::P_OFFSET, offset)
}

/// Sets `p_filesz` of PT_LOAD number `load_index`: e.g. past EOF, or above `p_memsz`.
pub fn elf_load_filesz(
    bytes: &[u8],
    load_index: usize,
    filesz: u64,
) -> Result<Vec<u8>, DamageError> {
    elf_load_field(bytes, load_index, phdr::P_FILESZ, filesz)
}

/// Sets `p_memsz` of PT_LOAD number `load_index`: with [`elf_load_filesz`], segments claiming more than
/// the file holds.
pub fn elf_load_memsz(bytes: &[u8], load_index: usize, memsz: u64) -> Result<Vec<u8>, DamageError> {
    elf_load_field(bytes, load_index, phdr::P_MEMSZ, memsz)
}

/// Sets `p_filesz` (and `p_memsz`) of the PT_NOTE segment: notes running past the end of the file.
pub fn elf_note_segment_size(bytes: &[u8], size: u64) -> Result<Vec<u8>, DamageError> {
    let e = Elf::parse(bytes)?;
    let at = *e
        .phdrs(bytes, PT_NOTE)
        .first()
        .ok_or(DamageError::Missing("PT_NOTE"))?;
    let out = with(
        bytes,
        at + phdr::P_FILESZ,
        &size.to_le_bytes(),
        "program header",
    )?;
    with(
        &out,
        at + phdr::P_MEMSZ,
        &size.to_le_bytes(),
        "program header",
    )
}

/// Where note `index` of a note section starts (notes are 4-aligned, `Elf64_Nhdr` is 12 bytes).
fn note_at(notes_start: usize, notes: &[u8], index: usize) -> Option<usize> {
    let mut at = 0usize;
    for _ in 0..index {
        let namesz = u32_at(notes, at)? as usize;
        let descsz = u32_at(notes, at + 4)? as usize;
        at = at
            .checked_add(12)?
            .checked_add(namesz.checked_add(3)? & !3)?
            .checked_add(descsz.checked_add(3)? & !3)?;
    }
    (at + 12 <= notes.len()).then_some(notes_start + at)
}

fn elf_notes(bytes: &[u8]) -> Result<(usize, usize), DamageError> {
    let e = Elf::parse(bytes)?;
    let at = *e
        .phdrs(bytes, PT_NOTE)
        .first()
        .ok_or(DamageError::Missing("PT_NOTE"))?;
    let off = u64_at(bytes, at + phdr::P_OFFSET).unwrap_or(0) as usize;
    let len = u64_at(bytes, at + phdr::P_FILESZ).unwrap_or(0) as usize;
    if off.saturating_add(len) > bytes.len() {
        return Err(DamageError::Format("ELF with its notes inside the file"));
    }
    Ok((off, len))
}

/// Sets `n_descsz` of note `note_index` in the PT_NOTE segment (0 = the first, a `CORE`
/// PRSTATUS): a wild size runs past the segment and the file.
pub fn elf_note_descsz(
    bytes: &[u8],
    note_index: usize,
    descsz: u32,
) -> Result<Vec<u8>, DamageError> {
    let (off, len) = elf_notes(bytes)?;
    let at = note_at(off, &bytes[off..off + len], note_index)
        .ok_or(DamageError::Missing("note with that index"))?;
    with(bytes, at + 4, &descsz.to_le_bytes(), "note header")
}

/// Sets `n_namesz` of note `note_index`: a wild name size runs past the segment.
pub fn elf_note_namesz(
    bytes: &[u8],
    note_index: usize,
    namesz: u32,
) -> Result<Vec<u8>, DamageError> {
    let (off, len) = elf_notes(bytes)?;
    let at = note_at(off, &bytes[off..off + len], note_index)
        .ok_or(DamageError::Missing("note with that index"))?;
    with(bytes, at, &namesz.to_le_bytes(), "note header")
}

// ---------------------------------------------------------------- flattened

/// Stream offsets of the record headers, end marker excluded.
fn flat_records(bytes: &[u8]) -> Result<Vec<usize>, DamageError> {
    if !bytes.starts_with(FLAT_SIGNATURE) {
        return Err(DamageError::Format("flattened"));
    }
    let mut at = FLAT_HEADER_SIZE;
    let mut recs = Vec::new();
    loop {
        let (Some(off), Some(size)) = (i64_be_at(bytes, at), i64_be_at(bytes, at + 8)) else {
            return Err(DamageError::Format("flattened"));
        };
        if off == -1 && size == -1 {
            return Ok(recs);
        }
        if off < 0 || size <= 0 {
            return Err(DamageError::Format("flattened"));
        }
        recs.push(at);
        at = at
            .checked_add(RECORD_HEADER_SIZE + size as usize)
            .ok_or(DamageError::Format("flattened"))?;
    }
}

/// Sets the size of record `index` (stream order): a huge size runs past the stream (a reader
/// must not allocate by it), a negative one (other than -1 with offset -1) is invalid, 0 ends
/// makedumpfile's own reader early.
pub fn flat_record_size(bytes: &[u8], index: usize, size: i64) -> Result<Vec<u8>, DamageError> {
    let at = *flat_records(bytes)?
        .get(index)
        .ok_or(DamageError::Missing("flattened record with that index"))?;
    with(bytes, at + 8, &size.to_be_bytes(), "record header")
}

/// Sets the file offset of record `index`: negative, or absurdly large (a reader must not
/// allocate a file that big).
pub fn flat_record_offset(bytes: &[u8], index: usize, offset: i64) -> Result<Vec<u8>, DamageError> {
    let at = *flat_records(bytes)?
        .get(index)
        .ok_or(DamageError::Missing("flattened record with that index"))?;
    with(bytes, at, &offset.to_be_bytes(), "record header")
}

/// Removes the end marker: the stream just stops after the last record.
pub fn flat_drop_end_marker(bytes: &[u8]) -> Result<Vec<u8>, DamageError> {
    flat_records(bytes)?;
    Ok(bytes[..bytes.len() - RECORD_HEADER_SIZE].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        flatten, write_elf_with_layout, write_kdump_with_layout, Codec, CpuState, ElfOptions,
        KdumpOptions, MemoryImage,
    };

    fn image() -> MemoryImage {
        let mut img = MemoryImage::new(4096);
        img.add_ram(0..0x40);
        img.fill_pattern(2..0x30);
        img.exclude(10);
        img.vmcoreinfo = Some("OSRELEASE=x\n".into());
        img.cpus = vec![CpuState::new(1), CpuState::new(2)];
        img
    }

    #[test]
    fn magic() {
        let img = image();
        let k = write_kdump_with_layout(&img, &KdumpOptions::default()).0;
        let e = crate::write_elf(&img, &ElfOptions::default());
        let f = flatten(&k, 4096, None);
        for good in [&k, &e, &f] {
            let bad = wrong_magic(good).unwrap();
            assert_ne!(&bad[..12], &good[..12]);
            assert_eq!(bad.len(), good.len());
            assert!(wrong_magic(&bad).is_err());
        }
        assert_eq!(truncate(&k, 100).len(), 100);
        assert_eq!(truncate(&k, usize::MAX), k);
    }

    #[test]
    fn kdump_fields() {
        let img = image();
        let k = write_kdump_with_layout(&img, &KdumpOptions::default()).0;
        let b = kdump_block_size(&k, 3000).unwrap();
        assert_eq!(u32_at(&b, header::BLOCK_SIZE), Some(3000));
        assert!(
            kdump_block_size(&b, 4096).is_err(),
            "damaged input is no longer parsed"
        );
        let b = kdump_sub_hdr_size(&k, 1 << 20).unwrap();
        assert_eq!(u32_at(&b, header::SUB_HDR_SIZE), Some(1 << 20));
        let b = kdump_bitmap_blocks(&k, u32::MAX - 1).unwrap();
        assert_eq!(u32_at(&b, header::BITMAP_BLOCKS), Some(u32::MAX - 1));
        let b = kdump_max_mapnr(&k, 1 << 40).unwrap();
        assert_eq!(u32_at(&b, header::MAX_MAPNR), Some(u32::MAX));
        assert_eq!(u64_at(&b, 4096 + sub_header::MAX_MAPNR_64), Some(1 << 40));
        let b = kdump_note_region(&k, 1 << 40, 1 << 40).unwrap();
        assert_eq!(u64_at(&b, 4096 + sub_header::SIZE_NOTE), Some(1 << 40));
        let b = kdump_vmcoreinfo_region(&k, 8, u64::MAX).unwrap();
        assert_eq!(
            u64_at(&b, 4096 + sub_header::SIZE_VMCOREINFO),
            Some(u64::MAX)
        );
        assert!(kdump_block_size(b"nope", 1).is_err());
    }

    #[test]
    fn kdump_descriptors() {
        let img = image();
        let (k, l) = write_kdump_with_layout(&img, &KdumpOptions::default());
        for (i, rec) in l.pages.iter().enumerate() {
            assert_eq!(kdump_desc_pfn(&k, i).unwrap(), rec.pfn);
        }
        assert!(kdump_desc_pfn(&k, l.pages.len()).is_err());
        let rec = &l.pages[3];
        let d = rec.desc_at as usize;
        let b = kdump_page_desc_offset(&k, 3, -4096).unwrap();
        assert_eq!(u64_at(&b, d), Some((-4096i64) as u64));
        let b = kdump_page_desc_size(&k, 3, 0).unwrap();
        assert_eq!(u32_at(&b, d + 8), Some(0));
        let b = kdump_page_desc_flags(&k, 3, 0x40).unwrap();
        assert_eq!(u32_at(&b, d + 12), Some(0x40));
        assert_eq!(&b[..d], &k[..d]);
        assert!(kdump_page_desc_size(&k, l.pages.len(), 1).is_err());
    }

    #[test]
    fn corrupt_page_breaks_every_codec() {
        let img = image();
        for codec in [Codec::Zlib, Codec::Lzo, Codec::Snappy, Codec::Zstd] {
            let opts = KdumpOptions {
                codec,
                ..Default::default()
            };
            let (k, l) = write_kdump_with_layout(&img, &opts);
            let (b, pfn) = kdump_corrupt_compressed_page(&k).unwrap();
            assert_eq!(pfn, l.pages[0].pfn);
            let r = &l.pages[0];
            let data = &b[r.offset as usize..(r.offset + u64::from(r.size)) as usize];
            let decoded_ok = match codec {
                Codec::Zlib => {
                    use std::io::Read;
                    let mut o = Vec::new();
                    flate2::read::ZlibDecoder::new(data)
                        .read_to_end(&mut o)
                        .is_ok()
                }
                // lzokay-native's decoder panics (arithmetic overflow) on some bad input;
                // a panic counts as "does not decode" here.
                Codec::Lzo => std::panic::catch_unwind(|| {
                    lzokay_native::decompress_all(data, Some(4096)).is_ok_and(|o| o.len() == 4096)
                })
                .unwrap_or(false),
                Codec::Snappy => snap::raw::Decoder::new().decompress_vec(data).is_ok(),
                Codec::Zstd => zstd::bulk::decompress(data, 4096).is_ok(),
                Codec::Raw => unreachable!(),
            };
            assert!(!decoded_ok, "{codec:?} still decodes");
        }
        let raw = write_kdump_with_layout(
            &img,
            &KdumpOptions {
                codec: Codec::Raw,
                ..Default::default()
            },
        )
        .0;
        assert_eq!(
            kdump_corrupt_compressed_page(&raw).unwrap_err(),
            DamageError::Missing("compressed page")
        );
    }

    #[test]
    fn elf_fields() {
        let img = image();
        for xnum in [false, true] {
            let opts = ElfOptions {
                force_pn_xnum: xnum,
                ..ElfOptions::proc_vmcore(0xffff_8880_0000_0000)
            };
            let (e, l) = write_elf_with_layout(&img, &opts);
            let b = elf_phoff(&e, 1 << 50).unwrap();
            assert_eq!(u64_at(&b, ehdr::E_PHOFF), Some(1 << 50));
            let b = elf_phnum(&e, 0x7fff).unwrap();
            assert_eq!(u16_at(&b, ehdr::E_PHNUM), Some(0x7fff));
            let b = elf_load_offset(&e, 1, e.len() as u64 + 4096).unwrap();
            assert_eq!(
                u64_at(&b, l.loads[1].phdr_at as usize + phdr::P_OFFSET),
                Some(e.len() as u64 + 4096)
            );
            let b = elf_load_filesz(&e, 0, u64::MAX).unwrap();
            assert_eq!(
                u64_at(&b, l.loads[0].phdr_at as usize + phdr::P_FILESZ),
                Some(u64::MAX)
            );
            assert!(elf_load_offset(&e, l.loads.len(), 0).is_err());
            let b = elf_note_segment_size(&e, 1 << 40).unwrap();
            assert_eq!(u64_at(&b, 64 + phdr::P_FILESZ), Some(1 << 40));
            // note 2 is VMCOREINFO (after two CORE notes)
            let b = elf_note_descsz(&e, 2, u32::MAX).unwrap();
            let v = l.vmcoreinfo.clone().unwrap().start as usize;
            assert_eq!(u32_at(&b, v - 24 + 4), Some(u32::MAX));
            let b = elf_note_namesz(&e, 0, 0xffff_fff0).unwrap();
            assert_eq!(u32_at(&b, l.notes.start as usize), Some(0xffff_fff0));
            assert!(elf_note_descsz(&e, 3, 1).is_err());
        }
    }

    #[test]
    fn flat_fields() {
        let img = image();
        let k = write_kdump_with_layout(&img, &KdumpOptions::default()).0;
        let f = flatten(&k, 4096, Some(5));
        let recs = flat_records(&f).unwrap();
        let b = flat_record_size(&f, 2, i64::MAX).unwrap();
        assert_eq!(i64_be_at(&b, recs[2] + 8), Some(i64::MAX));
        let b = flat_record_offset(&f, 1, -5).unwrap();
        assert_eq!(i64_be_at(&b, recs[1]), Some(-5));
        let b = flat_drop_end_marker(&f).unwrap();
        assert_eq!(b.len(), f.len() - 16);
        assert!(flat_records(&b).is_err());
        assert!(flat_record_size(&f, recs.len(), 1).is_err());
    }
}
