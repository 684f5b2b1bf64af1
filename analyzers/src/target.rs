//! The program model the analyzers run on.
//!
//! A [`Target`] is a crashed kernel seen through three questions: read its virtual memory, find a symbol,
//! describe a type. It is deliberately shaped like the crash utility's own API (`readmem`, `symbol_search`,
//! `MEMBER_OFFSET`/`MEMBER_SIZE`/`STRUCT_SIZE`, `enumerator_value`) so that the same analyzers run on a dump
//! with DWARF, on a dump with only BTF and kallsyms, and inside `crash` through its extension API.
//!
//! ```
//! use analyzers::target::{Target, TypeRef};
//! fn tainted_mask(t: &dyn Target) -> Option<u64> {
//!     let addr = t.symbol("tainted_mask")?;
//!     t.read_u64(addr).ok()
//! }
//! ```

use std::fmt;

/// Why a read of target memory failed: the one read error of every layer (`kmem`). Analyzers report these
/// as data, never panic on them.
pub use kmem::ReadError;

/// Which type a member question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeRef<'a> {
    /// `struct NAME`
    Struct(&'a str),
    /// `union NAME`
    Union(&'a str),
    /// The (possibly anonymous) type of the global variable NAME, e.g. `last_unloaded_module`,
    /// whose type is an unnamed struct in 6.0+ and a bare `char[]` before.
    TypeOf(&'a str),
}

impl fmt::Display for TypeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Struct(n) => write!(f, "struct {n}"),
            TypeRef::Union(n) => write!(f, "union {n}"),
            TypeRef::TypeOf(n) => write!(f, "typeof({n})"),
        }
    }
}

/// Where a member sits inside its containing type.
/// A symbol found by address ([`Target::symbol_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolAt {
    pub name: String,
    /// Its run-time start address.
    pub address: u64,
    /// Its size when the source knows it (`.symtab`), else the distance to the next symbol (kallsyms).
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Byte offset from the start of the containing type (nested anonymous members already added in).
    pub offset: u64,
    /// Size in bytes of the member's type (for an array: the whole array).
    pub size: u64,
    /// For arrays: the number of elements (outermost dimension); `None` for non-arrays.
    pub array_len: Option<u64>,
    /// For bit fields: (bit offset from `offset * 8`, bit width).
    pub bits: Option<(u32, u32)>,
}

/// A crashed kernel to analyze. Implementations: DWARF + vmcore, BTF + kallsyms + vmcore, the crash utility.
///
/// Every method answers "don't know" with `None` rather than an error: analyzers decide what missing
/// knowledge means (an older kernel layout, a missing config option, or a broken source).
pub trait Target: Sync {
    /// Read `buf.len()` bytes of kernel virtual memory at `addr`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// The run-time address of a kernel symbol (KASLR already applied).
    fn symbol(&self, name: &str) -> Option<u64>;

    /// Bytes from a symbol to the next one, when the source knows symbols but not their sizes (kallsyms):
    /// an upper bound of the object's size that includes alignment padding. `None` from sources with
    /// sizes (ask [`Target::size_of`] of `TypeOf(name)` there).
    fn symbol_extent(&self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }

    /// Size in bytes of a type, e.g. `size_of(TypeRef::Struct("module"))`.
    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64>;

    /// A member of a type. `path` may name a nested member with dots (`"mkobj.mod"`, `"core_layout.base"`);
    /// members of anonymous structs and unions are found by their own name.
    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member>;

    /// The value of an enumerator by its name, e.g. `enumerator("MODULE_STATE_LIVE")` (enumerator names are
    /// unique in the kernel's C: no need to name the enum, and anonymous enums answer too).
    fn enumerator(&self, name: &str) -> Option<i64>;

    /// A VMCOREINFO value by its full key, e.g. `"OSRELEASE"`, `"SYMBOL(prb)"`,
    /// `"OFFSET(printk_info.ts_nsec)"`. `None` when the dump has no such key (or no VMCOREINFO).
    fn vmcoreinfo(&self, key: &str) -> Option<String>;

    /// The kernel (vmlinux) symbol containing `addr`, or the nearest one below it: crash's
    /// `value_search()`. `None` when the source cannot answer (then addresses in vmlinux stay bare).
    /// Module addresses are not asked here: [`crate::resolve`] reads the modules' own symbol tables.
    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        let _ = addr;
        None
    }

    /// Read a little-endian u64 (x86-64 targets are little-endian; a big-endian port would add a method).
    fn read_u64(&self, addr: u64) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Read a little-endian u32.
    fn read_u32(&self, addr: u64) -> Result<u32, ReadError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Read an unsigned integer of 1, 2, 4 or 8 bytes (the width a [`Member`] reports).
    fn read_uint(&self, addr: u64, size: u64) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        let n = size.min(8) as usize;
        self.read(addr, &mut b[..n])?;
        Ok(u64::from_le_bytes(b))
    }

    /// Read a NUL-terminated string of at most `max` bytes (lossy UTF-8).
    fn read_cstr(&self, addr: u64, max: usize) -> Result<String, ReadError> {
        let mut b = vec![0u8; max];
        self.read(addr, &mut b)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }
}
