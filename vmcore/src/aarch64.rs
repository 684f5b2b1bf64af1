//! AArch64 kernel virtual-to-physical translation.
//!
//! Everything comes from VMCOREINFO (nothing from the dump's `p_vaddr`, which kexec-tools gets wrong on kernels
//! whose `/proc/kallsyms` lacks `_text`):
//! - the kernel image: `phys = vaddr - kimage_voffset` (used for `swapper_pg_dir` itself, and checked against the
//!   page tables);
//! - the linear map: `phys = vaddr - PAGE_OFFSET + PHYS_OFFSET`. Since 5.4 the linear map is the bottom half of
//!   the kernel's address space (`PAGE_OFFSET = -(1 << VA_BITS)`); before, it was the top half
//!   (`PAGE_OFFSET = -(1 << (VA_BITS - 1))`) and the image sat below it. The kernel image's own address says which;
//! - everything else (modules, vmalloc, the image) by walking `swapper_pg_dir`: 4, 16 or 64 KiB granules, two to
//!   five levels, block mappings wherever the architecture allows them, 52-bit physical addresses (64 KiB FEAT_LPA
//!   keeps bits 51:48 in descriptor bits 15:12; 4/16 KiB FEAT_LPA2 keeps bits 51:50 in descriptor bits 9:8).
//!
//! Which page-table shape: with 64 KiB pages `swapper_pg_dir` is laid out for the configured `VA_BITS` even when
//! the CPU runs with fewer (the kernel offsets TTBR1 instead); with 4 and 16 KiB pages a kernel built for 52 bits on
//! a CPU without LPA2 folds a level away, so the walk follows the running size, `64 - TCR_EL1_T1SZ`.
//!
//! ```
//! use vmcore::aarch64::{Config, Granule, Layout, Translator};
//! use vmcore::{PhysicalMemory, ReadError};
//! struct Ram(Vec<u8>); // physical memory starting at 0x4000_0000
//! impl PhysicalMemory for Ram {
//!     fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
//!         let p = paddr.checked_sub(0x4000_0000).ok_or(ReadError::NotInDump { paddr })? as usize;
//!         buf.copy_from_slice(self.0.get(p..p + buf.len()).ok_or(ReadError::NotInDump { paddr })?);
//!         Ok(())
//!     }
//! }
//! let config = Config {
//!     granule: Granule::K4,
//!     va_bits: 48,
//!     va_bits_actual: 48,
//!     kimage_voffset: 0xffff_8000_0000_0000 - 0x4000_0000, // the image's first byte is RAM's first byte
//!     phys_offset: 0x4000_0000,
//!     pac_mask: 0xff7f_0000_0000_0000,
//!     max_physmem_bits: 48,
//!     swapper_pg_dir: 0xffff_8000_0000_0000, // an empty PGD at the start of RAM
//!     layout: Layout::LinearBelow,
//! };
//! let t = Translator::new(config).unwrap();
//! let ram = Ram(vec![0; 4096]);
//! // The linear map needs no table: PAGE_OFFSET is 0xffff_0000_0000_0000.
//! assert_eq!(t.translate(&ram, 0xffff_0000_0000_1234).unwrap(), 0x4000_1234);
//! // Return addresses carry a pointer-authentication code in the bits KERNELPACMASK names.
//! assert_eq!(t.strip_pac(0x0012_8000_1234_5678 | 0x0080_0000_0000_0000), 0xffff_8000_1234_5678);
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::error::ReadError;
use crate::vmcoreinfo::VmcoreInfo;
use crate::{PhysicalMemory, Translation};

/// A translation granule (the kernel's `PAGE_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Granule {
    #[serde(rename = "4K")]
    K4,
    #[serde(rename = "16K")]
    K16,
    #[serde(rename = "64K")]
    K64,
}

impl Granule {
    /// The granule of a page size, if AArch64 has one of that size.
    pub fn from_size(bytes: u64) -> Option<Granule> {
        match bytes {
            4096 => Some(Granule::K4),
            16384 => Some(Granule::K16),
            65536 => Some(Granule::K64),
            _ => None,
        }
    }

    /// log2 of the page size.
    pub fn shift(self) -> u32 {
        match self {
            Granule::K4 => 12,
            Granule::K16 => 14,
            Granule::K64 => 16,
        }
    }

