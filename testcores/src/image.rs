//! The physical memory image that every writer turns into a dump.

use std::collections::BTreeMap;
use std::ops::Range;

/// Why an edit of a [`MemoryImage`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The physical address is in no RAM range added with [`MemoryImage::add_ram`].
    #[error("physical address {0:#x} is not in RAM")]
    NotRam(u64),
    /// The address range wraps around the 64-bit address space.
    #[error("physical range at {0:#x} overflows")]
    Overflow(u64),
}

/// Indices into [`CpuState::regs`], which follows the x86-64 `user_regs_struct` order used by
/// `elf_prstatus.pr_reg`.
pub mod reg {
    pub const R15: usize = 0;
    pub const R14: usize = 1;
    pub const R13: usize = 2;
    pub const R12: usize = 3;
    pub const RBP: usize = 4;
    pub const RBX: usize = 5;
    pub const R11: usize = 6;
    pub const R10: usize = 7;
    pub const R9: usize = 8;
    pub const R8: usize = 9;
    pub const RAX: usize = 10;
    pub const RCX: usize = 11;
    pub const RDX: usize = 12;
    pub const RSI: usize = 13;
    pub const RDI: usize = 14;
    pub const ORIG_RAX: usize = 15;
    pub const RIP: usize = 16;
    pub const CS: usize = 17;
    pub const RFLAGS: usize = 18;
    pub const RSP: usize = 19;
    pub const SS: usize = 20;
    pub const FS_BASE: usize = 21;
    pub const GS_BASE: usize = 22;
    pub const DS: usize = 23;
    pub const ES: usize = 24;
    pub const FS: usize = 25;
    pub const GS: usize = 26;
    /// Number of registers in `pr_reg`.
    pub const COUNT: usize = 27;
}

/// The state of one CPU at crash time.
///
/// Every dump gets one `CORE`/`NT_PRSTATUS` note per CPU (pid and `regs`); ELF dumps written with
/// [`crate::ElfOptions::qemu_notes`] also get one `QEMU` note per CPU carrying `cr` and
/// `kernel_gs_base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuState {
    /// `pr_pid`: the pid of the task on this CPU (QEMU writes the CPU index + 1 here).
    pub pid: u32,
    /// `pr_reg`, indexed by the constants in [`reg`].
    pub regs: [u64; reg::COUNT],
    /// CR0..CR4 (QEMU note only; CR3 is the page-table root).
    pub cr: [u64; 5],
    /// `MSR_KERNEL_GS_BASE` (QEMU note only).
    pub kernel_gs_base: u64,
}

impl CpuState {
    /// A CPU with all registers zero except `pid`.
    pub fn new(pid: u32) -> Self {
        CpuState {
            pid,
            regs: [0; reg::COUNT],
            cr: [0; 5],
            kernel_gs_base: 0,
        }
    }
}

/// A physical memory image to be written as a dump.
///
/// RAM is a set of page-frame ranges; within RAM, a page is *dumped* when it is in `pages` and
/// *excluded* (filtered out, as `makedumpfile -d` does) when it is not. Pages are only
/// materialised when written, so a large, mostly excluded RAM costs nothing.
///
/// ```
/// use testcores::MemoryImage;
/// let mut img = MemoryImage::new(4096);
/// img.add_ram(0..16);
/// img.write_phys(0x1ffe, b"abcd").unwrap(); // spans pages 1 and 2, both become dumped
/// assert_eq!(img.read_phys(0x1ffe, 4).unwrap(), b"abcd");
/// assert!(img.read_phys(0x5000, 1).is_none()); // RAM, but excluded
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryImage {
    /// Page size in bytes (also the kdump block size). A power of two; 4096 usually.
    pub page_size: u32,
    /// RAM page-frame ranges, sorted and disjoint when built with [`MemoryImage::add_ram`].
    pub ram: Vec<Range<u64>>,
    /// Contents of the dumped pages (each `page_size` bytes), by pfn. Writers ignore entries
    /// outside RAM.
    pub pages: BTreeMap<u64, Vec<u8>>,
    /// VMCOREINFO text (`KEY=VALUE\n` lines), if the dump carries one.
    pub vmcoreinfo: Option<String>,
    /// One entry per CPU.
    pub cpus: Vec<CpuState>,
    /// `utsname.sysname` in the kdump header.
    pub sysname: String,
    /// `utsname.nodename`.
    pub nodename: String,
    /// `utsname.release`.
    pub release: String,
    /// `utsname.version`.
    pub version: String,
    /// `utsname.machine`.
    pub machine: String,
    /// `utsname.domainname`.
    pub domainname: String,
    /// Dump time: seconds and microseconds (`struct timeval`).
    pub timestamp: (i64, i64),
    /// `kdump_sub_header.phys_base` (the kernel's `phys_base`, may be "negative" as a u64).
    pub phys_base: u64,
    /// `kdump_sub_header.dump_level` (the `-d` value).
    pub dump_level: i32,
}

