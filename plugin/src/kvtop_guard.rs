//! Keep crash's page-table walk from faulting.
//!
//! `readmem(KVADDR, RETURN_ON_ERROR)` translates vmalloc, module, vmemmap and similar addresses by
//! walking the kernel page tables, and crash reads each table page (`FILL_PUD`, `FILL_PMD`, `FILL_PTE`)
//! with `FAULT_ON_ERROR`: a table page missing from the dump (excluded as a zero page, or pointed at by
//! a corrupt entry) jumps back to crash's prompt across our frames. Before such a read we walk the same
//! tables ourselves with `PHYSADDR` reads, which cannot fault, and refuse the read if crash's walk could.
//!
//! - x86-64 (`x86_64_kvtop`): vmtaint's own walker (`vmcore::x86_64::PageTableWalker`, the one the dump
//!   reader uses), set up with crash's entry arithmetic: physical mask of 46 bits (52 with 5-level paging)
//!   minus the SME encryption bit; `_PAGE_PRESENT` and `_PAGE_PSE` on the PUD and PMD levels are the kernel's
//!   own.
//! - arm64 (`arm64_kvtop`, crash built with `target=ARM64`): the linear map and the kernel image translate
//!   by arithmetic; everything else walks `swapper_pg_dir`. crash follows any non-zero entry as a table
//!   unless it is a block below the top level, and does not look at the valid bit until the last level, so
//!   the guard walks the same way (not as the architecture does, which `vmcore::aarch64` follows): the
//!   shape (granule, levels, 52-bit output addresses) comes from `vmcore::aarch64` and VMCOREINFO.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use vmcore::aarch64;
use vmcore::x86_64::{PageTableWalker, PhysicalMemory};
use vmcore::{ReadError, VmcoreInfo};

use crate::ffi;
use crate::vmcoreinfo::VmcoreinfoReader;

/// The unit checked and cached: the smallest page either architecture uses (a larger arm64 granule is
/// just checked in several steps).
const CHECK_SIZE: u64 = 4096;
/// Where the kernel image is mapped (`__START_KERNEL_map`): crash translates it by arithmetic.
const START_KERNEL_MAP: u64 = vmcore::x86_64::START_KERNEL_MAP;
/// The VMCOREINFO numbers arm64 translation needs (`vmcore::aarch64::Config::from_vmcoreinfo`).
const ARM64_KEYS: [&str; 9] = [
    "PAGESIZE",
    "NUMBER(VA_BITS)",
    "VA_BITS",
    "NUMBER(TCR_EL1_T1SZ)",
    "NUMBER(kimage_voffset)",
    "NUMBER(PHYS_OFFSET)",
    "NUMBER(MAX_PHYSMEM_BITS)",
    "NUMBER(KERNELPACMASK)",
    "SYMBOL(swapper_pg_dir)",
];

/// Physical memory through crash's `readmem(PHYSADDR, RETURN_ON_ERROR)`, which cannot fault.
struct CrashPhysical;

impl PhysicalMemory for CrashPhysical {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if ffi::read_physaddr(paddr, buf) {
            Ok(())
        } else {
            Err(ReadError::Host {
                addr: paddr,
                host: "crash",
                detail: "readmem(PHYSADDR) failed",
            })
        }
    }
}

/// See the module documentation.
pub struct KvtopGuard {
    walk: Walk,
    /// Addresses crash translates without a walk: the direct (linear) map and the kernel image.
    direct_map: Range<u64>,
    image: Range<u64>,
    /// Page -> whether crash can translate it without faulting.
    checked: Mutex<HashMap<u64, bool>>,
}

/// The walk crash does, per architecture.
enum Walk {
    /// vmtaint's own x86-64 walker, set up as crash walks: same root, same address bits, SME bit stripped.
    X86_64(PageTableWalker),
    /// The tables' shape; the walk itself is crash's ([`crate::arm64_walk`]).
    Arm64 {
        tables: aarch64::PageTableWalker,
        config: aarch64::Config,
    },
}

fn read_kv_u64(addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    ffi::read_kvaddr(addr, &mut b).then(|| u64::from_le_bytes(b))
}

impl KvtopGuard {
    /// Learn the kernel's paging setup: x86-64's from the kernel's own variables (all in the kernel image,
    /// which crash reads without a walk), arm64's from VMCOREINFO (through crash, `vmcoreinfo`).
    pub fn new(vmcoreinfo: Option<&VmcoreinfoReader>) -> Result<Self, String> {
        if let Some(top) =
            ffi::symbol_value("init_top_pgt").or_else(|| ffi::symbol_value("init_level4_pgt"))
        {
            return Self::x86_64(top);
        }
        match vmcoreinfo {
            Some(vi) if vi.get("NUMBER(kimage_voffset)").is_some() => Self::arm64(vi),
            Some(_) => Err(
                "neither x86-64's init_top_pgt symbol nor arm64's NUMBER(kimage_voffset) in VMCOREINFO"
                    .into(),
            ),
            None => Err("no init_top_pgt symbol, and no VMCOREINFO to learn arm64 paging from".into()),
        }
    }

