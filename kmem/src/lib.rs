//! Kernel memory as every layer of vmtaint sees it: one reader trait and one typed read error.
//!
//! A dump reader (`vmcore`), the in-dump symbol sources (kallsyms, BTF), the analyzers and the crash
//! extension all read kernel memory and all fail the same ways; they share [`ReadError`] so that *why* a read
//! failed (a page filtered out of the dump, a page the dump never covered, no translation and why, a corrupt
//! page) travels unchanged from the file to the report, never flattened into a string and re-derived.
//!
//! ```
//! use kmem::{ReadError, KernelMemory};
//! struct Zeros;
//! impl KernelMemory for Zeros {
//!     fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
//!         if addr < 0x1000 {
//!             return Err(ReadError::Unmapped { vaddr: addr, detail: "the zero page is never mapped" });
//!         }
//!         buf.fill(0);
//!         Ok(())
//!     }
//! }
//! assert_eq!(Zeros.read_u64(0x2000), Ok(0));
//! assert!(Zeros.read_u64(0).unwrap_err().to_string().contains("not mapped"));
//! ```

use std::path::Path;
use std::sync::Arc;

/// Why a read of kernel memory failed. Small and cheap to clone: reads are hot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The physical address is outside everything the dump describes (not RAM, or beyond the dump).
    #[error("physical address {paddr:#x} is not in the dump")]
    NotInDump { paddr: u64 },
    /// The page is RAM but was deliberately left out (makedumpfile `-d`, or an ELF `p_filesz < p_memsz` tail).
    #[error("physical address {paddr:#x} is in a page excluded from the dump")]
    Excluded { paddr: u64 },
    /// The dump was cut short (incomplete) before this page was written.
    #[error("physical address {paddr:#x} is in a page the incomplete dump never wrote")]
    NotWritten { paddr: u64 },
    /// The page's bytes in the file are damaged: bad descriptor, bad compressed stream, beyond the end.
    #[error("{}: page at physical {paddr:#x} (file offset {file_offset:#x}): {detail}", file.display())]
    Corrupt {
        file: Arc<Path>,
        paddr: u64,
        file_offset: u64,
        detail: String,
    },
    /// A virtual address has no mapping in the kernel page tables (or outside any region a target knows).
    #[error("virtual address {vaddr:#x} is not mapped ({detail})")]
    Unmapped { vaddr: u64, detail: &'static str },
    /// A page table needed to translate `vaddr` could not be read.
    #[error("virtual address {vaddr:#x}: page table unreadable: {source}")]
    PageTable {
        vaddr: u64,
        #[source]
        source: Box<ReadError>,
    },
    /// Virtual addresses cannot be translated at all in this dump, and why (e.g. it has no VMCOREINFO and no
    /// CPU state, or is cut before the page tables).
    #[error("virtual address {vaddr:#x}: no address translation: {why}")]
    NoTranslation { vaddr: u64, why: Arc<str> },
    /// `vaddr` translated, but the physical page behind it could not be read.
    #[error("virtual address {vaddr:#x}: {source}")]
    Page {
        vaddr: u64,
        #[source]
        source: Box<ReadError>,
    },
    /// The program hosting the analyzers (the crash utility) failed the read without saying why.
    #[error("{host} cannot read {addr:#x}: {detail}")]
    Host {
        addr: u64,
        host: &'static str,
        detail: &'static str,
    },
}

impl ReadError {
    /// The innermost cause (through [`ReadError::Page`] and [`ReadError::PageTable`]).
    pub fn root_cause(&self) -> &ReadError {
        match self {
            ReadError::Page { source, .. } | ReadError::PageTable { source, .. } => {
                source.root_cause()
            }
            other => other,
        }
    }

    /// The page was deliberately filtered out of the dump: absence by design, not damage.
    pub fn is_excluded(&self) -> bool {
        matches!(self.root_cause(), ReadError::Excluded { .. })
    }
}

/// Reads kernel virtual memory. Implemented by a dump (through its address translation), by a test's fake
/// kernel, and by the crash utility's `readmem`.
pub trait KernelMemory: Sync {
    /// Read `buf.len()` bytes at virtual address `addr`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// A little-endian u64 (both supported architectures are little-endian).
    fn read_u64(&self, addr: u64) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl<F> KernelMemory for F
where
    F: Fn(u64, &mut [u8]) -> Result<(), ReadError> + Sync,
{
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self(addr, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cause_sees_through_wrappers() {
        let e = ReadError::Page {
            vaddr: 0xffff_ffff_8100_0000,
            source: Box::new(ReadError::Excluded { paddr: 0x100_0000 }),
        };
        assert!(e.is_excluded());
        assert_eq!(e.root_cause(), &ReadError::Excluded { paddr: 0x100_0000 });
        assert_eq!(
            e.to_string(),
            "virtual address 0xffffffff81000000: physical address 0x1000000 is in a page excluded from the dump"
        );
        assert!(!ReadError::NotInDump { paddr: 0 }.is_excluded());
    }
}
