//! ELF vmcores: ELF64 `ET_CORE`, `EM_X86_64`, little-endian, as /proc/vmcore, `makedumpfile -E`
//! and QEMU's `dump-guest-memory` write them.
//!
//! File layout: ELF header, program headers (PT_NOTE first, then the PT_LOADs: the kernel text
//! segment if asked, then RAM in pfn order), with PN_XNUM one section header after them, the note
//! section, then page-aligned segment data back to back.
//!
//! Excluded pages: each maximal run of dumped pages in a RAM range (or the kernel text range)
//! becomes one PT_LOAD, so excluded pages between dumped ones are holes no segment covers. With
//! [`ElfOptions::excluded_tails`], the excluded pages at the end of a range stay in the memory
//! size of the last segment instead (`p_filesz < p_memsz`, as makedumpfile writes filtered ELF
//! dumps), and a range with no dumped page at all becomes one segment with `p_filesz == 0`.

use std::ops::Range;

use crate::image::MemoryImage;
use crate::notes::note_section;

/// Size of `Elf64_Ehdr`.
pub const EHDR_SIZE: usize = 64;
/// Size of `Elf64_Phdr`.
pub const PHDR_SIZE: usize = 56;
/// Size of `Elf64_Shdr`.
pub const SHDR_SIZE: usize = 64;
/// `PN_XNUM`: e_phnum value meaning "the count is in section header 0's sh_info".
pub const PN_XNUM: u16 = 0xffff;
/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;

/// Byte offsets of `Elf64_Ehdr` fields.
pub mod ehdr {
    pub const E_TYPE: usize = 16;
    pub const E_MACHINE: usize = 18;
    pub const E_PHOFF: usize = 32;
    pub const E_SHOFF: usize = 40;
    pub const E_PHENTSIZE: usize = 54;
    pub const E_PHNUM: usize = 56;
    pub const E_SHENTSIZE: usize = 58;
    pub const E_SHNUM: usize = 60;
}

/// Byte offsets of `Elf64_Phdr` fields.
pub mod phdr {
    pub const P_TYPE: usize = 0;
    pub const P_FLAGS: usize = 4;
    pub const P_OFFSET: usize = 8;
    pub const P_VADDR: usize = 16;
    pub const P_PADDR: usize = 24;
    pub const P_FILESZ: usize = 32;
    pub const P_MEMSZ: usize = 40;
    pub const P_ALIGN: usize = 48;
}

/// How to write an ELF vmcore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfOptions {
    /// `Some(page_offset_base)`: RAM segments get `p_vaddr = page_offset_base + paddr` (direct
    /// map, as /proc/vmcore); `None`: `p_vaddr = 0` (QEMU without paging).
    pub virtual_addresses: Option<u64>,
    /// An extra PT_LOAD first, like /proc/vmcore's kernel text segment: `(vaddr of the first
    /// page, pfn range)`. Its pages are also in the RAM segments (the file holds them twice).
    pub kernel_text: Option<(u64, Range<u64>)>,
    /// Excluded pages at the end of a range stay in `p_memsz` (`p_filesz < p_memsz`).
    pub excluded_tails: bool,
    /// Write the image's VMCOREINFO as a `VMCOREINFO` note (when the image has one).
    pub vmcoreinfo_note: bool,
    /// One `QEMU` note per CPU after the `CORE` notes (QEMUCPUState with CR3).
    pub qemu_notes: bool,
    /// Use PN_XNUM even though the segment count would fit in `e_phnum`.
    pub force_pn_xnum: bool,
}

impl ElfOptions {
    /// /proc/vmcore-like: direct-map `p_vaddr` at `page_offset_base`, VMCOREINFO note.
    pub fn proc_vmcore(page_offset_base: u64) -> Self {
        ElfOptions {
            virtual_addresses: Some(page_offset_base),
            vmcoreinfo_note: true,
            ..Default::default()
        }
    }

    /// QEMU `dump-guest-memory` (paging off): `p_vaddr` 0, QEMU notes, VMCOREINFO note.
    pub fn qemu() -> Self {
        ElfOptions {
            qemu_notes: true,
            vmcoreinfo_note: true,
            ..Default::default()
        }
    }
}

