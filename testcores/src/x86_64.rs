//! Real x86-64 page tables inside a [`MemoryImage`], and a small consistent "kernel" image
//! (direct map, KASLR'd text mapping, module area, `init_uts_ns`, VMCOREINFO) for testing
//! address translation and symbol lookups.

use std::ops::Range;

use crate::image::{reg, CpuState, ImageError, MemoryImage};

/// `__START_KERNEL_map`: kernel text virtual base; `phys = vaddr - START_KERNEL_MAP + phys_base`.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Default link address of `_text` (`__START_KERNEL_map + 16 MiB`), before KASLR.
pub const DEFAULT_TEXT_VADDR: u64 = 0xffff_ffff_8100_0000;
/// `MODULES_VADDR` (`__START_KERNEL_map + KERNEL_IMAGE_SIZE`).
pub const MODULES_VADDR: u64 = 0xffff_ffff_c000_0000;
/// `KERNEL_IMAGE_SIZE` (1 GiB with KASLR).
pub const KERNEL_IMAGE_SIZE: u64 = 0x4000_0000;
/// Default `page_offset_base` with 4-level paging.
pub const PAGE_OFFSET_BASE_L4: u64 = 0xffff_8880_0000_0000;
/// Default `page_offset_base` with 5-level paging.
pub const PAGE_OFFSET_BASE_L5: u64 = 0xff11_0000_0000_0000;
/// Physical-address bits of a page-table entry (bits 12..51).
pub const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Offset of `name` in `struct module` (6.1: `state` 4 + pad 4, `list` 16).
pub const MODULE_NAME_OFFSET: u64 = 24;
/// Offset of `release` in `struct new_utsname` (after `sysname[65]`, `nodename[65]`).
pub const UTSNAME_RELEASE_OFFSET: u64 = 130;

const PRESENT: u64 = 1;
const RW: u64 = 1 << 1;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const NX: u64 = 1 << 63;
/// `_KERNPG_TABLE` without the encryption bit.
const TABLE_FLAGS: u64 = PRESENT | RW | ACCESSED | DIRTY;
/// `__PAGE_KERNEL` without NX.
const LEAF_FLAGS: u64 = PRESENT | RW | ACCESSED | DIRTY | GLOBAL;

/// Paging mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paging {
    /// PML4 at the top: 48-bit virtual addresses.
    FourLevel,
    /// PML5 at the top (`pgtable_l5_enabled`): 57-bit virtual addresses.
    FiveLevel,
}

impl Paging {
    fn levels(self) -> u32 {
        match self {
            Paging::FourLevel => 4,
            Paging::FiveLevel => 5,
        }
    }

    /// Whether `vaddr` is canonical in this mode.
    pub fn is_canonical(self, vaddr: u64) -> bool {
        let bits = 12 + 9 * self.levels();
        let top = (vaddr as i64) >> (bits - 1);
        top == 0 || top == -1
    }
}

/// Size of a leaf mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageSize {
    /// 4 KiB page (PTE).
    Size4K,
    /// 2 MiB page (PMD with PS).
    Size2M,
    /// 1 GiB page (PUD with PS).
    Size1G,
}

impl PageSize {
    /// Bytes covered.
    pub fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => 1 << 12,
            PageSize::Size2M => 1 << 21,
            PageSize::Size1G => 1 << 30,
        }
    }

    /// Table level holding the leaf (1 = PTE, 2 = PMD, 3 = PUD).
    fn level(self) -> u32 {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => 2,
            PageSize::Size1G => 3,
        }
    }
}