    fn x86_64(top: u64) -> Result<Self, String> {
        if top < START_KERNEL_MAP {
            return Err(format!(
                "init_top_pgt at {top:#x} is outside the kernel image"
            ));
        }
        let kv_in_image = |name: &str| ffi::symbol_value(name).filter(|&a| a >= START_KERNEL_MAP);
        let read_var = |name: &str| kv_in_image(name).and_then(read_kv_u64);
        let five_level = kv_in_image("__pgtable_l5_enabled")
            .and_then(|a| {
                let mut b = [0u8; 4];
                ffi::read_kvaddr(a, &mut b).then(|| u32::from_le_bytes(b) != 0)
            })
            .unwrap_or(false);
        let sme = read_var("sme_me_mask").unwrap_or(0);
        // The top table is in the kernel image, which crash reads at `vaddr - __START_KERNEL_map +
        // phys_base`: the same physical page the walker reads.
        let phys_base = read_var("phys_base").ok_or("phys_base unreadable")?;
        let root = top.wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base);
        let walker = PageTableWalker::new(root, five_level, sme).with_address_bits(if five_level {
            52
        } else {
            46
        });
        let page_offset = read_var("page_offset_base").unwrap_or(0xffff_8880_0000_0000);
        let direct_len = 1u64 << if five_level { 52 } else { 46 };
        let image = match (ffi::symbol_value("_text"), ffi::symbol_value("_end")) {
            (Some(s), Some(e)) if START_KERNEL_MAP <= s && s < e => s..e,
            _ => 0..0,
        };
        Ok(Self {
            walk: Walk::X86_64(walker),
            direct_map: page_offset..page_offset.saturating_add(direct_len),
            image,
            checked: Mutex::default(),
        })
    }

    fn arm64(vi: &VmcoreinfoReader) -> Result<Self, String> {
        let text: String = ARM64_KEYS
            .iter()
            .filter_map(|k| vi.get(k).map(|v| format!("{k}={v}\n")))
            .collect();
        let config = aarch64::Config::from_vmcoreinfo(&VmcoreInfo::parse(&text), None)
            .map_err(|e| e.to_string())?;
        let tables = aarch64::Translator::new(config)
            .map_err(|e| e.to_string())?
            .walker;
        let page_offset = config.page_offset();
        let direct_map = page_offset..config.linear_end().unwrap_or(u64::MAX);
        // With the 5.4+ layout crash takes `_text`..`_end` out of the vmalloc range and translates it by
        // kimage_voffset; before, the image sat in the vmalloc range and crash walked it.
        let image = match (
            config.layout,
            ffi::symbol_value("_text"),
            ffi::symbol_value("_end"),
        ) {
            (aarch64::Layout::LinearBelow, Some(s), Some(e)) if s < e => s..e,
            _ => 0..0,
        };
        Ok(Self {
            walk: Walk::Arm64 { tables, config },
            direct_map,
            image,
            checked: Mutex::default(),
        })
    }

    /// Whether crash can translate every page of `[addr, addr + len)` without faulting.
    pub fn can_read(&self, addr: u64, len: usize) -> bool {
        let Some(last) = addr.checked_add((len as u64).saturating_sub(1)) else {
            return false;
        };
        let mut page = addr & !(CHECK_SIZE - 1);
        loop {
            if !self.page_ok(page) {
                return false;
            }
            match page.checked_add(CHECK_SIZE) {
                Some(next) if next <= last => page = next,
                _ => return true,
            }
        }
    }

    fn page_ok(&self, page: u64) -> bool {
        if self.direct_map.contains(&page) || self.image.contains(&page) {
            return true;
        }
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        *checked.entry(page).or_insert_with(|| match &self.walk {
            Walk::X86_64(walker) => x86_64_walk_ok(walker, page),
            Walk::Arm64 { tables, config } => {
                crate::arm64_walk::walk_ok(tables, config, page, ffi::read_physaddr)
            }
        })
    }
}

/// Walk as crash's x86_64_kvtop walks: `true` when every table page crash would read is readable. A
/// non-present entry, a non-canonical address or a 1 GiB / 2 MiB page ends crash's walk without a
/// fault, so they are fine too; only an unreadable table is not.
fn x86_64_walk_ok(walker: &PageTableWalker, vaddr: u64) -> bool {
    !matches!(
        walker.translate(&CrashPhysical, vaddr),
        Err(ReadError::PageTable { .. })
    )
}