/// One PT_LOAD as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSegment {
    /// File offset of its program header.
    pub phdr_at: u64,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// Where each part of a written ELF vmcore is (file offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfLayout {
    /// `e_phoff`.
    pub phoff: u64,
    /// Real number of program headers (PT_NOTE + PT_LOADs).
    pub phnum: usize,
    /// Section header table (PN_XNUM only).
    pub shoff: Option<u64>,
    /// The PT_NOTE segment's data.
    pub notes: Range<u64>,
    /// The VMCOREINFO note's descriptor.
    pub vmcoreinfo: Option<Range<u64>>,
    /// PT_LOADs in program-header order.
    pub loads: Vec<LoadSegment>,
    /// Total file length.
    pub file_len: u64,
}

struct Seg {
    vaddr: u64,
    pfn: u64,
    present: u64,
    total: u64,
}

/// Segments for one pfn range: maximal runs of dumped pages.
fn runs(img: &MemoryImage, range: &Range<u64>, vbase: Option<u64>, tails: bool) -> Vec<Seg> {
    let ps = u64::from(img.page_size);
    let vaddr_of = |pfn: u64| vbase.map_or(0, |b| b.wrapping_add((pfn - range.start) * ps));
    let mut segs: Vec<Seg> = Vec::new();
    for (&pfn, _) in img.pages.range(range.clone()) {
        match segs.last_mut() {
            Some(s) if s.pfn + s.present == pfn => s.present += 1,
            _ => segs.push(Seg {
                vaddr: vaddr_of(pfn),
                pfn,
                present: 1,
                total: 1,
            }),
        }
    }
    for s in &mut segs {
        s.total = s.present;
    }
    if tails {
        match segs.last_mut() {
            Some(s) => s.total = range.end - s.pfn,
            None if !range.is_empty() => segs.push(Seg {
                vaddr: vaddr_of(range.start),
                pfn: range.start,
                present: 0,
                total: range.end - range.start,
            }),
            None => {}
        }
    }
    segs
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Writes `img` as an ELF vmcore.
///
/// ```
/// use testcores::{write_elf, ElfOptions, MemoryImage};
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0..64);
/// img.write_phys(0x3000, b"hello").unwrap();
/// let bytes = write_elf(&img, &ElfOptions::proc_vmcore(0xffff_8880_0000_0000));
/// assert_eq!(&bytes[..4], b"\x7fELF");
/// ```
pub fn write_elf(img: &MemoryImage, opts: &ElfOptions) -> Vec<u8> {
    write_elf_with_layout(img, opts).0
}

/// ELF `e_machine` for a utsname machine (x86-64 for anything unknown, as the image defaults to).
fn e_machine(machine: &str) -> u16 {
    match machine {
        "aarch64" => 183,
        "ppc64le" | "ppc64" => 21,
        "s390x" => 22,
        "riscv64" => 243,
        _ => 62,
    }
}