/// Why a mapping could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Page tables need a 4096-byte page size.
    #[error("page tables need 4 KiB pages, the image has {0}")]
    PageSize(u32),
    /// The table pfn range is used up.
    #[error("out of page-table pages")]
    OutOfTablePages,
    /// The virtual address is not canonical for the paging mode.
    #[error("virtual address {0:#x} is not canonical")]
    NotCanonical(u64),
    /// Address or length not a multiple of the page size.
    #[error("{0:#x} is not aligned to the page size")]
    Misaligned(u64),
    /// Something is already mapped there (leaf or large page in the way).
    #[error("virtual address {0:#x} is already mapped")]
    AlreadyMapped(u64),
    /// A table page could not be written (not RAM).
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Builds x86-64 page tables inside a [`MemoryImage`].
///
/// Table pages come from a pfn range given up front (the first one is the top table, whose
/// physical address is CR3 and `init_top_pgt`). Table entries are `P|RW|A|D`, leaves
/// `P|RW|A|D|G` (plus `PS` for 2 MiB/1 GiB, plus NX when asked), and `sme_mask` is ORed into every
/// entry as the kernel does with SME.
///
/// ```
/// use testcores::x86_64::{PageSize, PageTableBuilder, Paging};
/// use testcores::MemoryImage;
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0..1024);
/// let mut pt = PageTableBuilder::new(&mut img, Paging::FourLevel, 16..32, 0).unwrap();
/// pt.map(&mut img, 0xffff_ffff_c000_0000, 0x20_0000, 0x2000, PageSize::Size4K, false).unwrap();
/// assert_eq!(pt.translate(&img, 0xffff_ffff_c000_1234), Some(0x20_1234));
/// assert_eq!(pt.root(), 16 * 4096);
/// ```
#[derive(Debug, Clone)]
pub struct PageTableBuilder {
    paging: Paging,
    sme_mask: u64,
    root: u64,
    next_pfn: u64,
    end_pfn: u64,
}

impl PageTableBuilder {
    /// Starts empty tables: the top table is the first pfn of `table_pfns` (zeroed in `img`).
    pub fn new(
        img: &mut MemoryImage,
        paging: Paging,
        table_pfns: Range<u64>,
        sme_mask: u64,
    ) -> Result<Self, MapError> {
        if img.page_size != 4096 {
            return Err(MapError::PageSize(img.page_size));
        }
        let mut b = PageTableBuilder {
            paging,
            sme_mask,
            root: 0,
            next_pfn: table_pfns.start,
            end_pfn: table_pfns.end,
        };
        b.root = b.alloc(img)?;
        Ok(b)
    }

    /// Physical address of the top table (PML4 or PML5), without `sme_mask`.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The paging mode.
    pub fn paging(&self) -> Paging {
        self.paging
    }

    /// Table pages used so far (pfns from the start of the range up to this one, exclusive).
    pub fn next_free_pfn(&self) -> u64 {
        self.next_pfn
    }

    fn alloc(&mut self, img: &mut MemoryImage) -> Result<u64, MapError> {
        if self.next_pfn >= self.end_pfn {
            return Err(MapError::OutOfTablePages);
        }
        let paddr = self.next_pfn * 4096;
        img.write_phys(paddr, &[0u8; 4096])?;
        self.next_pfn += 1;
        Ok(paddr)
    }

    fn index(vaddr: u64, level: u32) -> u64 {
        (vaddr >> (12 + 9 * (level - 1))) & 0x1ff
    }