    pub fn size(self) -> u64 {
        1 << self.shift()
    }

    /// Address bits resolved per table level (a table is one page of 8-byte descriptors).
    pub fn bits_per_level(self) -> u32 {
        self.shift() - 3
    }
}

/// Where the linear map sits in the kernel half of the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Layout {
    /// 5.4 and later: the linear map is the bottom half, `[-(1 << VA_BITS), -(1 << (VA_BITS_MIN - 1)))`.
    #[serde(rename = "linear-below")]
    LinearBelow,
    /// Before 5.4: the linear map is the top half, `[-(1 << (VA_BITS - 1)), 2^64)`.
    #[serde(rename = "linear-above")]
    LinearAbove,
}

/// The numbers AArch64 translation needs, as VMCOREINFO gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Config {
    pub granule: Granule,
    /// `VA_BITS`: the configured size of kernel virtual addresses.
    pub va_bits: u32,
    /// `64 - TCR_EL1_T1SZ`: the size the CPU runs with (equal to `va_bits` when VMCOREINFO lacks T1SZ).
    pub va_bits_actual: u32,
    /// `kimage_voffset`: kernel image virtual minus physical address.
    pub kimage_voffset: u64,
    /// `PHYS_OFFSET` (`memstart_addr`): the physical address at `PAGE_OFFSET`; may wrap below zero on 52-bit kernels.
    pub phys_offset: u64,
    /// `KERNELPACMASK`: the bits of a kernel code pointer that hold its pointer-authentication code (0: none).
    pub pac_mask: u64,
    /// `MAX_PHYSMEM_BITS` (48 when VMCOREINFO lacks it).
    pub max_physmem_bits: u32,
    /// `SYMBOL(swapper_pg_dir)`: the kernel page tables' virtual address.
    pub swapper_pg_dir: u64,
    pub layout: Layout,
}

/// Why VMCOREINFO's numbers cannot describe an AArch64 kernel. Each names the value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("VMCOREINFO lacks {0}, which AArch64 address translation needs")]
    Missing(&'static str),
    #[error("VMCOREINFO {key}={value:?} is not a number")]
    NotANumber { key: &'static str, value: String },
    #[error("PAGESIZE={0} is not an AArch64 granule (4096, 16384 or 65536)")]
    PageSize(u64),
    #[error("VMCOREINFO PAGESIZE={vmcoreinfo} but the dump's pages are {dump} bytes: the granule is contradicted")]
    GranuleContradicted { vmcoreinfo: u64, dump: u64 },
    #[error("VA_BITS={0} is outside what AArch64 kernels use (36 to 52)")]
    VaBits(u64),
    #[error("TCR_EL1_T1SZ={t1sz:#x} means {}-bit kernel addresses, outside 36..=VA_BITS ({va_bits})", 64u64.wrapping_sub(*t1sz))]
    T1sz { t1sz: u64, va_bits: u32 },
    #[error("MAX_PHYSMEM_BITS={0} is outside AArch64's 32 to 52")]
    MaxPhysmemBits(u64),
    #[error("KERNELPACMASK={mask:#x} covers address bits below VA_BITS ({va_bits})")]
    PacMask { mask: u64, va_bits: u32 },
    #[error(
        "SYMBOL(swapper_pg_dir)={vaddr:#x} is not a kernel address for {va_bits}-bit addresses"
    )]
    SwapperNotKernel { vaddr: u64, va_bits: u32 },
    #[error("kimage_voffset={kimage_voffset:#x} puts swapper_pg_dir ({vaddr:#x}) at physical {paddr:#x}, beyond {max_physmem_bits}-bit physical memory")]
    KimageVoffset {
        kimage_voffset: u64,
        vaddr: u64,
        paddr: u64,
        max_physmem_bits: u32,
    },
    #[error("swapper_pg_dir at physical {paddr:#x} (SYMBOL(swapper_pg_dir) - kimage_voffset) is unreadable: {source}")]
    RootUnreadable {
        paddr: u64,
        #[source]
        source: ReadError,
    },
    #[error("the tables at physical {root:#x} (kimage_voffset={kimage_voffset:#x}) do not map swapper_pg_dir {vaddr:#x} ({detail}): they are not the kernel's")]
    RootNotMapped {
        vaddr: u64,
        root: u64,
        kimage_voffset: u64,
        detail: &'static str,
    },
    #[error("the page tables map swapper_pg_dir {vaddr:#x} to physical {walked:#x}, but kimage_voffset={kimage_voffset:#x} says {expected:#x}")]
    RootContradicted {
        vaddr: u64,
        walked: u64,
        expected: u64,
        kimage_voffset: u64,
    },
}