/// [`write_elf`], also telling where each part landed.
pub fn write_elf_with_layout(img: &MemoryImage, opts: &ElfOptions) -> (Vec<u8>, ElfLayout) {
    let ps = u64::from(img.page_size);
    let mut segs = Vec::new();
    if let Some((vaddr, pfns)) = &opts.kernel_text {
        segs.extend(runs(img, pfns, Some(*vaddr), opts.excluded_tails));
    }
    for r in &img.ram {
        let vbase = opts.virtual_addresses.map(|b| b.wrapping_add(r.start * ps));
        segs.extend(runs(img, r, vbase, opts.excluded_tails));
    }

    let (notes, vmci) = note_section(img, opts.qemu_notes, opts.vmcoreinfo_note);
    let phnum = 1 + segs.len();
    let xnum = opts.force_pn_xnum || phnum >= usize::from(PN_XNUM);
    let phoff = EHDR_SIZE;
    let shoff = phoff + PHDR_SIZE * phnum;
    let notes_at = if xnum { shoff + SHDR_SIZE } else { shoff };
    let data_at = (notes_at + notes.len()).div_ceil(ps as usize) * ps as usize;
    let file_len = data_at as u64 + segs.iter().map(|s| s.present * ps).sum::<u64>();
    let mut out = vec![0u8; file_len as usize];

    // ELF header
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // ELFDATA2LSB
    out[6] = 1; // EV_CURRENT
    put_u16(&mut out, ehdr::E_TYPE, 4); // ET_CORE
    put_u16(&mut out, ehdr::E_MACHINE, e_machine(&img.machine));
    put_u32(&mut out, 20, 1); // e_version
    put_u64(&mut out, ehdr::E_PHOFF, phoff as u64);
    put_u16(&mut out, 52, EHDR_SIZE as u16); // e_ehsize
    put_u16(&mut out, ehdr::E_PHENTSIZE, PHDR_SIZE as u16);
    if xnum {
        put_u64(&mut out, ehdr::E_SHOFF, shoff as u64);
        put_u16(&mut out, ehdr::E_PHNUM, PN_XNUM);
        put_u16(&mut out, ehdr::E_SHENTSIZE, SHDR_SIZE as u16);
        put_u16(&mut out, ehdr::E_SHNUM, 1);
        // Section header 0 (SHT_NULL): sh_info (offset 44) holds the real e_phnum.
        put_u32(&mut out, shoff + 44, phnum as u32);
    } else {
        put_u16(&mut out, ehdr::E_PHNUM, phnum as u16);
    }

    // PT_NOTE
    put_u32(&mut out, phoff + phdr::P_TYPE, PT_NOTE);
    put_u64(&mut out, phoff + phdr::P_OFFSET, notes_at as u64);
    put_u64(&mut out, phoff + phdr::P_FILESZ, notes.len() as u64);
    put_u64(&mut out, phoff + phdr::P_MEMSZ, notes.len() as u64);
    out[notes_at..notes_at + notes.len()].copy_from_slice(&notes);

    // PT_LOADs and data
    let mut loads = Vec::with_capacity(segs.len());
    let mut at = data_at as u64;
    for (i, s) in segs.iter().enumerate() {
        let ph = phoff + PHDR_SIZE * (i + 1);
        put_u32(&mut out, ph + phdr::P_TYPE, PT_LOAD);
        put_u32(&mut out, ph + phdr::P_FLAGS, 7); // RWX, as /proc/vmcore
        put_u64(&mut out, ph + phdr::P_OFFSET, at);
        put_u64(&mut out, ph + phdr::P_VADDR, s.vaddr);
        put_u64(&mut out, ph + phdr::P_PADDR, s.pfn * ps);
        put_u64(&mut out, ph + phdr::P_FILESZ, s.present * ps);
        put_u64(&mut out, ph + phdr::P_MEMSZ, s.total * ps);
        put_u64(&mut out, ph + phdr::P_ALIGN, 0);
        for k in 0..s.present {
            if let Some(page) = img.pages.get(&(s.pfn + k)) {
                let o = (at + k * ps) as usize;
                out[o..o + ps as usize].copy_from_slice(page);
            }
        }
        loads.push(LoadSegment {
            phdr_at: ph as u64,
            offset: at,
            vaddr: s.vaddr,
            paddr: s.pfn * ps,
            filesz: s.present * ps,
            memsz: s.total * ps,
        });
        at += s.present * ps;
    }

    let layout = ElfLayout {
        phoff: phoff as u64,
        phnum,
        shoff: xnum.then_some(shoff as u64),
        notes: notes_at as u64..(notes_at + notes.len()) as u64,
        vmcoreinfo: vmci.map(|r| (notes_at + r.start) as u64..(notes_at + r.end) as u64),
        loads,
        file_len,
    };
    (out, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::CpuState;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn image() -> MemoryImage {
        let mut img = MemoryImage::new(4096);
        img.add_ram(1..0x20);
        img.add_ram(0x100..0x140);
        img.fill_pattern(1..0x20);
        img.fill_pattern(0x100..0x140);
        img.exclude(5); // hole in the middle of the first range
        img.exclude(6);
        for pfn in 0x130..0x140 {
            img.exclude(pfn); // excluded tail of the second range
        }
        img.vmcoreinfo = Some("OSRELEASE=x\n".into());
        img.cpus = vec![CpuState::new(1)];
        img
    }

    /// Reads the image back through the program headers: what a reader must find.
    fn read_back<'a>(b: &'a [u8], l: &ElfLayout, paddr: u64) -> Option<&'a [u8]> {
        l.loads.iter().find_map(|s| {
            (paddr >= s.paddr && paddr < s.paddr + s.filesz).then(|| {
                let o = (s.offset + paddr - s.paddr) as usize;
                &b[o..o + 4096]
            })
        })
    }

    #[test]
    fn header_and_segments() {
        let img = image();
        let pob = 0xffff_8880_0000_0000;
        let (b, l) = write_elf_with_layout(&img, &ElfOptions::proc_vmcore(pob));
        assert_eq!(&b[..7], b"\x7fELF\x02\x01\x01");
        assert_eq!(u16_at(&b, ehdr::E_TYPE), 4);
        assert_eq!(u16_at(&b, ehdr::E_MACHINE), 62);
        assert_eq!(u64_at(&b, ehdr::E_PHOFF), 64);
        assert_eq!(u16_at(&b, ehdr::E_PHENTSIZE), 56);
        // note + [1,5) + [7,0x20) + [0x100,0x130)
        assert_eq!(u16_at(&b, ehdr::E_PHNUM), 4);
        assert_eq!(u32_at(&b, 64), PT_NOTE);
        let segs: Vec<_> = l
            .loads
            .iter()
            .map(|s| (s.paddr / 4096, s.filesz / 4096))
            .collect();
        assert_eq!(segs, vec![(1, 4), (7, 0x19), (0x100, 0x30)]);
        for s in &l.loads {
            assert_eq!(s.filesz, s.memsz);
            assert_eq!(s.vaddr, pob + s.paddr);
            assert_eq!(s.offset % 4096, 0);
            assert_eq!(u64_at(&b, s.phdr_at as usize + phdr::P_OFFSET), s.offset);
            assert_eq!(u64_at(&b, s.phdr_at as usize + phdr::P_VADDR), s.vaddr);
        }
        for (pfn, page) in &img.pages {
            assert_eq!(read_back(&b, &l, pfn * 4096).unwrap(), &page[..]);
        }
        assert!(read_back(&b, &l, 5 * 4096).is_none());
        let v = l.vmcoreinfo.clone().unwrap();
        assert_eq!(&b[v.start as usize..v.end as usize], b"OSRELEASE=x\n");
        assert_eq!(l.file_len, b.len() as u64);
    }

    #[test]
    fn excluded_tails_keep_memsz() {
        let mut img = image();
        img.add_ram(0x200..0x210); // nothing dumped in this range
        let opts = ElfOptions {
            excluded_tails: true,
            ..Default::default()
        };
        let (b, l) = write_elf_with_layout(&img, &opts);
        let segs: Vec<_> = l
            .loads
            .iter()
            .map(|s| (s.paddr / 4096, s.filesz / 4096, s.memsz / 4096))
            .collect();
        assert_eq!(
            segs,
            vec![
                (1, 4, 4),
                (7, 0x19, 0x19),
                (0x100, 0x30, 0x40),
                (0x200, 0, 0x10)
            ]
        );
        assert!(l.loads.iter().all(|s| s.vaddr == 0));
        assert_eq!(l.file_len, b.len() as u64);
    }

    #[test]
    fn kernel_text_segment_comes_first_with_its_vaddr() {
        let img = image();
        let text = 0xffff_ffff_8100_0000;
        let opts = ElfOptions {
            kernel_text: Some((text, 0x108..0x110)),
            ..ElfOptions::proc_vmcore(0xffff_8880_0000_0000)
        };
        let (b, l) = write_elf_with_layout(&img, &opts);
        let k = &l.loads[0];
        assert_eq!((k.vaddr, k.paddr, k.filesz), (text, 0x108 * 4096, 8 * 4096));
        let o = k.offset as usize;
        assert_eq!(&b[o..o + 4096], img.page(0x108).unwrap());
        assert_eq!(l.loads.len(), 4);
    }

    #[test]
    fn pn_xnum_and_qemu_notes() {
        let img = image();
        let opts = ElfOptions {
            force_pn_xnum: true,
            ..ElfOptions::qemu()
        };
        let (b, l) = write_elf_with_layout(&img, &opts);
        assert_eq!(u16_at(&b, ehdr::E_PHNUM), 0xffff);
        let shoff = u64_at(&b, ehdr::E_SHOFF) as usize;
        assert_eq!(Some(shoff as u64), l.shoff);
        assert_eq!(u16_at(&b, ehdr::E_SHNUM), 1);
        assert_eq!(u16_at(&b, ehdr::E_SHENTSIZE), 64);
        assert_eq!(u32_at(&b, shoff + 44) as usize, l.phnum);
        assert_eq!(l.phnum, 4);
        // CORE note then QEMU note then VMCOREINFO
        let n = l.notes.start as usize;
        assert_eq!(&b[n + 12..n + 16], b"CORE");
        let q = n + 12 + 8 + 336;
        assert_eq!(&b[q + 12..q + 16], b"QEMU");
        assert_eq!(u32_at(&b, q + 4), 440);
        assert!(l.notes.start >= shoff as u64 + 64);
    }

    #[test]
    fn deterministic() {
        let img = image();
        let o = ElfOptions::qemu();
        assert_eq!(write_elf(&img, &o), write_elf(&img, &o));
    }
}
