//! crash's arm64 page-table walk (`arm64_vtop_*level_*`), as far as which table pages it reads: the part
//! of [`crate::kvtop_guard`] that needs no crash, so it is tested here on synthetic tables.

use vmcore::aarch64;

/// Walk as crash's arm64_vtop_*level_* walk: from the top table down, a zero entry ends the walk, the last
/// level's entry ends it, and a block ends it only where crash looks for one below the top table: the PMD
/// level, and the PUD level with 4 KiB pages (crash 9's 4-level 16 KiB walk follows a PUD block as a table;
/// where crash checks the top table for a block, treating it as a table here only checks more). Any other
/// entry, valid or not, is followed as a table, which crash reads through the linear map with
/// `FAULT_ON_ERROR`. `true` when every table crash would read is readable (`read_phys`) and in the linear map.
pub fn walk_ok(
    tables: &aarch64::PageTableWalker,
    config: &aarch64::Config,
    vaddr: u64,
    read_phys: impl Fn(u64, &mut [u8]) -> bool,
) -> bool {
    if vaddr < u64::MAX << tables.va_bits {
        return true; // not a kernel address: crash's IS_KVADDR refuses it before any walk
    }
    let mut table = tables.root;
    for (depth, level) in (0..tables.levels).rev().enumerate() {
        let index = tables.entry_index(vaddr, level);
        let mut e = [0u8; 8];
        if !read_phys(table + index * 8, &mut e) {
            return false;
        }
        let desc = u64::from_le_bytes(e);
        let block_ends_walk =
            depth > 0 && (level == 1 || (level == 2 && tables.granule == aarch64::Granule::K4));
        if desc == 0 || level == 0 || (block_ends_walk && desc & 3 == 1) {
            return true;
        }
        table = tables.output_address(desc);
        // crash reads the next table at PTOV(table): outside the linear map that is no plain read.
        let linear = table
            .wrapping_sub(config.phys_offset)
            .wrapping_add(config.page_offset());
        if config.linear_to_phys(linear) != Some(table) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 0x4000_0000;
    const PAGE: u64 = 4096;

    /// Debian's arm64 6.1: 4 KiB pages, 48-bit addresses, RAM at 1 GiB; the top table at RAM's first page.
    fn config() -> aarch64::Config {
        aarch64::Config {
            granule: aarch64::Granule::K4,
            va_bits: 48,
            va_bits_actual: 48,
            kimage_voffset: 0xffff_8000_0000_0000 - RAM,
            phys_offset: RAM,
            pac_mask: 0,
            max_physmem_bits: 48,
            swapper_pg_dir: 0xffff_8000_0000_0000,
            layout: aarch64::Layout::LinearBelow,
        }
    }

    /// Physical memory of `pages` pages from RAM, `missing` pages absent from the dump.
    struct Mem {
        ram: Vec<u8>,
        missing: Vec<u64>,
    }

    impl Mem {
        fn new(pages: u64) -> Mem {
            Mem {
                ram: vec![0; (pages * PAGE) as usize],
                missing: vec![],
            }
        }
        fn set(&mut self, page: u64, index: u64, desc: u64) {
            let at = (page * PAGE + index * 8) as usize;
            self.ram[at..at + 8].copy_from_slice(&desc.to_le_bytes());
        }
        fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
            let Some(off) = paddr.checked_sub(RAM) else {
                return false;
            };
            if self.missing.contains(&(off / PAGE)) {
                return false;
            }
            match self.ram.get(off as usize..off as usize + buf.len()) {
                Some(b) => {
                    buf.copy_from_slice(b);
                    true
                }
                None => false,
            }
        }
    }

    /// A vmalloc address whose PGD, PUD and PMD indexes are 1, 2 and 3 (PTE index 4).
    const VA: u64 = 0xffff_8000_0000_0000 | (1 << 39) | (2 << 30) | (3 << 21) | (4 << 12);
    const TABLE: u64 = 0b11;
    const BLOCK: u64 = 0b01;

    fn walk(mem: &Mem) -> bool {
        let c = config();
        let tables = aarch64::Translator::new(c).unwrap().walker;
        walk_ok(&tables, &c, VA, |p, b| mem.read(p, b))
    }

    /// Top table page 0 -> PUD page 1 -> PMD page 2 -> PTE page 3.
    fn four_levels() -> Mem {
        let mut m = Mem::new(8);
        m.set(0, 0x100 + 1, (RAM + PAGE) | TABLE);
        m.set(1, 2, (RAM + 2 * PAGE) | TABLE);
        m.set(2, 3, (RAM + 3 * PAGE) | TABLE);
        m.set(3, 4, (RAM + 7 * PAGE) | 0b11);
        m
    }

    #[test]
    fn a_walk_whose_tables_are_all_in_the_dump_is_safe() {
        assert!(walk(&four_levels()));
    }

    #[test]
    fn a_missing_table_page_is_refused_at_every_level() {
        for page in 0..4 {
            let mut m = four_levels();
            m.missing.push(page);
            assert!(!walk(&m), "table page {page} missing");
        }
        // The page the PTE maps is data, which crash reads with RETURN_ON_ERROR: not the guard's business.
        let mut m = four_levels();
        m.missing.push(7);
        assert!(walk(&m));
    }

    #[test]
    fn zero_entries_and_blocks_end_crashs_walk() {
        let mut m = four_levels();
        m.set(1, 2, 0);
        m.missing.push(2);
        assert!(walk(&m), "a zero PUD entry: crash reads nothing further");
        let mut m = four_levels();
        m.set(2, 3, (RAM + 0x20_0000) | BLOCK);
        m.missing.push(3);
        assert!(walk(&m), "a 2 MiB block: crash reads no PTE table");
    }

    #[test]
    fn a_pud_block_with_16k_pages_is_followed_as_crash_follows_it() {
        // 16 KiB pages, 48-bit addresses: 4 levels, and crash's walk checks only the PMD level for blocks.
        let c = aarch64::Config {
            granule: aarch64::Granule::K16,
            ..config()
        };
        let tables = aarch64::Translator::new(c).unwrap().walker;
        assert_eq!(tables.levels, 4);
        let va = 0xffff_8123_4560_0000;
        // 16 KiB tables at 4 KiB pages 0 (top) and 4 (PUD); the PUD entry is a block naming page 8.
        let mut m = Mem::new(16);
        m.set(0, tables.entry_index(va, 3), (RAM + 4 * PAGE) | TABLE);
        m.set(4, tables.entry_index(va, 2), (RAM + 8 * PAGE) | BLOCK);
        m.missing.push(8);
        assert!(!walk_ok(&tables, &c, va, |p, b| m.read(p, b)));
        m.missing.clear();
        assert!(walk_ok(&tables, &c, va, |p, b| m.read(p, b)));
    }

    #[test]
    fn an_invalid_non_zero_entry_is_followed_as_crash_follows_it() {
        // Valid bit clear, not zero: the architecture stops here, crash reads the "table" it names.
        let mut m = four_levels();
        m.set(1, 2, (RAM + 5 * PAGE) | 0b10);
        m.missing.push(5);
        assert!(!walk(&m));
        m.missing.clear();
        assert!(walk(&m));
    }

    #[test]
    fn a_table_outside_the_linear_map_is_refused() {
        // Below PHYS_OFFSET: PTOV() of it is no linear-map address, so crash's read would walk again.
        let mut m = four_levels();
        m.set(1, 2, 0x1000 | TABLE);
        assert!(!walk(&m));
    }
}