/// A VMCOREINFO number. The arm64 kernel prints its own as `0x` hex; the generic ones are signed decimal.
fn number(vi: &VmcoreInfo, key: &'static str) -> Result<Option<u64>, ConfigError> {
    let Some(v) = vi.get(key) else {
        return Ok(None);
    };
    let parsed = if let Some(hex) = v.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else {
        v.parse::<i64>()
            .map(|n| n as u64)
            .ok()
            .or_else(|| v.parse::<u64>().ok())
    };
    parsed.map(Some).ok_or_else(|| ConfigError::NotANumber {
        key,
        value: v.to_string(),
    })
}

impl Config {
    /// Read and check the numbers. `dump_page_size` is the page size the container declares (kdump
    /// `block_size`), which must agree with `PAGESIZE`.
    pub fn from_vmcoreinfo(
        vi: &VmcoreInfo,
        dump_page_size: Option<u64>,
    ) -> Result<Config, ConfigError> {
        let page_size = match vi.get("PAGESIZE") {
            None => return Err(ConfigError::Missing("PAGESIZE")),
            Some(v) => v.parse::<u64>().map_err(|_| ConfigError::NotANumber {
                key: "PAGESIZE",
                value: v.to_string(),
            })?,
        };
        let granule = Granule::from_size(page_size).ok_or(ConfigError::PageSize(page_size))?;
        if let Some(dump) = dump_page_size {
            if dump != page_size {
                return Err(ConfigError::GranuleContradicted {
                    vmcoreinfo: page_size,
                    dump,
                });
            }
        }
        // 4.12+ print NUMBER(VA_BITS); a bare VA_BITS= is accepted too.
        let va_bits = match number(vi, "NUMBER(VA_BITS)")? {
            Some(v) => v,
            None => number(vi, "VA_BITS")?.ok_or(ConfigError::Missing("NUMBER(VA_BITS)"))?,
        };
        if !(36..=52).contains(&va_bits) {
            return Err(ConfigError::VaBits(va_bits));
        }
        let va_bits = va_bits as u32;
        let va_bits_actual = match number(vi, "NUMBER(TCR_EL1_T1SZ)")? {
            None => va_bits,
            Some(t1sz) => {
                let actual = 64u64.wrapping_sub(t1sz);
                if t1sz > 64 || !(36..=va_bits as u64).contains(&actual) {
                    return Err(ConfigError::T1sz { t1sz, va_bits });
                }
                actual as u32
            }
        };
        let kimage_voffset = number(vi, "NUMBER(kimage_voffset)")?
            .ok_or(ConfigError::Missing("NUMBER(kimage_voffset)"))?;
        let phys_offset = number(vi, "NUMBER(PHYS_OFFSET)")?
            .ok_or(ConfigError::Missing("NUMBER(PHYS_OFFSET)"))?;
        let max_physmem_bits = number(vi, "NUMBER(MAX_PHYSMEM_BITS)")?.unwrap_or(48);
        if !(32..=52).contains(&max_physmem_bits) {
            return Err(ConfigError::MaxPhysmemBits(max_physmem_bits));
        }
        let pac_mask = number(vi, "NUMBER(KERNELPACMASK)")?.unwrap_or(0);
        if pac_mask != 0 && pac_mask & ((1u64 << va_bits_actual) - 1) != 0 {
            return Err(ConfigError::PacMask {
                mask: pac_mask,
                va_bits: va_bits_actual,
            });
        }
        let swapper_pg_dir = vi
            .symbol("swapper_pg_dir")
            .ok_or(ConfigError::Missing("SYMBOL(swapper_pg_dir)"))?;
        let kernel_half = u64::MAX << va_bits;
        if swapper_pg_dir < kernel_half {
            return Err(ConfigError::SwapperNotKernel {
                vaddr: swapper_pg_dir,
                va_bits,
            });
        }
        // The image lives outside the linear map: above its middle since 5.4, below it before.
        let layout = if swapper_pg_dir >= u64::MAX << (va_bits - 1) {
            Layout::LinearBelow
        } else {
            Layout::LinearAbove
        };
        Ok(Config {
            granule,
            va_bits,
            va_bits_actual,
            kimage_voffset,
            phys_offset,
            pac_mask,
            max_physmem_bits: max_physmem_bits as u32,
            swapper_pg_dir,
            layout,
        })
    }

