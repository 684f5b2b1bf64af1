//! Builders for synthetic Linux crash dumps, for tests.
//!
//! A [`MemoryImage`] (RAM ranges, dumped pages, VMCOREINFO, CPU registers, utsname) is written
//! as a kdump-compressed file ([`write_kdump`]), an ELF vmcore ([`write_elf`]) or either of them
//! flattened ([`flatten`]). [`x86_64`] and [`aarch64`] build real page tables and a small consistent kernel
//! image; [`damage`] makes broken variants of valid dumps. The writers follow the formats'
//! definitions (makedumpfile's `diskdump_mod.h`/`makedumpfile.h`, the ELF spec, QEMU's
//! `target/i386/arch_dump.c`) and share no code with the readers they test.
//!
//! ```
//! use testcores::{flatten, write_elf, write_kdump, Codec, ElfOptions, KdumpOptions};
//! use testcores::x86_64::{kernel_image, KernelParams};
//!
//! let (img, kernel) = kernel_image(&KernelParams::default()).unwrap();
//! let kdump = write_kdump(&img, &KdumpOptions { codec: Codec::Lzo, ..Default::default() });
//! let elf = write_elf(&img, &ElfOptions::proc_vmcore(kernel.page_offset_base));
//! let flat = flatten(&kdump, 64 * 1024, Some(1));
//! // What a reader must find at the release string:
//! assert_eq!(img.read_phys(kernel.release_paddr, 5).unwrap(), b"6.1.0");
//! # let _ = (elf, flat);
//! ```

pub mod aarch64;
pub mod compress;
pub mod damage;
pub mod elf;
pub mod flat;
pub mod image;
pub mod kcore;
pub mod kdump;
pub mod notes;
pub mod real;
pub mod x86_64;

pub use compress::Codec;
pub use elf::{write_elf, write_elf_with_layout, ElfLayout, ElfOptions, LoadSegment};
pub use flat::{flatten, flatten_with_layout, FlatRecord};
pub use image::{pattern_page, reg, CpuState, ImageError, MemoryImage};
pub use kdump::{
    write_kdump, write_kdump_file, write_kdump_with_layout, KdumpLayout, KdumpOptions, PageRecord,
};

/// `len` bytes of deterministic noise (xorshift64 from `seed`, which must not be 0): incompressible pages
/// and bit patterns for tests, the same on every run.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