impl MemoryImage {
    /// An empty image: no RAM, no CPUs, utsname of an x86-64 Linux host, dump level 31.
    ///
    /// # Panics
    /// When `page_size` is not a power of two of at least 512 (a bug in the calling test).
    pub fn new(page_size: u32) -> Self {
        assert!(
            page_size.is_power_of_two() && page_size >= 512,
            "page size must be a power of two >= 512"
        );
        MemoryImage {
            page_size,
            ram: Vec::new(),
            pages: BTreeMap::new(),
            vmcoreinfo: None,
            cpus: Vec::new(),
            sysname: "Linux".into(),
            nodename: "testcores".into(),
            release: "6.1.0-testcores".into(),
            version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0".into(),
            machine: "x86_64".into(),
            domainname: "(none)".into(),
            timestamp: (1_700_000_000, 123_456),
            phys_base: 0,
            dump_level: 31,
        }
    }

    /// Adds a RAM pfn range (merged with overlapping or adjacent ranges).
    pub fn add_ram(&mut self, pfns: Range<u64>) {
        if pfns.is_empty() {
            return;
        }
        self.ram.push(pfns);
        self.ram.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(self.ram.len());
        for r in self.ram.drain(..) {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        self.ram = merged;
    }

    /// Whether `pfn` is in RAM.
    pub fn is_ram(&self, pfn: u64) -> bool {
        self.ram.iter().any(|r| r.contains(&pfn))
    }

    /// One past the highest RAM pfn (kdump's `max_mapnr`).
    pub fn max_pfn(&self) -> u64 {
        self.ram.iter().map(|r| r.end).max().unwrap_or(0)
    }

    /// Writes `bytes` at physical address `paddr`, creating zero-filled pages as needed.
    /// Every touched page must be in RAM; nothing is written when one is not.
    pub fn write_phys(&mut self, paddr: u64, bytes: &[u8]) -> Result<(), ImageError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = paddr
            .checked_add(bytes.len() as u64)
            .ok_or(ImageError::Overflow(paddr))?;
        let ps = u64::from(self.page_size);
        for pfn in paddr / ps..=(end - 1) / ps {
            if !self.is_ram(pfn) {
                return Err(ImageError::NotRam(pfn.max(paddr / ps) * ps));
            }
        }
        let mut done = 0usize;
        while done < bytes.len() {
            let addr = paddr + done as u64;
            let pfn = addr / ps;
            let in_page = (addr % ps) as usize;
            let n = (ps as usize - in_page).min(bytes.len() - done);
            let page = self
                .pages
                .entry(pfn)
                .or_insert_with(|| vec![0; ps as usize]);
            page[in_page..in_page + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes a little-endian u64 at `paddr`.
    pub fn write_u64(&mut self, paddr: u64, value: u64) -> Result<(), ImageError> {
        self.write_phys(paddr, &value.to_le_bytes())
    }

    /// Marks every page of `pfns` that is in RAM as dumped, filled with [`pattern_page`]
    /// (pages already present are kept).
    pub fn fill_pattern(&mut self, pfns: Range<u64>) {
        for pfn in pfns {
            if self.is_ram(pfn) && !self.pages.contains_key(&pfn) {
                self.pages.insert(pfn, pattern_page(pfn, self.page_size));
            }
        }
    }

    /// Excludes a page: it stays RAM but is not dumped.
    pub fn exclude(&mut self, pfn: u64) {
        self.pages.remove(&pfn);
    }

    /// The bytes a correct reader must return for `len` bytes at `paddr`, or `None` when any
    /// page of the range is not dumped (excluded or not RAM).
    pub fn read_phys(&self, paddr: u64, len: usize) -> Option<Vec<u8>> {
        let ps = u64::from(self.page_size);
        let end = paddr.checked_add(len as u64)?;
        let mut out = Vec::with_capacity(len);
        let mut addr = paddr;
        while addr < end {
            let page = self.pages.get(&(addr / ps))?;
            let in_page = (addr % ps) as usize;
            let n = ((ps - addr % ps).min(end - addr)) as usize;
            out.extend_from_slice(&page[in_page..in_page + n]);
            addr += n as u64;
        }
        Some(out)
    }

    /// Contents of page `pfn`, if dumped.
    pub fn page(&self, pfn: u64) -> Option<&[u8]> {
        self.pages.get(&pfn).map(Vec::as_slice)
    }
}

/// A deterministic, moderately compressible page whose first 8 bytes are the pfn (LE), so a
/// reader that returns the wrong page is caught. Each 64-byte line is text naming the pfn, zeros,
/// or pseudo-random bytes, so compressed sizes vary per page (and LZO stays fast on it).
pub fn pattern_page(pfn: u64, page_size: u32) -> Vec<u8> {
    let mut page = vec![0u8; page_size as usize];
    let mut state = pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (i, line) in page.chunks_mut(64).enumerate() {
        match next() % 4 {
            0 | 1 => {
                let text = format!("page {pfn:#x} line {i:3} of a testcores pattern page....\n");
                let n = text.len().min(line.len());
                line[..n].copy_from_slice(&text.as_bytes()[..n]);
            }
            2 => {
                for chunk in line.chunks_mut(8) {
                    chunk.copy_from_slice(&next().to_le_bytes()[..chunk.len()]);
                }
            }
            _ => {}
        }
    }
    page[..8].copy_from_slice(&pfn.to_le_bytes());
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_ranges_merge() {
        let mut img = MemoryImage::new(4096);
        img.add_ram(10..20);
        img.add_ram(0..5);
        img.add_ram(5..8);
        img.add_ram(15..30);
        assert_eq!(img.ram, vec![0..8, 10..30]);
        assert_eq!(img.max_pfn(), 30);
    }

    #[test]
    fn write_outside_ram_is_refused_and_writes_nothing() {
        let mut img = MemoryImage::new(4096);
        img.add_ram(0..2);
        assert_eq!(
            img.write_phys(0x1ff0, &[1; 0x20]),
            Err(ImageError::NotRam(0x2000))
        );
        assert!(img.pages.is_empty());
        assert!(img.write_phys(u64::MAX, &[1, 2]).is_err());
    }

    #[test]
    fn read_back_across_pages_and_exclusion() {
        let mut img = MemoryImage::new(4096);
        img.add_ram(0..4);
        img.write_phys(0xff8, &[7; 16]).unwrap();
        assert_eq!(img.read_phys(0xff8, 16).unwrap(), vec![7; 16]);
        assert_eq!(img.read_phys(0x0, 2).unwrap(), vec![0, 0]);
        img.exclude(1);
        assert!(img.read_phys(0xff8, 16).is_none());
        assert!(img.read_phys(0xff8, 8).is_some());
    }

    #[test]
    fn pattern_pages_differ_and_carry_pfn() {
        let a = pattern_page(5, 4096);
        let b = pattern_page(6, 4096);
        assert_ne!(a, b);
        assert_eq!(u64::from_le_bytes(a[..8].try_into().unwrap()), 5);
    }
}