    /// `PAGE_OFFSET`: the first linear-map address.
    pub fn page_offset(&self) -> u64 {
        match self.layout {
            Layout::LinearBelow => u64::MAX << self.va_bits,
            Layout::LinearAbove => u64::MAX << (self.va_bits - 1),
        }
    }

    /// One past the last linear-map address, or `None` when it runs to the top of the address space.
    pub fn linear_end(&self) -> Option<u64> {
        match self.layout {
            Layout::LinearBelow => {
                // PAGE_END = -(1 << (VA_BITS_MIN - 1)); VA_BITS_MIN is what a 52-bit kernel falls back to.
                let min = match (self.va_bits, self.granule) {
                    (52, Granule::K16) => 47,
                    (52, _) => 48,
                    (v, _) => v,
                };
                Some(u64::MAX << (min - 1))
            }
            Layout::LinearAbove => None,
        }
    }

    /// The linear-map address's physical address, if `vaddr` is in the linear map.
    pub fn linear_to_phys(&self, vaddr: u64) -> Option<u64> {
        let start = self.page_offset();
        let inside = vaddr >= start && self.linear_end().is_none_or(|end| vaddr < end);
        inside.then(|| (vaddr - start).wrapping_add(self.phys_offset))
    }

    /// A kernel image address's physical address (`__kimg_to_phys`); meaningful only inside the image.
    pub fn kimage_to_phys(&self, vaddr: u64) -> u64 {
        vaddr.wrapping_sub(self.kimage_voffset)
    }

    /// The virtual-address size the page tables are laid out for (see the module documentation).
    pub fn walk_va_bits(&self) -> u32 {
        if self.granule == Granule::K64 {
            self.va_bits
        } else {
            self.va_bits_actual
        }
    }
}

const NOT_VALID: [&str; 5] = [
    "no valid PTE",
    "no valid PMD entry",
    "no valid PUD entry",
    "no valid P4D entry",
    "no valid PGD entry",
];
const BAD_BLOCK: [&str; 5] = [
    "reserved descriptor type in a PTE",
    "block descriptor where the PMD level allows none",
    "block descriptor where the PUD level allows none",
    "block descriptor where the P4D level allows none",
    "block descriptor where the PGD level allows none",
];

/// Walks AArch64 translation tables rooted at a physical address.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageTableWalker {
    /// Physical address of the top-level table.
    pub root: u64,
    pub granule: Granule,
    /// Virtual-address size the tables are laid out for.
    pub va_bits: u32,
    /// Table levels, 2 to 5.
    pub levels: u32,
    /// Physical addresses are below `1 << max_physmem_bits`.
    pub max_physmem_bits: u32,
    /// Output-address bits 51:48 or 51:50 come from low descriptor bits (FEAT_LPA with 64 KiB pages, FEAT_LPA2).
    pub pa52: bool,
}

impl PageTableWalker {
    pub fn new(root: u64, granule: Granule, va_bits: u32, max_physmem_bits: u32) -> Self {
        let b = granule.bits_per_level();
        let levels = (va_bits - granule.shift()).div_ceil(b);
        // 64 KiB: bits 15:12 are the high address bits with FEAT_LPA and zero (RES0) without, so always read them.
        // 4/16 KiB: bits 9:8 are shareability unless LPA2, which the kernel uses exactly with 52-bit addresses.
        let pa52 = granule == Granule::K64 || va_bits == 52;
        PageTableWalker {
            root,
            granule,
            va_bits,
            levels,
            max_physmem_bits,
            pa52,
        }
    }

