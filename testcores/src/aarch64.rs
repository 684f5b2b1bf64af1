//! Real AArch64 translation tables inside a [`MemoryImage`], and a small consistent arm64 "kernel" (linear map,
//! KASLR'd image holding `swapper_pg_dir`, a module page, `init_uts_ns`, VMCOREINFO in the arm64 kernel's own
//! number formats) for testing address translation on every granule, VA size and block size.
//!
//! Descriptors are written from the Arm ARM's definitions: bits 1:0 `0b11` table or page, `0b01` block; AF (bit
//! 10), inner shareable (bits 9:8) unless FEAT_LPA2 uses them for output-address bits 51:50; with 64 KiB pages and
//! 52-bit physical addresses, output-address bits 51:48 go in bits 15:12; PXN/UXN (bits 53/54) on data.

use std::ops::Range;

use crate::image::{CpuState, ImageError, MemoryImage};

/// Offset of `release` in `struct new_utsname` (after `sysname[65]`, `nodename[65]`).
pub const UTSNAME_RELEASE_OFFSET: u64 = 130;
/// Offset of `name` in `struct module` (6.1: `state` 4 + pad 4, `list` 16).
pub const MODULE_NAME_OFFSET: u64 = 24;
/// `MODULES_VSIZE` before 6.5.
pub const MODULES_VSIZE: u64 = 128 << 20;

const VALID: u64 = 1;
const TABLE_OR_PAGE: u64 = 0b11;
const BLOCK: u64 = 0b01;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const PXN_UXN: u64 = (1 << 53) | (1 << 54);

/// The shape of a set of tables: granule, the VA size they resolve, and whether output addresses use the
/// 52-bit encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// 4096, 16384 or 65536.
    pub granule: u64,
    /// Virtual-address bits the top table is indexed for.
    pub va_bits: u32,
    /// 52-bit output addresses: FEAT_LPA (64 KiB) or FEAT_LPA2 (4/16 KiB).
    pub pa52: bool,
}

impl Shape {
    pub fn shift(&self) -> u32 {
        self.granule.trailing_zeros()
    }

    pub fn bits_per_level(&self) -> u32 {
        self.shift() - 3
    }

    /// Table levels: 2 to 5.
    pub fn levels(&self) -> u32 {
        (self.va_bits - self.shift()).div_ceil(self.bits_per_level())
    }

    /// Bytes one descriptor covers at `level` (0 = the page level).
    pub fn span(&self, level: u32) -> u64 {
        1u64 << (self.shift() + self.bits_per_level() * level)
    }

    /// Levels (above 0) where the architecture allows block descriptors for this shape.
    pub fn block_levels(&self) -> Vec<u32> {
        let mut v = vec![1];
        if self.granule == 4096 || self.pa52 {
            v.push(2);
        }
        if self.granule == 4096 && self.pa52 {
            v.push(3);
        }
        v.retain(|&l| l < self.levels());
        v
    }

    fn index(&self, vaddr: u64, level: u32) -> u64 {
        let shift = self.shift() + self.bits_per_level() * level;
        let bits = if level + 1 == self.levels() {
            self.va_bits - shift
        } else {
            self.bits_per_level()
        };
        (vaddr >> shift) & ((1u64 << bits) - 1)
    }

    /// A descriptor's output-address field for `pa`.
    pub fn encode(&self, pa: u64) -> u64 {
        let low = pa & 0x0000_ffff_ffff_ffff & !(self.granule - 1);
        match (self.pa52, self.granule) {
            (false, _) => low,
            (true, 65536) => low | ((pa >> 48) & 0xf) << 12,
            (true, _) => (pa & 0x0003_ffff_ffff_ffff & !(self.granule - 1)) | ((pa >> 50) & 3) << 8,
        }
    }

    fn decode(&self, desc: u64) -> u64 {
        let low = desc & 0x0000_ffff_ffff_ffff & !(self.granule - 1);
        match (self.pa52, self.granule) {
            (false, _) => low,
            (true, 65536) => low | ((desc >> 12) & 0xf) << 48,
            (true, _) => {
                (desc & 0x0003_ffff_ffff_ffff & !(self.granule - 1)) | ((desc >> 8) & 3) << 50
            }
        }
    }

    fn attrs(&self) -> u64 {
        if self.pa52 && self.granule != 65536 {
            AF
        } else {
            AF | SH_INNER
        }
    }
}

