//! ELF64 vmcores: `/proc/vmcore` copies, `makedumpfile -E` output, and QEMU `dump-guest-memory` cores.
//!
//! `PT_LOAD` segments map physical ranges (`p_paddr`) to file bytes; `p_filesz < p_memsz` means the tail of the
//! segment was excluded (an answer of its own, not zeros). `/proc/vmcore` also fills `p_vaddr` (kernel text and
//! the direct map), from which the direct-map base follows; QEMU leaves it 0.

use serde::Serialize;

use crate::error::{Error, ReadError};
use crate::source::{le_u16, le_u32, le_u64, Source};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PN_XNUM: u16 = 0xffff;
const PHDR_SIZE: u64 = 56;
/// The kernel text mapping's base on x86-64 (`__START_KERNEL_map`).
pub(crate) const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// One `PT_LOAD`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoadSegment {
    pub paddr: u64,
    pub vaddr: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub mem_size: u64,
}

pub(crate) struct Elf {
    pub(crate) machine: u16,
    /// Sorted by `paddr`.
    pub(crate) segments: Vec<LoadSegment>,
    /// max_end[i] = max(paddr + mem_size) over segments[..=i]: lets lookups handle overlapping segments
    /// (/proc/vmcore's kernel-text segment overlaps a RAM segment).
    max_end: Vec<u64>,
    pub(crate) notes: Vec<u8>,
    /// Bytes of segment data the file is missing (a cut-short copy).
    pub(crate) missing_bytes: u64,
}

impl Elf {
    pub(crate) fn parse(src: &Source) -> Result<Elf, Error> {
        let path = &src.path;
        let h = src.read_at(0, 64, "ELF64 header")?;
        if &h[..4] != b"\x7fELF" {
            return Err(Error::malformed(path, 0, "ELF magic"));
        }
        if h[4] != 2 || h[5] != 1 {
            return Err(Error::malformed(
                path,
                4,
                format!(
                    "a 64-bit little-endian ELF (class 2, data 1), found class {} data {}",
                    h[4], h[5]
                ),
            ));
        }
        let e_type = le_u16(&h, 16);
        if e_type != 4 {
            return Err(Error::malformed(
                path,
                16,
                format!("e_type ET_CORE (4), found {e_type}"),
            ));
        }
        let machine = le_u16(&h, 18);
        let phoff = le_u64(&h, 32);
        let shoff = le_u64(&h, 40);
        let phentsize = le_u16(&h, 54) as u64;
        if phentsize != PHDR_SIZE {
            return Err(Error::malformed(
                path,
                54,
                format!("e_phentsize 56, found {phentsize}"),
            ));
        }
        let mut phnum = le_u16(&h, 56) as u64;
        if phnum == PN_XNUM as u64 {
            // The real count is in section header 0's sh_info.
            let sh = src.read_at(shoff, 64, "section header 0 (e_phnum is PN_XNUM)")?;
            phnum = le_u32(&sh, 44) as u64;
        }
        let flen = src.len();
        if phnum == 0
            || phoff
                .checked_add(phnum * PHDR_SIZE)
                .is_none_or(|e| e > flen)
        {
            return Err(Error::malformed(
                path,
                32,
                format!(
                    "{phnum} program headers at e_phoff {phoff:#x} within the {flen}-byte file"
                ),
            ));
        }
        let ph = src.read_at(phoff, phnum * PHDR_SIZE, "program headers")?;
        let mut segments = Vec::new();
        let mut notes = Vec::new();
        let mut missing_bytes = 0u64;
        for i in 0..phnum as usize {
            let p = &ph[i * 56..(i + 1) * 56];
            let at = phoff + i as u64 * PHDR_SIZE;
            let p_type = le_u32(p, 0);
            let offset = le_u64(p, 8);
            let vaddr = le_u64(p, 16);
            let paddr = le_u64(p, 24);
            let filesz = le_u64(p, 32);
            let memsz = le_u64(p, 40);
            match p_type {
                PT_NOTE => {
                    if filesz > 1 << 26 || offset.checked_add(filesz).is_none_or(|e| e > flen) {
                        return Err(Error::malformed(
                            path,
                            at + 8,
                            format!("PT_NOTE within the file, found {offset:#x}+{filesz:#x}"),
                        ));
                    }
                    notes.extend_from_slice(&src.read_at(offset, filesz, "PT_NOTE")?);
                }
                PT_LOAD => {
                    if filesz > memsz {
                        return Err(Error::malformed(
                            path,
                            at + 32,
                            format!("p_filesz <= p_memsz ({memsz:#x}), found {filesz:#x}"),
                        ));
                    }
                    if paddr.checked_add(memsz).is_none() || offset.checked_add(filesz).is_none() {
                        return Err(Error::malformed(
                            path,
                            at + 8,
                            "PT_LOAD ranges without overflow",
                        ));
                    }
                    if offset > flen {
                        return Err(Error::malformed(
                            path,
                            at + 8,
                            format!(
                                "PT_LOAD p_offset within the {flen}-byte file, found {offset:#x}"
                            ),
                        ));
                    }
                    missing_bytes += (offset + filesz).saturating_sub(flen);
                    segments.push(LoadSegment {
                        paddr,
                        vaddr,
                        file_offset: offset,
                        file_size: filesz,
                        mem_size: memsz,
                    });
                }
                _ => {}
            }
        }
        segments.sort_by_key(|s| s.paddr);
        let mut max_end = Vec::with_capacity(segments.len());
        let mut m = 0;
        for s in &segments {
            m = m.max(s.paddr + s.mem_size);
            max_end.push(m);
        }
        Ok(Elf {
            machine,
            segments,
            max_end,
            notes,
            missing_bytes,
        })
    }