    /// The output address a descriptor holds (the next table's, or the page's or block's).
    pub fn output_address(&self, desc: u64) -> u64 {
        let page_mask = !(self.granule.size() - 1);
        let low = desc & 0x0000_ffff_ffff_ffff & page_mask;
        match (self.pa52, self.granule) {
            (false, _) => low,
            (true, Granule::K64) => low | ((desc & 0xf000) << 36),
            (true, _) => low | (desc & 0x0003_0000_0000_0000) | ((desc & 0x300) << 42),
        }
    }

    /// Which entry of its table at `level` (0 = the page level; the top table is level `levels - 1`)
    /// describes `vaddr`.
    pub fn entry_index(&self, vaddr: u64, level: u32) -> u64 {
        let level_shift = self.granule.shift() + self.granule.bits_per_level() * level;
        let index_bits = if level + 1 == self.levels {
            self.va_bits - level_shift
        } else {
            self.granule.bits_per_level()
        };
        (vaddr >> level_shift) & ((1u64 << index_bits) - 1)
    }

    /// Can a block descriptor appear at `level` (0 = the page level)? Level 1 always; level 2 with 4 KiB pages
    /// or with 52-bit output addresses; level 3 with 4 KiB pages and LPA2.
    fn block_allowed(&self, level: u32) -> bool {
        match (level, self.granule) {
            (1, _) => true,
            (2, Granule::K4) => true,
            (2, _) => self.pa52 && self.max_physmem_bits == 52,
            (3, Granule::K4) => self.pa52 && self.max_physmem_bits == 52,
            _ => false,
        }
    }

    /// Walk the tables for one address. Bounded by the level count; a table that points back at a table above
    /// it, or an output address beyond `MAX_PHYSMEM_BITS`, is an error, not a result.
    pub fn translate(
        &self,
        mem: &dyn PhysicalMemory,
        vaddr: u64,
    ) -> Result<Translation, ReadError> {
        let kernel_half = u64::MAX << self.va_bits;
        if vaddr < kernel_half {
            return Err(ReadError::Unmapped {
                vaddr,
                detail: "below the kernel half of the address space",
            });
        }
        let shift = self.granule.shift();
        let b = self.granule.bits_per_level();
        let max_phys = 1u64 << self.max_physmem_bits;
        let mut table = self.root;
        let mut path = [0u64; 5];
        for (depth, level) in (0..self.levels).rev().enumerate() {
            path[depth] = table;
            let index = self.entry_index(vaddr, level);
            let mut e = [0u8; 8];
            mem.read_phys(table + index * 8, &mut e)
                .map_err(|source| ReadError::PageTable {
                    vaddr,
                    source: Box::new(source),
                })?;
            let desc = u64::from_le_bytes(e);
            // Messages by level from the bottom; the top table is the PGD whatever the depth.
            let slot = if depth == 0 { 4 } else { level as usize };
            if desc & 1 == 0 {
                return Err(ReadError::Unmapped {
                    vaddr,
                    detail: NOT_VALID[slot],
                });
            }
            let oa = self.output_address(desc);
            if oa >= max_phys {
                return Err(ReadError::Unmapped {
                    vaddr,
                    detail: "a descriptor's output address is beyond MAX_PHYSMEM_BITS",
                });
            }
            let is_table_or_page = desc & 2 != 0;
            if level == 0 || !is_table_or_page {
                if (level == 0 && !is_table_or_page) || (level > 0 && !self.block_allowed(level)) {
                    return Err(ReadError::Unmapped {
                        vaddr,
                        detail: BAD_BLOCK[slot],
                    });
                }
                let size = 1u64 << (shift + b * level);
                return Ok(Translation {
                    paddr: (oa & !(size - 1)) | (vaddr & (size - 1)),
                    page_size: size,
                });
            }
            if path[..=depth].contains(&oa) {
                return Err(ReadError::Unmapped {
                    vaddr,
                    detail: "a table descriptor points back at a table above it",
                });
            }
            table = oa;
        }
        unreachable!("the loop returns at level 0")
    }
}

/// Recent translations kept: virtual page -> physical page.
const TLB_ENTRIES: usize = 8192;

/// How an AArch64 dump's kernel addresses translate: the linear map directly, everything else by the walk.
#[derive(Debug, Serialize)]
pub struct Translator {
    pub config: Config,
    pub walker: PageTableWalker,
    #[serde(skip)]
    tlb: Mutex<HashMap<u64, u64>>,
}