/// Why a mapping could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("the image's pages are {image} bytes, the tables' granule {granule}")]
    PageSize { image: u32, granule: u64 },
    #[error("out of page-table pages")]
    OutOfTablePages,
    #[error("virtual address {0:#x} is not in the kernel half")]
    NotKernel(u64),
    #[error("{0:#x} is not aligned to the mapping size")]
    Misaligned(u64),
    #[error("virtual address {0:#x} is already mapped")]
    AlreadyMapped(u64),
    #[error("no block descriptors at level {0} for this shape")]
    NoBlockAtLevel(u32),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Builds AArch64 kernel (TTBR1) tables inside a [`MemoryImage`].
///
/// ```
/// use testcores::aarch64::{PageTableBuilder, Shape};
/// use testcores::MemoryImage;
/// let shape = Shape { granule: 4096, va_bits: 48, pa52: false };
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0x40000..0x41000);
/// let mut pt = PageTableBuilder::new(&mut img, shape, 0x40010..0x40020).unwrap();
/// pt.map(&mut img, 0xffff_8000_0800_0000, 0x4020_0000, 0x20_0000, 1).unwrap(); // one 2 MiB block
/// assert_eq!(pt.translate(&img, 0xffff_8000_0801_2345), Some(0x4021_2345));
/// ```
#[derive(Debug, Clone)]
pub struct PageTableBuilder {
    shape: Shape,
    root: u64,
    next_pfn: u64,
    end_pfn: u64,
}