    fn entry(img: &MemoryImage, at: u64) -> u64 {
        img.read_phys(at, 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// Maps `len` bytes at `vaddr` to `paddr` with pages of `size` (all three multiples of it).
    /// `nx` sets the no-execute bit in the leaves (the direct map has it, text does not).
    pub fn map(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        paddr: u64,
        len: u64,
        size: PageSize,
        nx: bool,
    ) -> Result<(), MapError> {
        let step = size.bytes();
        for x in [vaddr, paddr, len] {
            if x % step != 0 {
                return Err(MapError::Misaligned(x));
            }
        }
        let mut off = 0;
        while off < len {
            self.map_one(img, vaddr.wrapping_add(off), paddr + off, size, nx)?;
            off += step;
        }
        Ok(())
    }

    fn map_one(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        paddr: u64,
        size: PageSize,
        nx: bool,
    ) -> Result<(), MapError> {
        if !self.paging.is_canonical(vaddr) {
            return Err(MapError::NotCanonical(vaddr));
        }
        let mut table = self.root;
        for level in (size.level() + 1..=self.paging.levels()).rev() {
            let at = table + 8 * Self::index(vaddr, level);
            let e = Self::entry(img, at);
            if e & PRESENT != 0 {
                if e & PS != 0 {
                    return Err(MapError::AlreadyMapped(vaddr));
                }
                table = e & PTE_ADDR_MASK & !self.sme_mask;
            } else {
                let t = self.alloc(img)?;
                img.write_u64(at, t | TABLE_FLAGS | self.sme_mask)?;
                table = t;
            }
        }
        let at = table + 8 * Self::index(vaddr, size.level());
        if Self::entry(img, at) & PRESENT != 0 {
            return Err(MapError::AlreadyMapped(vaddr));
        }
        let mut leaf = paddr | LEAF_FLAGS | self.sme_mask;
        if size != PageSize::Size4K {
            leaf |= PS;
        }
        if nx {
            leaf |= NX;
        }
        img.write_u64(at, leaf)?;
        Ok(())
    }

    /// Walks the tables like the MMU (a reference for tests): the physical address of `vaddr`.
    pub fn translate(&self, img: &MemoryImage, vaddr: u64) -> Option<u64> {
        if !self.paging.is_canonical(vaddr) {
            return None;
        }
        let mut table = self.root;
        for level in (1..=self.paging.levels()).rev() {
            let e = img.read_phys(table + 8 * Self::index(vaddr, level), 8)?;
            let e = u64::from_le_bytes(e.try_into().ok()?);
            if e & PRESENT == 0 {
                return None;
            }
            let base = e & PTE_ADDR_MASK & !self.sme_mask;
            if e & PS != 0 && level > 3 {
                return None; // PS is reserved in PML4/PML5 entries: the MMU faults.
            }
            if level == 1 || e & PS != 0 {
                let span = 1u64 << (12 + 9 * (level - 1));
                return Some((base & !(span - 1)) + (vaddr & (span - 1)));
            }
            table = base;
        }
        None
    }
}

/// What [`kernel_image`] builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParams {
    /// RAM size in MiB (RAM is pfns `[1, 0x9f)` and `[0x100, ram_mib * 256)`, like a PC).
    pub ram_mib: u64,
    /// Paging mode.
    pub paging: Paging,
    /// SME encryption bit(s) ORed into every page-table entry (e.g. `1 << 47`), 0 for none.
    pub sme_mask: u64,
    /// KASLR slide of the text mapping (`KERNELOFFSET`); a multiple of 2 MiB.
    pub kaslr_offset: u64,
    /// Physical load address of `_text`; a multiple of 2 MiB.
    pub text_paddr: u64,
    /// `page_offset_base`; `None` for the mode's default.
    pub page_offset_base: Option<u64>,
    /// Page size of the direct map.
    pub direct_map_page: PageSize,
    /// `init_uts_ns.name.release` and `OSRELEASE`.
    pub release: String,
    /// `BUILD-ID` (20 bytes).
    pub build_id: [u8; 20],
    /// Name written into the module page.
    pub module_name: String,
    /// Offset of `name` inside `struct uts_namespace` (0 since 5.11; 4 when a kref came first).
    pub uts_name_offset: u64,
    /// `CRASHTIME`, also the image timestamp.
    pub crash_time: i64,
    /// Number of CPUs.
    pub nr_cpus: u32,
}

impl Default for KernelParams {
    fn default() -> Self {
        KernelParams {
            ram_mib: 64,
            paging: Paging::FourLevel,
            sme_mask: 0,
            kaslr_offset: 0x0c0_0000,
            text_paddr: 0x200_0000,
            page_offset_base: None,
            direct_map_page: PageSize::Size2M,
            release: "6.1.0-56-cloud-amd64".into(),
            build_id:
                *b"\x3f\x1e\x2d\x4c\x5b\x6a\x79\x88\x97\xa6\xb5\xc4\xd3\xe2\xf1\x00\x11\x22\x33\x44",
            module_name: "oot_prop".into(),
            uts_name_offset: 0,
            crash_time: 1_700_000_000,
            nr_cpus: 2,
        }
    }
}

/// Where things are in the image [`kernel_image`] built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLayout {
    /// Paging mode.
    pub paging: Paging,
    /// `page_offset_base` (direct map of physical 0).
    pub page_offset_base: u64,
    /// `KERNELOFFSET`.
    pub kaslr_offset: u64,
    /// `phys_base` as the kernel holds it (a u64 that may be "negative").
    pub phys_base: u64,
    /// `sme_mask`.
    pub sme_mask: u64,
    /// `_text` / `_stext` virtual address (`DEFAULT_TEXT_VADDR + kaslr_offset`).
    pub text_vaddr: u64,
    /// Physical address of `_text`.
    pub text_paddr: u64,
    /// Size of the kernel image mapping (two 2 MiB pages).
    pub text_len: u64,
    /// `SYMBOL(init_top_pgt)`: virtual address of the top table, in the text mapping.
    pub init_top_pgt: u64,
    /// Physical address of the top table (CR3 without `sme_mask`).
    pub top_table_paddr: u64,
    /// `SYMBOL(init_uts_ns)`.
    pub init_uts_ns: u64,
    /// Virtual address of `init_uts_ns.name.release`.
    pub release_vaddr: u64,
    /// Physical address of `init_uts_ns.name.release`.
    pub release_paddr: u64,
    /// Virtual address of the `struct module` page (4 KiB-mapped, in the module area).
    pub module_vaddr: u64,
    /// Physical address of the module page.
    pub module_paddr: u64,
    /// Virtual address of the module name (`module_vaddr + MODULE_NAME_OFFSET`).
    pub module_name_vaddr: u64,
    /// A 64-bit marker word at `_text` (`b"TESTCORE"` as LE u64), readable through the text
    /// mapping and the direct map.
    pub text_marker: u64,
    /// The pfn range page tables were allocated from.
    pub table_pfns: Range<u64>,
    /// VMCOREINFO text as also stored in the image.
    pub vmcoreinfo: String,
}