impl Translator {
    /// A translator rooted at `swapper_pg_dir - kimage_voffset`. Checks that the root is physical memory the
    /// kernel could have.
    pub fn new(config: Config) -> Result<Translator, ConfigError> {
        let root = config.kimage_to_phys(config.swapper_pg_dir);
        if root >> config.max_physmem_bits != 0 || root % config.granule.size() != 0 {
            return Err(ConfigError::KimageVoffset {
                kimage_voffset: config.kimage_voffset,
                vaddr: config.swapper_pg_dir,
                paddr: root,
                max_physmem_bits: config.max_physmem_bits,
            });
        }
        let walker = PageTableWalker::new(
            root,
            config.granule,
            config.walk_va_bits(),
            config.max_physmem_bits,
        );
        Ok(Translator {
            config,
            walker,
            tlb: Mutex::new(HashMap::new()),
        })
    }

    /// [`Translator::new`], then check the dump agrees: the root table is readable, and the tables map
    /// `swapper_pg_dir` where `kimage_voffset` says.
    pub fn checked(config: Config, mem: &dyn PhysicalMemory) -> Result<Translator, ConfigError> {
        let t = Translator::new(config)?;
        let root = t.walker.root;
        let mut probe = [0u8; 8];
        mem.read_phys(root, &mut probe)
            .map_err(|source| ConfigError::RootUnreadable {
                paddr: root,
                source,
            })?;
        // The kernel maps its own image, swapper_pg_dir included: tables that do not (or map it elsewhere) are
        // not the kernel's. A table missing from the dump leaves kimage_voffset unchecked, not wrong.
        match t.walker.translate(mem, config.swapper_pg_dir) {
            Ok(w) if w.paddr != root => Err(ConfigError::RootContradicted {
                vaddr: config.swapper_pg_dir,
                walked: w.paddr,
                expected: root,
                kimage_voffset: config.kimage_voffset,
            }),
            Err(ReadError::Unmapped { detail, .. }) => Err(ConfigError::RootNotMapped {
                vaddr: config.swapper_pg_dir,
                root,
                kimage_voffset: config.kimage_voffset,
                detail,
            }),
            _ => Ok(t),
        }
    }

    /// Translate a kernel virtual address: tag bits dropped, then the linear map, the TLB, the tables.
    pub fn translate(&self, mem: &dyn PhysicalMemory, vaddr: u64) -> Result<u64, ReadError> {
        let vaddr = untag(vaddr);
        if let Some(p) = self.config.linear_to_phys(vaddr) {
            if p >> self.config.max_physmem_bits != 0 {
                return Err(ReadError::Unmapped {
                    vaddr,
                    detail: "linear-map address beyond MAX_PHYSMEM_BITS",
                });
            }
            return Ok(p);
        }
        let shift = self.config.granule.shift();
        let vpage = vaddr >> shift;
        let offset = vaddr & (self.config.granule.size() - 1);
        if let Some(&p) = self.tlb.lock().expect("tlb lock").get(&vpage) {
            return Ok((p << shift) | offset);
        }
        let t = self.walker.translate(mem, vaddr)?;
        let mut tlb = self.tlb.lock().expect("tlb lock");
        if tlb.len() >= TLB_ENTRIES {
            tlb.clear();
        }
        tlb.insert(vpage, t.paddr >> shift);
        Ok(t.paddr)
    }

    /// Strip the pointer-authentication code from a code address read from memory (a saved return address, a
    /// function pointer): kernel addresses get the PAC bits set, user addresses cleared, as `XPACI` does.
    pub fn strip_pac(&self, addr: u64) -> u64 {
        strip_pac(self.config.pac_mask, addr)
    }
}

/// Strip `mask`'s pointer-authentication bits from `addr`; bit 55 says whether it is a kernel address.
pub fn strip_pac(mask: u64, addr: u64) -> u64 {
    if addr & (1 << 55) != 0 {
        addr | mask
    } else {
        addr & !mask
    }
}

/// Drop a top-byte tag (KASAN software tags, TBI): kernel addresses have bit 55 set and all ones above it.
fn untag(vaddr: u64) -> u64 {
    if vaddr & (1 << 55) != 0 {
        vaddr | 0xff00_0000_0000_0000
    } else {
        vaddr
    }
}