    /// The segment holding `paddr`, preferring one with file data for it.
    fn segment(&self, paddr: u64) -> Option<&LoadSegment> {
        let mut i = self.segments.partition_point(|s| s.paddr <= paddr);
        let mut fallback = None;
        while i > 0 {
            i -= 1;
            if self.max_end[i] <= paddr {
                break;
            }
            let s = &self.segments[i];
            if paddr < s.paddr + s.mem_size {
                if paddr < s.paddr + s.file_size {
                    return Some(s);
                }
                fallback.get_or_insert(s);
            }
        }
        fallback
    }

    /// Copy physical memory; `buf` must not cross a page boundary of the caller's choosing (the caller splits).
    pub(crate) fn read(&self, src: &Source, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = paddr + done as u64;
            let s = self.segment(a).ok_or(ReadError::NotInDump { paddr: a })?;
            let rel = a - s.paddr;
            if rel >= s.file_size {
                return Err(ReadError::Excluded { paddr: a });
            }
            let n = ((s.file_size - rel) as usize).min(buf.len() - done);
            let off = s.file_offset + rel;
            let data = src
                .read_at(off, n as u64, "segment data")
                .map_err(|_| ReadError::NotWritten { paddr: a })?;
            buf[done..done + n].copy_from_slice(&data);
            done += n;
        }
        Ok(())
    }

    /// `page_offset_base` from `/proc/vmcore`-style segments (`p_vaddr` = direct-map address of `p_paddr`).
    pub(crate) fn direct_map_base(&self) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| {
                s.vaddr >= 0xffff_8000_0000_0000 && s.vaddr < START_KERNEL_MAP && s.vaddr >= s.paddr
            })
            .map(|s| s.vaddr - s.paddr)
    }

    pub(crate) fn ram_bytes(&self) -> u64 {
        self.ranges(|s| s.mem_size)
    }

    pub(crate) fn dumped_bytes(&self) -> u64 {
        self.ranges(|s| s.file_size)
    }

    /// Total over segments, counting overlapping physical ranges once.
    fn ranges(&self, len: impl Fn(&LoadSegment) -> u64) -> u64 {
        let mut total = 0;
        let mut covered = 0u64;
        for s in &self.segments {
            let end = s.paddr + len(s);
            let start = s.paddr.max(covered);
            if end > start {
                total += end - start;
            }
            covered = covered.max(end);
        }
        total
    }
}