impl PageTableBuilder {
    /// Empty tables; the top one is the first pfn of `table_pfns`.
    pub fn new(
        img: &mut MemoryImage,
        shape: Shape,
        table_pfns: Range<u64>,
    ) -> Result<Self, MapError> {
        if u64::from(img.page_size) != shape.granule {
            return Err(MapError::PageSize {
                image: img.page_size,
                granule: shape.granule,
            });
        }
        let mut b = PageTableBuilder {
            shape,
            root: 0,
            next_pfn: table_pfns.start,
            end_pfn: table_pfns.end,
        };
        b.root = b.alloc(img)?;
        Ok(b)
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    fn alloc(&mut self, img: &mut MemoryImage) -> Result<u64, MapError> {
        if self.next_pfn >= self.end_pfn {
            return Err(MapError::OutOfTablePages);
        }
        let paddr = self.next_pfn * self.shape.granule;
        img.write_phys(paddr, &vec![0u8; self.shape.granule as usize])?;
        self.next_pfn += 1;
        Ok(paddr)
    }

    fn entry(img: &MemoryImage, at: u64) -> u64 {
        img.read_phys(at, 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// Maps `len` bytes at `vaddr` to `paddr` with descriptors at `level` (0: pages; above: blocks).
    pub fn map(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        paddr: u64,
        len: u64,
        level: u32,
    ) -> Result<(), MapError> {
        if level > 0 && !self.shape.block_levels().contains(&level) {
            return Err(MapError::NoBlockAtLevel(level));
        }
        let step = self.shape.span(level);
        for x in [vaddr, paddr, len] {
            if x % step != 0 {
                return Err(MapError::Misaligned(x));
            }
        }
        let mut off = 0;
        while off < len {
            self.map_one(img, vaddr.wrapping_add(off), paddr + off, level)?;
            off += step;
        }
        Ok(())
    }

    /// Writes a raw descriptor at `level` for `vaddr` (tables above are created): for damaged-table tests.
    pub fn set_raw(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        level: u32,
        desc: u64,
    ) -> Result<(), MapError> {
        let table = self.table_for(img, vaddr, level)?;
        img.write_u64(table + 8 * self.shape.index(vaddr, level), desc)?;
        Ok(())
    }

    /// The table holding `vaddr`'s descriptor at `level`, creating the tables above it.
    fn table_for(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        level: u32,
    ) -> Result<u64, MapError> {
        if vaddr < u64::MAX << self.shape.va_bits {
            return Err(MapError::NotKernel(vaddr));
        }
        let mut table = self.root;
        for l in (level + 1..self.shape.levels()).rev() {
            let at = table + 8 * self.shape.index(vaddr, l);
            let e = Self::entry(img, at);
            if e & VALID != 0 {
                if e & 0b11 == BLOCK {
                    return Err(MapError::AlreadyMapped(vaddr));
                }
                table = self.shape.decode(e);
            } else {
                let t = self.alloc(img)?;
                img.write_u64(at, self.shape.encode(t) | TABLE_OR_PAGE)?;
                table = t;
            }
        }
        Ok(table)
    }

    fn map_one(
        &mut self,
        img: &mut MemoryImage,
        vaddr: u64,
        paddr: u64,
        level: u32,
    ) -> Result<(), MapError> {
        let table = self.table_for(img, vaddr, level)?;
        let at = table + 8 * self.shape.index(vaddr, level);
        if Self::entry(img, at) & VALID != 0 {
            return Err(MapError::AlreadyMapped(vaddr));
        }
        let kind = if level == 0 { TABLE_OR_PAGE } else { BLOCK };
        img.write_u64(
            at,
            self.shape.encode(paddr) | kind | self.shape.attrs() | PXN_UXN,
        )?;
        Ok(())
    }

    /// Walks the tables like the MMU (a reference for tests).
    pub fn translate(&self, img: &MemoryImage, vaddr: u64) -> Option<u64> {
        if vaddr < u64::MAX << self.shape.va_bits {
            return None;
        }
        let mut table = self.root;
        for level in (0..self.shape.levels()).rev() {
            let e = img.read_phys(table + 8 * self.shape.index(vaddr, level), 8)?;
            let e = u64::from_le_bytes(e.try_into().ok()?);
            match (e & 0b11, level) {
                (0b11, 0) | (0b01, 1..) => {
                    let span = self.shape.span(level);
                    return Some((self.shape.decode(e) & !(span - 1)) + (vaddr & (span - 1)));
                }
                (0b11, _) => table = self.shape.decode(e),
                _ => return None,
            }
        }
        None
    }
}

/// Where the linear map sits (see `vmcore::aarch64::Layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// 5.4+: linear map in the bottom half of the kernel space, image and modules above.
    LinearBelow,
    /// Before 5.4: modules and image in the bottom half, linear map in the top half.
    LinearAbove,
}

/// What [`kernel_image`] builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParams {
    /// 4096, 16384 or 65536.
    pub granule: u64,
    /// `VA_BITS` (configured).
    pub va_bits: u32,
    /// `64 - TCR_EL1_T1SZ`; `None` leaves `TCR_EL1_T1SZ` out of VMCOREINFO (pre-5.9 kernels).
    pub va_bits_actual: Option<u32>,
    /// `MAX_PHYSMEM_BITS`: 52 makes the tables use the 52-bit output-address encodings.
    pub max_physmem_bits: u32,
    pub layout: Layout,
    /// Start of RAM (and `PHYS_OFFSET`, before the 52-bit adjustment); block-aligned for `linear_level`.
    pub ram_base: u64,
    pub ram_mib: u64,
    /// KASLR slide of the image (`KERNELOFFSET`), a multiple of the image mapping size.
    pub kaslr_offset: u64,
    /// Descriptor level mapping the kernel image (0 pages, 1 the first block size).
    pub image_level: u32,
    /// Descriptor level mapping the linear map in the tables.
    pub linear_level: u32,
    /// `KERNELPACMASK` (0 without pointer authentication).
    pub pac_mask: u64,
    /// Also leave a `VA_BITS=` line instead of `NUMBER(VA_BITS)=` (both forms have been seen).
    pub bare_va_bits_key: bool,
    pub release: String,
    pub build_id: [u8; 20],
    pub module_name: String,
    pub crash_time: i64,
    pub nr_cpus: u32,
}

impl Default for KernelParams {
    /// Debian's 6.1 cloud-arm64 kernel under QEMU: 4 KiB pages, 48-bit VA, PAC, RAM at 1 GiB.
    fn default() -> Self {
        KernelParams {
            granule: 4096,
            va_bits: 48,
            va_bits_actual: Some(48),
            max_physmem_bits: 48,
            layout: Layout::LinearBelow,
            ram_base: 0x4000_0000,
            ram_mib: 1024,
            kaslr_offset: 0x1_2340_0000 & !0x1f_ffff,
            image_level: 1,
            linear_level: 1,
            pac_mask: 0xff7f_0000_0000_0000,
            bare_va_bits_key: false,
            release: "6.1.0-56-cloud-arm64".into(),
            build_id:
                *b"\x5a\x1e\x2d\x4c\x5b\x6a\x79\x88\x97\xa6\xb5\xc4\xd3\xe2\xf1\x00\x11\x22\x33\x64",
            module_name: "oot_prop".into(),
            crash_time: 1_700_000_000,
            nr_cpus: 2,
        }
    }
}

/// Where things are in the image [`kernel_image`] built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLayout {
    pub shape: Shape,
    /// `PAGE_OFFSET`.
    pub page_offset: u64,
    /// `NUMBER(PHYS_OFFSET)` as the kernel holds it (may wrap below zero on 52-bit kernels on 48-bit CPUs).
    pub phys_offset: u64,
    /// The linear-map address of the first RAM byte.
    pub linear_ram_vaddr: u64,
    pub kimage_voffset: u64,
    pub text_vaddr: u64,
    pub text_paddr: u64,
    pub image_len: u64,
    /// `SYMBOL(swapper_pg_dir)` (inside the image) and its physical address.
    pub swapper_pg_dir: u64,
    pub swapper_paddr: u64,
    pub init_uts_ns: u64,
    pub release_vaddr: u64,
    pub release_paddr: u64,
    pub module_vaddr: u64,
    pub module_paddr: u64,
    pub module_name_vaddr: u64,
    /// A vmalloc-area address mapped by each allowed block level (and pages): `(level, vaddr, paddr)`.
    pub vmalloc_probes: Vec<(u32, u64, u64)>,
    pub table_pfns: Range<u64>,
    pub vmcoreinfo: String,
}

