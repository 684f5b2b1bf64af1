//! x86-64 kernel virtual-to-physical translation.
//!
//! Three ways, fastest first: kernel text (`__START_KERNEL_map + x` is `phys_base + x`), the direct map
//! (`page_offset_base + p` is `p`), and for everything else (modules, vmalloc, or when the dump lacks
//! the numbers) a walk of the kernel page tables from `init_top_pgt` (or QEMU's CR3): 4 or 5 levels,
//! 1 GiB and 2 MiB pages, with the SME encryption bit stripped from every entry.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::error::ReadError;

/// Read physical memory.
pub trait PhysicalMemory {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError>;
}

/// Physical address bits of a page-table entry (bits 12..=51).
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1;
const HUGE: u64 = 1 << 7;
const LEVEL_NAMES: [&str; 5] = ["PTE", "PMD", "PUD", "P4D", "PGD"];
/// `__START_KERNEL_map`.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// Where a virtual address lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Translation {
    pub paddr: u64,
    /// Size of the page that maps it: 4 KiB, 2 MiB or 1 GiB.
    pub page_size: u64,
}

/// Walks x86-64 page tables rooted at a physical address.
///
/// ```
/// use vmcore::x86_64::{PageTableWalker, PhysicalMemory};
/// use vmcore::ReadError;
/// // A one-entry-per-level table set mapping 0xffff888000000000 with a 1 GiB page to physical 0.
/// struct Tables(Vec<u8>);
/// impl PhysicalMemory for Tables {
///     fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
///         let p = paddr as usize;
///         buf.copy_from_slice(self.0.get(p..p + buf.len()).ok_or(ReadError::NotInDump { paddr })?);
///         Ok(())
///     }
/// }
/// let mut mem = vec![0u8; 3 * 4096];
/// let pgd_index = (0xffff_8880_0000_0000u64 >> 39) & 511;
/// mem[pgd_index as usize * 8..][..8].copy_from_slice(&(0x1000u64 | 0x63).to_le_bytes());
/// mem[0x1000..0x1008].copy_from_slice(&(0u64 | 0x80 | 0x63).to_le_bytes()); // PUD 0: 1 GiB page at 0
/// let walker = PageTableWalker::new(0, false, 0);
/// let t = walker.translate(&Tables(mem), 0xffff_8880_0000_1234).unwrap();
/// assert_eq!((t.paddr, t.page_size), (0x1234, 1 << 30));
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageTableWalker {
    /// Physical address of the top-level table.
    pub root: u64,
    pub five_level: bool,
    /// The AMD SME C-bit; cleared from every entry.
    pub sme_mask: u64,
    /// Bits of an entry that hold the next table's (or the page's) physical address.
    pub address_mask: u64,
}

impl PageTableWalker {
    pub fn new(root: u64, five_level: bool, sme_mask: u64) -> Self {
        PageTableWalker {
            root: root & ADDR_MASK & !sme_mask,
            five_level,
            sme_mask,
            address_mask: ADDR_MASK,
        }
    }

    /// Take only `bits` physical address bits from each entry (the kernel's own width is 52; the crash
    /// utility's walk takes 46 on 4-level kernels, and a guard that must predict crash's reads walks alike).
    pub fn with_address_bits(mut self, bits: u32) -> Self {
        self.address_mask = ADDR_MASK & ((1u64 << bits.clamp(12, 52)) - 1);
        self
    }

    fn canonical(&self, vaddr: u64) -> bool {
        let bits = if self.five_level { 57 } else { 48 };
        let top = (vaddr as i64) >> (bits - 1);
        top == 0 || top == -1
    }

    pub fn translate(
        &self,
        mem: &dyn PhysicalMemory,
        vaddr: u64,
    ) -> Result<Translation, ReadError> {
        if !self.canonical(vaddr) {
            return Err(ReadError::Unmapped {
                vaddr,
                detail: "not a canonical address",
            });
        }
        let mut table = self.root;
        let top = if self.five_level { 4 } else { 3 };
        for level in (0..=top).rev() {
            let shift = 12 + 9 * level as u32;
            let index = (vaddr >> shift) & 511;
            let mut e = [0u8; 8];
            mem.read_phys(table + index * 8, &mut e)
                .map_err(|source| ReadError::PageTable {
                    vaddr,
                    source: Box::new(source),
                })?;
            let entry = u64::from_le_bytes(e) & !self.sme_mask;
            if entry & PRESENT == 0 {
                return Err(ReadError::Unmapped {
                    vaddr,
                    detail: LEVEL_NAMES[level],
                });
            }
            let addr = entry & self.address_mask;
            if level == 0 || ((level == 1 || level == 2) && entry & HUGE != 0) {
                let size = 1u64 << shift;
                // Large pages: bit 12 is PAT, not address; the frame is aligned to the page size.
                let base = addr & !(size - 1);
                return Ok(Translation {
                    paddr: base | (vaddr & (size - 1)),
                    page_size: size,
                });
            }
            table = addr;
        }
        unreachable!("the loop returns at level 0")
    }
}

