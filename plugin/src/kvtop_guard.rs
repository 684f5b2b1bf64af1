//! Keep crash's x86-64 page-table walk from faulting.
//!
//! `readmem(KVADDR, RETURN_ON_ERROR)` translates vmalloc, module, vmemmap and similar addresses by
//! walking the kernel page tables, and crash reads each table page (`FILL_PUD`, `FILL_PMD`, `FILL_PTE`)
//! with `FAULT_ON_ERROR`: a table page missing from the dump (excluded as a zero page, or pointed at by
//! a corrupt entry) jumps back to crash's prompt across our frames. Before such a read we walk the same
//! tables ourselves with `PHYSADDR` reads, which cannot fault, and refuse the read if crash's walk could.
//! The walk is vmtaint's own x86-64 walker (`vmcore::x86_64::PageTableWalker`, the one the dump reader
//! uses), set up with crash's entry arithmetic: physical mask of 46 bits (52 with 5-level paging) minus the
//! SME encryption bit; `_PAGE_PRESENT` and `_PAGE_PSE` on the PUD and PMD levels are the kernel's own.

use std::collections::HashMap;
use std::sync::Mutex;

use vmcore::x86_64::{PageTableWalker, PhysicalMemory};
use vmcore::ReadError;

use crate::ffi;

const PAGE_SIZE: u64 = 4096;
/// Where the kernel image is mapped (`__START_KERNEL_map`): crash translates it by arithmetic.
const START_KERNEL_MAP: u64 = vmcore::x86_64::START_KERNEL_MAP;

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
    /// vmtaint's own x86-64 walker, set up as crash walks: same root, same address bits, SME bit stripped.
    walker: PageTableWalker,
    /// Addresses crash translates without a walk: the direct map and the kernel image.
    direct_map: std::ops::Range<u64>,
    image: std::ops::Range<u64>,
    /// Page -> whether crash can translate it without faulting.
    checked: Mutex<HashMap<u64, bool>>,
}

fn read_kv_u64(addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    ffi::read_kvaddr(addr, &mut b).then(|| u64::from_le_bytes(b))
}

impl KvtopGuard {
    /// Learn the kernel's paging setup from its own variables (all in the kernel image, which crash
    /// reads without a walk).
    pub fn new() -> Result<Self, String> {
        let top = ffi::symbol_value("init_top_pgt")
            .or_else(|| ffi::symbol_value("init_level4_pgt"))
            .ok_or("no init_top_pgt symbol")?;
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
            walker,
            direct_map: page_offset..page_offset.saturating_add(direct_len),
            image,
            checked: Mutex::default(),
        })
    }

    /// Whether crash can translate every page of `[addr, addr + len)` without faulting.
    pub fn can_read(&self, addr: u64, len: usize) -> bool {
        let Some(last) = addr.checked_add((len as u64).saturating_sub(1)) else {
            return false;
        };
        let mut page = addr & !(PAGE_SIZE - 1);
        loop {
            if !self.page_ok(page) {
                return false;
            }
            match page.checked_add(PAGE_SIZE) {
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
        *checked.entry(page).or_insert_with(|| self.walk_ok(page))
    }

    /// Walk as crash's x86_64_kvtop walks: `true` when every table page crash would read is readable. A
    /// non-present entry, a non-canonical address or a 1 GiB / 2 MiB page ends crash's walk without a
    /// fault, so they are fine too; only an unreadable table is not.
    fn walk_ok(&self, vaddr: u64) -> bool {
        !matches!(
            self.walker.translate(&CrashPhysical, vaddr),
            Err(ReadError::PageTable { .. })
        )
    }
}