/// Why [`kernel_image`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("bad kernel parameters: {0}")]
    Params(&'static str),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// VMCOREINFO as arm64 6.1 writes it: `NUMBER(VA_BITS)` decimal, the arm64 numbers as `0x` hex,
/// `MAX_PHYSMEM_BITS` decimal.
pub fn vmcoreinfo_text(p: &KernelParams, l: &KernelLayout) -> String {
    let build_id: String = p.build_id.iter().map(|b| format!("{b:02x}")).collect();
    let va_key = if p.bare_va_bits_key {
        "VA_BITS"
    } else {
        "NUMBER(VA_BITS)"
    };
    let mut s = format!(
        "OSRELEASE={release}\n\
         BUILD-ID={build_id}\n\
         PAGESIZE={ps}\n\
         SYMBOL(init_uts_ns)={uts:x}\n\
         OFFSET(uts_namespace.name)=0\n\
         SYMBOL(swapper_pg_dir)={pgd:x}\n\
         SYMBOL(_stext)={stext:x}\n\
         NUMBER(MAX_PHYSMEM_BITS)={mpb}\n\
         KERNELOFFSET={kaslr:x}\n\
         {va_key}={va}\n\
         NUMBER(kimage_voffset)={kv:#x}\n\
         NUMBER(PHYS_OFFSET)={po:#x}\n",
        release = p.release,
        ps = p.granule,
        uts = l.init_uts_ns,
        pgd = l.swapper_pg_dir,
        stext = l.text_vaddr,
        mpb = p.max_physmem_bits,
        kaslr = p.kaslr_offset,
        va = p.va_bits,
        kv = l.kimage_voffset,
        po = l.phys_offset,
    );
    if let Some(actual) = p.va_bits_actual {
        s += &format!("NUMBER(TCR_EL1_T1SZ)={:#x}\n", 64 - actual);
    }
    s += &format!(
        "NUMBER(KERNELPACMASK)={:#x}\nCRASHTIME={}\n",
        p.pac_mask, p.crash_time
    );
    s
}

/// Builds a small consistent arm64 kernel: tables with the linear map of all RAM (at `linear_level`), the image
/// (at `image_level`) holding `_text`, `init_uts_ns` (+1 MiB) and `swapper_pg_dir` (+2 MiB, the tables), a
/// 4 KiB-mapped module page, one vmalloc probe per allowed block level, and arm64 VMCOREINFO. Only written pages
/// are dumped.
///
/// ```
/// use testcores::aarch64::{kernel_image, KernelParams};
/// let (img, k) = kernel_image(&KernelParams::default()).unwrap();
/// assert_eq!(img.read_phys(k.release_paddr, 20).unwrap(), b"6.1.0-56-cloud-arm64");
/// assert_eq!(img.machine, "aarch64");
/// ```
pub fn kernel_image(p: &KernelParams) -> Result<(MemoryImage, KernelLayout), KernelError> {
    const MIB: u64 = 1 << 20;
    if ![4096, 16384, 65536].contains(&p.granule) {
        return Err(KernelError::Params("granule must be 4, 16 or 64 KiB"));
    }
    if !(36..=52).contains(&p.va_bits) {
        return Err(KernelError::Params("va_bits must be 36..=52"));
    }
    let actual = p.va_bits_actual.unwrap_or(p.va_bits);
    if actual > p.va_bits {
        return Err(KernelError::Params("va_bits_actual above va_bits"));
    }
    if p.nr_cpus == 0 {
        return Err(KernelError::Params("need at least one CPU"));
    }
    // The tables' shape, as the kernel lays out swapper_pg_dir (see vmcore::aarch64).
    let walk_bits = if p.granule == 65536 {
        p.va_bits
    } else {
        actual
    };
    let shape = Shape {
        granule: p.granule,
        va_bits: walk_bits,
        pa52: p.granule == 65536 && p.max_physmem_bits == 52 || walk_bits == 52,
    };
    for level in [p.image_level, p.linear_level] {
        if level > 0 && !shape.block_levels().contains(&level) {
            return Err(KernelError::Params("no block descriptors at that level"));
        }
    }
    let image_len = shape.span(p.image_level).max(4 * MIB);
    let ram_len = p.ram_mib * MIB;
    let linear_step = shape.span(p.linear_level);
    if p.ram_base % linear_step != 0 || ram_len % linear_step != 0 {
        return Err(KernelError::Params(
            "RAM must be aligned to the linear-map block",
        ));
    }
    if p.kaslr_offset % image_len != 0 {
        return Err(KernelError::Params(
            "kaslr_offset must be a multiple of the image mapping",
        ));
    }
    let text_paddr = p.ram_base + image_len.max(16 * MIB);
    if text_paddr + image_len + p.granule > p.ram_base + ram_len {
        return Err(KernelError::Params("RAM too small for the image"));
    }

    let top = u64::MAX << p.va_bits; // start of the kernel half
    let half = u64::MAX << (p.va_bits - 1);
    let va_bits_min = match (p.va_bits, p.granule) {
        (52, 16384) => 47,
        (52, _) => 48,
        (v, _) => v,
    };
    let (page_offset, modules_vaddr, phys_offset, linear_ram_vaddr) = match p.layout {
        Layout::LinearBelow => {
            // A 52-bit kernel on a CPU with fewer bits keeps PAGE_OFFSET and moves PHYS_OFFSET down instead,
            // so RAM appears at the start of the CPU's smaller linear range.
            let shift = (u64::MAX << actual).wrapping_sub(top);
            (
                top,
                u64::MAX << (va_bits_min - 1),
                p.ram_base.wrapping_sub(shift),
                top.wrapping_add(shift),
            )
        }
        Layout::LinearAbove => (half, top, p.ram_base, half),
    };
    let kimage_vaddr = modules_vaddr + MODULES_VSIZE;
    let text_vaddr = kimage_vaddr + p.kaslr_offset;
    if text_vaddr % image_len != 0 {
        return Err(KernelError::Params(
            "the image's address is not aligned to its mapping",
        ));
    }
    let kimage_voffset = text_vaddr.wrapping_sub(text_paddr);

    let mut img = MemoryImage::new(p.granule as u32);
    img.machine = "aarch64".into();
    img.release = p.release.clone();
    img.timestamp = (p.crash_time, 0);
    img.add_ram(p.ram_base / p.granule..(p.ram_base + ram_len) / p.granule);

    let table_start = (text_paddr + 2 * MIB) / p.granule;
    let table_pfns = table_start..(text_paddr + 4 * MIB) / p.granule;
    let mut pt = PageTableBuilder::new(&mut img, shape, table_pfns.clone())?;
    let swapper_paddr = pt.root();
    pt.map(
        &mut img,
        linear_ram_vaddr,
        p.ram_base,
        ram_len,
        p.linear_level,
    )?;
    pt.map(&mut img, text_vaddr, text_paddr, image_len, p.image_level)?;
    let module_vaddr = modules_vaddr + 5 * p.granule;
    let module_paddr = p.ram_base + ram_len - p.granule;
    pt.map(&mut img, module_vaddr, module_paddr, p.granule, 0)?;

    // vmalloc probes, above the image: one per descriptor level that can map (pages and each block size), each
    // pointing at a distinct marker page in RAM.
    let mut vmalloc_probes = Vec::new();
    let mut levels = vec![0];
    levels.extend(shape.block_levels());
    let vmalloc_base = text_vaddr + image_len;
    for (i, &level) in levels.iter().enumerate() {
        let span = shape.span(level);
        if span > ram_len || (level > 0 && span > 1 << 31) {
            continue; // a block bigger than this RAM (or than the kernel half holds room for here)
        }
        let vaddr = vmalloc_base.next_multiple_of(span) + span * (1 + 2 * i as u64);
        if vaddr.checked_add(span).is_none() {
            continue;
        }
        // Map the block onto RAM's start; the probe address is a marker page inside it.
        let block_paddr = p.ram_base.next_multiple_of(span);
        if block_paddr + span > p.ram_base + ram_len {
            continue;
        }
        pt.map(&mut img, vaddr, block_paddr, span, level)?;
        let marker_off = (1 + i as u64) * p.granule % span;
        let paddr = block_paddr + marker_off;
        img.write_u64(paddr, 0x7072_6f62_6500_0000 | i as u64)?; // "probe" + index
        vmalloc_probes.push((level, vaddr + marker_off, paddr));
    }

    let uts_paddr = text_paddr + MIB;
    let init_uts_ns = text_vaddr + MIB;
    let fields = [
        "Linux",
        "testcores",
        p.release.as_str(),
        "#1 SMP Debian 6.1.192-2",
        "aarch64",
        "(none)",
    ];
    let mut name = vec![0u8; 6 * 65];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        name[65 * i..65 * i + n].copy_from_slice(&f.as_bytes()[..n]);
    }
    img.write_phys(uts_paddr, &name)?;
    let mut module = vec![0u8; 256];
    let n = p.module_name.len().min(55);
    module[MODULE_NAME_OFFSET as usize..MODULE_NAME_OFFSET as usize + n]
        .copy_from_slice(&p.module_name.as_bytes()[..n]);
    img.write_phys(module_paddr, &module)?;
    img.write_u64(text_paddr, u64::from_le_bytes(*b"ARM64TXT"))?;
    for i in 0..p.nr_cpus {
        img.cpus.push(CpuState::new(i + 1));
    }

    let mut layout = KernelLayout {
        shape,
        page_offset,
        phys_offset,
        linear_ram_vaddr,
        kimage_voffset,
        text_vaddr,
        text_paddr,
        image_len,
        swapper_pg_dir: text_vaddr + (swapper_paddr - text_paddr),
        swapper_paddr,
        init_uts_ns,
        release_vaddr: init_uts_ns + UTSNAME_RELEASE_OFFSET,
        release_paddr: uts_paddr + UTSNAME_RELEASE_OFFSET,
        module_vaddr,
        module_paddr,
        module_name_vaddr: module_vaddr + MODULE_NAME_OFFSET,
        vmalloc_probes,
        table_pfns,
        vmcoreinfo: String::new(),
    };
    layout.vmcoreinfo = vmcoreinfo_text(p, &layout);
    img.vmcoreinfo = Some(layout.vmcoreinfo.clone());
    Ok((img, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_maps_pages_and_each_block_size() {
        for (granule, va_bits, pa52) in [
            (4096, 39, false),
            (4096, 48, false),
            (4096, 52, true),
            (16384, 36, false),
            (16384, 47, false),
            (16384, 48, false),
            (16384, 52, true),
            (65536, 42, false),
            (65536, 48, false),
            (65536, 52, true),
        ] {
            let shape = Shape {
                granule,
                va_bits,
                pa52,
            };
            let mut img = MemoryImage::new(granule as u32);
            img.add_ram(0..(64 << 20) / granule);
            let mut pt = PageTableBuilder::new(&mut img, shape, 1..64).unwrap();
            let va = (u64::MAX << va_bits) + shape.span(0) * 7;
            pt.map(&mut img, va, 0x10_0000, granule, 0).unwrap();
            assert_eq!(pt.translate(&img, va + 5), Some(0x10_0005), "{shape:?}");
            for level in shape.block_levels() {
                let span = shape.span(level);
                let va = (u64::MAX << va_bits) + span * 3;
                // Blocks map beyond RAM here: only the descriptors matter.
                pt.map(&mut img, va, span * 2, span, level).unwrap();
                assert_eq!(
                    pt.translate(&img, va + 9),
                    Some(span * 2 + 9),
                    "{shape:?} {level}"
                );
            }
        }
    }

    #[test]
    fn high_physical_bits_round_trip() {
        for granule in [4096u64, 16384, 65536] {
            let shape = Shape {
                granule,
                va_bits: 52,
                pa52: true,
            };
            let pa = 0x000f_1234_5678_0000 & !(granule - 1);
            assert_eq!(shape.decode(shape.encode(pa)), pa, "{granule}");
        }
    }
}