/// Why [`kernel_image`] failed (inconsistent parameters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// Parameters that cannot describe a kernel (alignment, overlap, RAM too small).
    #[error("bad kernel parameters: {0}")]
    Params(&'static str),
    /// Building page tables failed.
    #[error(transparent)]
    Map(#[from] MapError),
    /// Writing memory failed.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The VMCOREINFO text for `layout`, with the keys and number formats a 6.1 x86-64 kernel uses
/// (`SYMBOL` hex, `NUMBER` signed decimal, `KERNELOFFSET` hex, `OFFSET` decimal).
pub fn vmcoreinfo_text(p: &KernelParams, l: &KernelLayout) -> String {
    let build_id: String = p.build_id.iter().map(|b| format!("{b:02x}")).collect();
    let l5 = u8::from(l.paging == Paging::FiveLevel);
    format!(
        "OSRELEASE={release}\n\
         BUILD-ID={build_id}\n\
         PAGESIZE=4096\n\
         SYMBOL(init_uts_ns)={uts:x}\n\
         OFFSET(uts_namespace.name)={uts_off}\n\
         SYMBOL(swapper_pg_dir)={pgd:x}\n\
         SYMBOL(_stext)={stext:x}\n\
         NUMBER(phys_base)={phys_base}\n\
         SYMBOL(init_top_pgt)={pgd:x}\n\
         NUMBER(pgtable_l5_enabled)={l5}\n\
         KERNELOFFSET={kaslr:x}\n\
         NUMBER(KERNEL_IMAGE_SIZE)={kis}\n\
         NUMBER(sme_mask)={sme}\n\
         CRASHTIME={time}\n",
        release = p.release,
        uts = l.init_uts_ns,
        uts_off = p.uts_name_offset,
        pgd = l.init_top_pgt,
        stext = l.text_vaddr,
        phys_base = l.phys_base as i64,
        kaslr = l.kaslr_offset,
        kis = KERNEL_IMAGE_SIZE,
        sme = l.sme_mask as i64,
        time = p.crash_time,
    )
}

/// Builds a small consistent kernel image: page tables (direct map of all RAM at
/// `page_offset_base`, the 4 MiB kernel image at `_text` with 2 MiB pages, one 4 KiB-mapped
/// `struct module` page at `MODULES_VADDR + 0x5000`), `init_uts_ns` filled in, a marker at
/// `_text`, some pattern pages, CPUs whose CR3 is the top table, and VMCOREINFO. Only the pages
/// written are dumped; the rest of RAM is excluded, so writers stay fast.
///
/// Memory map: kernel image `[text_paddr, +4 MiB)`: `_text` at +0, `init_uts_ns` at +1 MiB,
/// page tables from +2 MiB (the top table first, so `init_top_pgt = _text + 2 MiB`); the module
/// page is the last RAM page.
///
/// ```
/// use testcores::x86_64::{kernel_image, KernelParams};
/// let (img, k) = kernel_image(&KernelParams::default()).unwrap();
/// let release = img.read_phys(k.release_paddr, 20).unwrap();
/// assert_eq!(&release, b"6.1.0-56-cloud-amd64");
/// ```
pub fn kernel_image(p: &KernelParams) -> Result<(MemoryImage, KernelLayout), KernelError> {
    const MIB2: u64 = 2 << 20;
    let ram_end = p.ram_mib << 20;
    let text_len = 2 * MIB2;
    if p.kaslr_offset % MIB2 != 0 || p.text_paddr % MIB2 != 0 {
        return Err(KernelError::Params(
            "kaslr_offset and text_paddr must be 2 MiB aligned",
        ));
    }
    if p.text_paddr < 1 << 20 || p.text_paddr + text_len > ram_end.saturating_sub(MIB2) {
        return Err(KernelError::Params(
            "kernel image must sit in RAM below the last 2 MiB",
        ));
    }
    if p.kaslr_offset + text_len > KERNEL_IMAGE_SIZE - (16 << 20) {
        return Err(KernelError::Params("kaslr_offset too large"));
    }
    if p.nr_cpus == 0 {
        return Err(KernelError::Params("need at least one CPU"));
    }
    let pob = p.page_offset_base.unwrap_or(match p.paging {
        Paging::FourLevel => PAGE_OFFSET_BASE_L4,
        Paging::FiveLevel => PAGE_OFFSET_BASE_L5,
    });

    let mut img = MemoryImage::new(4096);
    img.add_ram(1..0x9f);
    img.add_ram(0x100..ram_end / 4096);
    img.release = p.release.clone();
    img.timestamp = (p.crash_time, 0);

    let text_vaddr = DEFAULT_TEXT_VADDR + p.kaslr_offset;
    let phys_base = p.text_paddr.wrapping_sub(text_vaddr - START_KERNEL_MAP);
    let table_start = (p.text_paddr + MIB2) / 4096;
    let table_pfns = table_start..table_start + 512;
    let mut pt = PageTableBuilder::new(&mut img, p.paging, table_pfns.clone(), p.sme_mask)?;

    // Direct map over all of RAM's span (from physical 0), rounded up to the page size.
    let dm_step = p.direct_map_page.bytes();
    let dm_len = ram_end.div_ceil(dm_step) * dm_step;
    pt.map(&mut img, pob, 0, dm_len, p.direct_map_page, true)?;
    // Kernel image.
    pt.map(
        &mut img,
        text_vaddr,
        p.text_paddr,
        text_len,
        PageSize::Size2M,
        false,
    )?;
    // Module page, last RAM page, 4 KiB mapping.
    let module_vaddr = MODULES_VADDR + 0x5000;
    let module_paddr = ram_end - 4096;
    pt.map(
        &mut img,
        module_vaddr,
        module_paddr,
        4096,
        PageSize::Size4K,
        true,
    )?;

    let text_marker = u64::from_le_bytes(*b"TESTCORE");
    img.write_u64(p.text_paddr, text_marker)?;

    let uts_paddr = p.text_paddr + (1 << 20);
    let init_uts_ns = text_vaddr + (1 << 20);
    let name_paddr = uts_paddr + p.uts_name_offset;
    let fields = [
        "Linux",
        "testcores",
        p.release.as_str(),
        "#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1",
        "x86_64",
        "(none)",
    ];
    let mut name = vec![0u8; 6 * 65];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        name[65 * i..65 * i + n].copy_from_slice(&f.as_bytes()[..n]);
    }
    img.write_phys(name_paddr, &name)?;

    let mut module = vec![0u8; 4096];
    let n = p.module_name.len().min(55); // MODULE_NAME_LEN is 56 with the NUL
    module[MODULE_NAME_OFFSET as usize..MODULE_NAME_OFFSET as usize + n]
        .copy_from_slice(&p.module_name.as_bytes()[..n]);
    img.write_phys(module_paddr, &module)?;

    // Some bulk data so compressed dumps have work to do.
    img.fill_pattern(0x100..0x140);

    for i in 0..p.nr_cpus {
        let mut cpu = CpuState::new(i + 1);
        cpu.regs[reg::RIP] = text_vaddr + 0x1234 + u64::from(i);
        cpu.regs[reg::RSP] = pob + 0x10_0000 + 0x4000 * u64::from(i);
        cpu.regs[reg::CS] = 0x10;
        cpu.regs[reg::SS] = 0x18;
        cpu.regs[reg::RFLAGS] = 0x246;
        cpu.regs[reg::GS_BASE] = pob + 0x20_0000 + 0x1000 * u64::from(i);
        cpu.cr = [0x8005_0033, 0, 0, pt.root() | p.sme_mask, 0x0037_06f0];
        if p.paging == Paging::FiveLevel {
            cpu.cr[4] |= 1 << 12; // CR4.LA57
        }
        cpu.kernel_gs_base = 0;
        img.cpus.push(cpu);
    }

    let mut layout = KernelLayout {
        paging: p.paging,
        page_offset_base: pob,
        kaslr_offset: p.kaslr_offset,
        phys_base,
        sme_mask: p.sme_mask,
        text_vaddr,
        text_paddr: p.text_paddr,
        text_len,
        init_top_pgt: text_vaddr + MIB2,
        top_table_paddr: pt.root(),
        init_uts_ns,
        release_vaddr: init_uts_ns + p.uts_name_offset + UTSNAME_RELEASE_OFFSET,
        release_paddr: name_paddr + UTSNAME_RELEASE_OFFSET,
        module_vaddr,
        module_paddr,
        module_name_vaddr: module_vaddr + MODULE_NAME_OFFSET,
        text_marker,
        table_pfns,
        vmcoreinfo: String::new(),
    };
    layout.vmcoreinfo = vmcoreinfo_text(p, &layout);
    img.vmcoreinfo = Some(layout.vmcoreinfo.clone());
    img.phys_base = phys_base;
    Ok((img, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram(mib: u64) -> MemoryImage {
        let mut img = MemoryImage::new(4096);
        img.add_ram(0..mib * 256);
        img
    }

    #[test]
    fn maps_all_page_sizes_4_and_5_level() {
        for paging in [Paging::FourLevel, Paging::FiveLevel] {
            let mut img = ram(8);
            let mut pt = PageTableBuilder::new(&mut img, paging, 1..64, 1 << 47).unwrap();
            let pob = match paging {
                Paging::FourLevel => PAGE_OFFSET_BASE_L4,
                Paging::FiveLevel => PAGE_OFFSET_BASE_L5,
            };
            pt.map(&mut img, pob, 0, 1 << 30, PageSize::Size1G, true)
                .unwrap();
            pt.map(
                &mut img,
                DEFAULT_TEXT_VADDR,
                0x40_0000,
                0x40_0000,
                PageSize::Size2M,
                false,
            )
            .unwrap();
            pt.map(
                &mut img,
                MODULES_VADDR,
                0x7f_f000,
                0x1000,
                PageSize::Size4K,
                false,
            )
            .unwrap();
            assert_eq!(pt.translate(&img, pob + 0x12_3456), Some(0x12_3456));
            assert_eq!(
                pt.translate(&img, DEFAULT_TEXT_VADDR + 0x20_0010),
                Some(0x60_0010)
            );
            assert_eq!(pt.translate(&img, MODULES_VADDR + 0xabc), Some(0x7f_fabc));
            assert_eq!(pt.translate(&img, MODULES_VADDR + 0x1000), None);
            // sme bit is in the entries, stripped by the walk
            let top = img.read_phys(pt.root(), 4096).unwrap();
            let nonzero: Vec<u64> = top
                .chunks(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .filter(|e| *e != 0)
                .collect();
            assert!(!nonzero.is_empty());
            assert!(nonzero.iter().all(|e| e & (1 << 47) != 0 && e & 1 == 1));
            assert_eq!(
                pt.map(&mut img, MODULES_VADDR, 0, 0x1000, PageSize::Size4K, false),
                Err(MapError::AlreadyMapped(MODULES_VADDR))
            );
            assert_eq!(
                pt.map(&mut img, pob + 0x1000, 0, 0x1000, PageSize::Size4K, false),
                Err(MapError::AlreadyMapped(pob + 0x1000))
            );
        }
    }

    #[test]
    fn indices_follow_the_mode() {
        let mut img = ram(4);
        let mut pt = PageTableBuilder::new(&mut img, Paging::FiveLevel, 1..16, 0).unwrap();
        // A 5-level-only address (bits 48..56 used).
        let va = 0xff11_0000_0000_0000;
        assert!(!Paging::FourLevel.is_canonical(va));
        pt.map(&mut img, va, 0x1000, 0x1000, PageSize::Size4K, true)
            .unwrap();
        let pml5_index = (va >> 48) & 0x1ff;
        let e = img.read_phys(pt.root() + 8 * pml5_index, 8).unwrap();
        assert_ne!(u64::from_le_bytes(e.try_into().unwrap()), 0);
        assert_eq!(pt.translate(&img, va + 5), Some(0x1005));
        // the leaf has NX
        let mut pt4 = PageTableBuilder::new(&mut img, Paging::FourLevel, 16..32, 0).unwrap();
        assert_eq!(
            pt4.map(&mut img, va, 0, 0x1000, PageSize::Size4K, false),
            Err(MapError::NotCanonical(va))
        );
        assert_eq!(
            pt4.map(
                &mut img,
                MODULES_VADDR,
                0x800,
                0x1000,
                PageSize::Size4K,
                false
            ),
            Err(MapError::Misaligned(0x800))
        );
    }

    #[test]
    fn runs_out_of_table_pages_cleanly() {
        let mut img = ram(4);
        let mut pt = PageTableBuilder::new(&mut img, Paging::FourLevel, 1..3, 0).unwrap();
        assert_eq!(
            pt.map(&mut img, MODULES_VADDR, 0, 0x1000, PageSize::Size4K, false),
            Err(MapError::OutOfTablePages)
        );
    }

    #[test]
    fn kernel_image_is_consistent() {
        for (paging, sme, dm) in [
            (Paging::FourLevel, 0, PageSize::Size2M),
            (Paging::FiveLevel, 1u64 << 47, PageSize::Size1G),
            (Paging::FourLevel, 1u64 << 51, PageSize::Size4K),
        ] {
            let p = KernelParams {
                paging,
                sme_mask: sme,
                direct_map_page: dm,
                ..Default::default()
            };
            let (img, k) = kernel_image(&p).unwrap();
            let pt = PageTableBuilder {
                paging,
                sme_mask: sme,
                root: k.top_table_paddr,
                next_pfn: 0,
                end_pfn: 0,
            };
            // Text formula and page-table walk agree.
            let via_formula = |va: u64| va.wrapping_sub(START_KERNEL_MAP).wrapping_add(k.phys_base);
            for va in [k.text_vaddr, k.init_top_pgt, k.release_vaddr] {
                assert_eq!(pt.translate(&img, va), Some(via_formula(va)), "{va:#x}");
            }
            assert_eq!(via_formula(k.init_top_pgt), k.top_table_paddr);
            assert_eq!(
                pt.translate(&img, k.page_offset_base + k.release_paddr),
                Some(k.release_paddr)
            );
            assert_eq!(
                pt.translate(&img, k.module_name_vaddr),
                Some(k.module_paddr + 24)
            );
            let name = img.read_phys(k.module_paddr + 24, 9).unwrap();
            assert_eq!(&name, b"oot_prop\0");
            let marker = img.read_phys(k.text_paddr, 8).unwrap();
            assert_eq!(
                u64::from_le_bytes(marker.try_into().unwrap()),
                k.text_marker
            );
            assert_eq!(img.cpus[0].cr[3], k.top_table_paddr | sme);
            let v = img.vmcoreinfo.as_ref().unwrap();
            assert!(v.contains(&format!("SYMBOL(init_top_pgt)={:x}\n", k.init_top_pgt)));
            assert!(v.contains("KERNELOFFSET=c00000\n"));
            assert!(v.contains(&format!(
                "NUMBER(pgtable_l5_enabled)={}\n",
                u8::from(paging == Paging::FiveLevel)
            )));
            assert!(v.contains(&format!("NUMBER(sme_mask)={sme}\n")));
            assert!(v.contains("BUILD-ID=3f1e2d4c5b6a798897a6b5c4d3e2f10011223344\n"));
            assert_eq!(img.phys_base, k.phys_base);
            // Cheap: a few hundred pages at most.
            assert!(img.pages.len() < 200, "{}", img.pages.len());
        }
    }

    #[test]
    fn negative_phys_base_is_printed_signed() {
        let p = KernelParams {
            kaslr_offset: 0x1e00_0000,
            text_paddr: 0x100_0000,
            ..Default::default()
        };
        let (_, k) = kernel_image(&p).unwrap();
        assert_eq!(k.phys_base as i64, -0x1e00_0000);
        assert!(k.vmcoreinfo.contains("NUMBER(phys_base)=-503316480\n"));
    }

    #[test]
    fn bad_params_are_refused() {
        let p = KernelParams {
            text_paddr: 0x123_0000,
            ..Default::default()
        };
        assert!(matches!(kernel_image(&p), Err(KernelError::Params(_))));
        for ram_mib in [0, 1, 4] {
            let p = KernelParams {
                ram_mib,
                ..Default::default()
            };
            assert!(matches!(kernel_image(&p), Err(KernelError::Params(_))));
        }
    }
}
