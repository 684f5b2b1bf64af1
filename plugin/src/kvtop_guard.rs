//! Keep crash's x86-64 page-table walk from faulting.
//!
//! `readmem(KVADDR, RETURN_ON_ERROR)` translates vmalloc, module, vmemmap and similar addresses by
//! walking the kernel page tables, and crash reads each table page (`FILL_PUD`, `FILL_PMD`, `FILL_PTE`)
//! with `FAULT_ON_ERROR`: a table page missing from the dump (excluded as a zero page, or pointed at by
//! a corrupt entry) jumps back to crash's prompt across our frames. Before such a read we walk the same
//! tables ourselves with `PHYSADDR` reads, which cannot fault, and refuse the read if crash's walk could.
//! The entry arithmetic mirrors crash's: physical mask of 46 bits (52 with 5-level paging) minus the
//! SME encryption bit, `_PAGE_PRESENT` 0x1, `_PAGE_PSE` 0x80 on the PUD and PMD levels.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ffi;

const PAGE_SIZE: u64 = 4096;
const PRESENT: u64 = 0x1;
const PSE: u64 = 0x80;
/// Where the kernel image is mapped (`__START_KERNEL_map`): crash translates it by arithmetic.
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// See the module documentation.
pub struct KvtopGuard {
    /// Kernel virtual address of the top-level table (`init_top_pgt`).
    top: u64,
    five_level: bool,
    /// Mask giving a table's physical address from an entry.
    phys_mask: u64,
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

fn read_phys_u64(paddr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    ffi::read_physaddr(paddr, &mut b).then(|| u64::from_le_bytes(b))
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
        let shift = if five_level { 52 } else { 46 };
        let phys_mask = ((1u64 << shift) - 1) & !(PAGE_SIZE - 1) & !sme;
        let page_offset = read_var("page_offset_base").unwrap_or(0xffff_8880_0000_0000);
        let direct_len = 1u64 << if five_level { 52 } else { 46 };
        let image = match (ffi::symbol_value("_text"), ffi::symbol_value("_end")) {
            (Some(s), Some(e)) if START_KERNEL_MAP <= s && s < e => s..e,
            _ => 0..0,
        };
        Ok(Self {
            top,
            five_level,
            phys_mask,
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

    /// Walk like crash's x86_64_kvtop: `true` when every table page crash would read is readable
    /// (a non-present entry stops crash's walk, so it is fine too).
    fn walk_ok(&self, vaddr: u64) -> bool {
        let index = |shift: u32| (vaddr >> shift) & 0x1ff;
        let top_shift = if self.five_level { 48 } else { 39 };
        let Some(mut entry) = read_kv_u64(self.top + 8 * index(top_shift)) else {
            return false;
        };
        let levels: &[u32] = if self.five_level {
            &[39, 30, 21, 12]
        } else {
            &[30, 21, 12]
        };
        for &shift in levels {
            if entry & PRESENT == 0 {
                return true;
            }
            let table = entry & self.phys_mask;
            match read_phys_u64(table + 8 * index(shift)) {
                Some(e) => entry = e,
                None => return false,
            }
            // 1 GiB (PUD) and 2 MiB (PMD) pages end crash's walk.
            if (shift == 30 || shift == 21) && entry & PRESENT != 0 && entry & PSE != 0 {
                return true;
            }
        }
        true
    }
}