/// How a dump's kernel addresses translate: the walker plus the fast paths that the dump's numbers allow.
#[derive(Debug, Serialize)]
pub struct Translator {
    pub walker: PageTableWalker,
    /// `(phys_base, size of the kernel image mapping)` when VMCOREINFO gave them.
    pub kernel_text: Option<(u64, u64)>,
    /// `page_offset_base`, when known.
    pub direct_map_base: Option<u64>,
    /// Where the root came from, for reports.
    pub root_source: &'static str,
    /// Recent 4 KiB translations: virtual page -> physical page.
    #[serde(skip)]
    tlb: Mutex<HashMap<u64, u64>>,
}

const TLB_ENTRIES: usize = 8192;

impl Translator {
    pub fn new(
        walker: PageTableWalker,
        kernel_text: Option<(u64, u64)>,
        direct_map_base: Option<u64>,
        root_source: &'static str,
    ) -> Self {
        Translator {
            walker,
            kernel_text,
            direct_map_base,
            root_source,
            tlb: Mutex::new(HashMap::new()),
        }
    }

    /// Translate through the fast paths, the TLB, then the page tables.
    pub fn translate(&self, mem: &dyn PhysicalMemory, vaddr: u64) -> Result<u64, ReadError> {
        if let Some((phys_base, size)) = self.kernel_text {
            if vaddr >= START_KERNEL_MAP && vaddr - START_KERNEL_MAP < size {
                return Ok((vaddr - START_KERNEL_MAP).wrapping_add(phys_base));
            }
        }
        if let Some(base) = self.direct_map_base {
            // The direct map spans at most 64 TiB (4-level) / 32 PiB (5-level) above its base.
            let span = if self.walker.five_level {
                1u64 << 55
            } else {
                1u64 << 46
            };
            if vaddr >= base && vaddr - base < span {
                return Ok(vaddr - base);
            }
        }
        let vpage = vaddr >> 12;
        if let Some(&p) = self.tlb.lock().expect("tlb lock").get(&vpage) {
            return Ok((p << 12) | (vaddr & 0xfff));
        }
        let t = self.walker.translate(mem, vaddr)?;
        let mut tlb = self.tlb.lock().expect("tlb lock");
        if tlb.len() >= TLB_ENTRIES {
            tlb.clear();
        }
        tlb.insert(vpage, t.paddr >> 12);
        Ok(t.paddr)
    }

    /// Find `page_offset_base` by walking: the direct map is the lowest mapping of the kernel half and maps
    /// physical 0 at its start (KASLR moves it in 1 GiB steps).
    pub fn discover_direct_map(&self, mem: &dyn PhysicalMemory) -> Option<u64> {
        let w = &self.walker;
        let (top_shift, next_shift) = if w.five_level { (48, 39) } else { (39, 30) };
        let mut top = vec![0u8; 4096];
        mem.read_phys(w.root, &mut top).ok()?;
        for i in 256..512u64 {
            let e = u64::from_le_bytes(top[i as usize * 8..][..8].try_into().ok()?) & !w.sme_mask;
            if e & PRESENT == 0 {
                continue;
            }
            let mut next = vec![0u8; 4096];
            mem.read_phys(e & ADDR_MASK, &mut next).ok()?;
            for j in 0..512u64 {
                let e2 =
                    u64::from_le_bytes(next[j as usize * 8..][..8].try_into().ok()?) & !w.sme_mask;
                if e2 & PRESENT == 0 {
                    continue;
                }
                // Sign-extend above the top index: bits 48..63 (4-level) or 57..63 (5-level).
                let sign = if w.five_level {
                    0xfe00_0000_0000_0000u64
                } else {
                    0xffff_0000_0000_0000
                };
                let va = sign | (i << top_shift) | (j << next_shift);
                return match w.translate(mem, va) {
                    Ok(t) if t.paddr == 0 => Some(va),
                    _ => None,
                };
            }
        }
        None
    }
}
