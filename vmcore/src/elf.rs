//! ELF64 vmcores: `/proc/vmcore` copies, `makedumpfile -E` output, and QEMU `dump-guest-memory` cores.
//!
//! `PT_LOAD` segments map physical ranges (`p_paddr`) to file bytes; `p_filesz < p_memsz` means the tail of the
//! segment was excluded (an answer of its own, not zeros). `/proc/vmcore` also fills `p_vaddr` (kernel text and
//! the direct map), from which the direct-map base follows; QEMU leaves it 0.
//!
//! `/proc/kcore` is an ELF core of kernel *virtual* memory: its segments are addressed by `p_vaddr` (kernel
//! text, the direct map, vmalloc and modules), and `p_paddr` is `-1` where there is no physical address
//! (older kernels write 0). Such a core is read by virtual address through its segments
//! ([`Addressing::Virtual`]): no page tables, and no physical view.

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

/// How an ELF core's segments are addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addressing {
    /// `p_paddr` (vmcores): reads are physical, virtual ones go through page tables.
    Physical,
    /// `p_vaddr` (`/proc/kcore`): reads are virtual, through the segments themselves.
    Virtual,
}

/// `p_paddr` of a kcore segment that has no physical address (vmalloc, modules).
const NO_PADDR: u64 = u64::MAX;

pub(crate) struct Elf {
    pub(crate) machine: u16,
    pub(crate) addressing: Addressing,
    /// Sorted by `paddr` (by `vaddr` for [`Addressing::Virtual`]).
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
                    // kcore writes -1 for segments without a physical address; their vaddr range counts.
                    let base = if paddr == NO_PADDR { vaddr } else { paddr };
                    if base.checked_add(memsz).is_none() || offset.checked_add(filesz).is_none() {
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
                    // Saturating: hostile headers can claim more than 2^64 missing bytes in all.
                    missing_bytes =
                        missing_bytes.saturating_add((offset + filesz).saturating_sub(flen));
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
        let addressing = if segments.iter().any(|s| s.paddr == NO_PADDR) {
            Addressing::Virtual
        } else {
            Addressing::Physical
        };
        let mut elf = Elf {
            machine,
            addressing,
            segments,
            max_end: Vec::new(),
            notes,
            missing_bytes,
        };
        elf.index();
        Ok(elf)
    }

    /// Read this core by virtual address (a kcore whose segments all carry a physical address too, as
    /// older kernels write: recognised by its notes, see `Vmcore::from_backing`).
    pub(crate) fn address_virtually(&mut self) {
        self.addressing = Addressing::Virtual;
        self.index();
    }

    /// The start of a segment in this core's address space.
    fn start(&self, s: &LoadSegment) -> u64 {
        match self.addressing {
            Addressing::Physical => s.paddr,
            Addressing::Virtual => s.vaddr,
        }
    }

    fn index(&mut self) {
        let virt = self.addressing == Addressing::Virtual;
        self.segments
            .sort_by_key(|s| if virt { s.vaddr } else { s.paddr });
        // Virtual segments could wrap past the top of the address space in a hostile file: clamp.
        let end = |s: &LoadSegment| {
            if virt {
                s.vaddr.saturating_add(s.mem_size)
            } else {
                s.paddr + s.mem_size
            }
        };
        let mut m = 0;
        self.max_end = self
            .segments
            .iter()
            .map(|s| {
                m = end(s).max(m);
                m
            })
            .collect();
    }

    /// The segment holding `addr` (physical, or virtual for kcore), preferring one with file data for it.
    fn segment(&self, addr: u64) -> Option<&LoadSegment> {
        let paddr = addr;
        let mut i = self.segments.partition_point(|s| self.start(s) <= paddr);
        let mut fallback = None;
        while i > 0 {
            i -= 1;
            if self.max_end[i] <= paddr {
                break;
            }
            let s = &self.segments[i];
            let rel = paddr - self.start(s);
            if rel < s.mem_size {
                if rel < s.file_size {
                    return Some(s);
                }
                fallback.get_or_insert(s);
            }
        }
        fallback
    }

    /// Copy physical memory; `buf` must not cross a page boundary of the caller's choosing (the caller splits).
    pub(crate) fn read(&self, src: &Source, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if self.addressing == Addressing::Virtual {
            return Err(ReadError::NoTranslation {
                vaddr: paddr,
                why: std::sync::Arc::from(
                    "this core (/proc/kcore) is addressed by virtual address: it has no physical view",
                ),
            });
        }
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

    /// Copy kernel virtual memory of a [`Addressing::Virtual`] core through its segments. The running kernel
    /// may change between two reads: a caller reading a structure twice may see two versions (bounded walks
    /// in the analyzers name what does not hold together). A refused read (kcore returns `EFAULT`/`EIO` for
    /// pages it cannot copy) is reported for that address, never retried.
    pub(crate) fn read_virtual(
        &self,
        src: &Source,
        vaddr: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = vaddr.wrapping_add(done as u64);
            let s = self.segment(a).ok_or(ReadError::Unmapped {
                vaddr: a,
                detail: "outside every segment of /proc/kcore",
            })?;
            let rel = a - s.vaddr;
            if rel >= s.file_size {
                return Err(ReadError::Unmapped {
                    vaddr: a,
                    detail: "in a /proc/kcore segment without file data",
                });
            }
            // One page at a time: kcore fails a whole read for one bad page.
            let n = ((s.file_size - rel) as usize)
                .min(buf.len() - done)
                .min(4096 - (a & 4095) as usize);
            let data = src
                .read_at(s.file_offset + rel, n as u64, "kcore segment data")
                .map_err(|_| ReadError::Unmapped {
                    vaddr: a,
                    detail: "the kernel refused to copy this page through /proc/kcore",
                })?;
            buf[done..done + n].copy_from_slice(&data);
            done += n;
        }
        Ok(())
    }

    /// The physical address kcore gives for `vaddr` (direct map and kernel text), if any.
    pub(crate) fn kcore_paddr(&self, vaddr: u64) -> Option<u64> {
        let s = self.segment(vaddr)?;
        (s.paddr != NO_PADDR && s.paddr != 0).then(|| s.paddr + (vaddr - s.vaddr))
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

    /// Total over segments, counting overlapping physical ranges once. For a virtual core, over the
    /// segments that have a physical address (kcore's RAM and kernel text), by that address.
    fn ranges(&self, len: impl Fn(&LoadSegment) -> u64) -> u64 {
        let mut phys: Vec<&LoadSegment> = self
            .segments
            .iter()
            .filter(|s| {
                self.addressing == Addressing::Physical || (s.paddr != NO_PADDR && s.paddr != 0)
            })
            .collect();
        phys.sort_by_key(|s| s.paddr);
        let mut total = 0u64;
        let mut covered = 0u64;
        for s in phys {
            let end = s.paddr.saturating_add(len(s));
            let start = s.paddr.max(covered);
            if end > start {
                total += end - start;
            }
            covered = covered.max(end);
        }
        total
    }

    /// One past the highest physical address the segments describe.
    pub(crate) fn phys_end(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.paddr != NO_PADDR)
            .map(|s| s.paddr.saturating_add(s.mem_size))
            .max()
            .unwrap_or(0)
    }
}
