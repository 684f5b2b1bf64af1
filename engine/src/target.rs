//! A crash dump seen as an analyzers [`Target`]: memory from `vmcore`, symbols and types from a
//! [`SymbolSource`] (DWARF from a debug vmlinux today; BTF and in-dump kallsyms are the same shape).

use analyzers::target::{Member, ReadError, Target, TypeRef};
use vmcore::Vmcore;

/// Where symbol addresses and type layouts come from.
pub trait SymbolSource: Send + Sync {
    /// A short name for reports: `dwarf`, `btf`, ...
    fn kind(&self) -> &'static str;
    /// What it was read from (a path, or "dump").
    fn origin(&self) -> String;
    /// Run-time address of a symbol (the KASLR slide already applied).
    fn symbol(&self, name: &str) -> Option<u64>;
    /// See [`Target::symbol_extent`].
    fn symbol_extent(&self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }
    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64>;
    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member>;
    fn enumerator(&self, name: &str) -> Option<i64>;
    /// See [`Target::enumerator_in`].
    fn enumerator_in(&self, enumeration: &str, name: &str) -> Option<i64> {
        let _ = enumeration;
        self.enumerator(name)
    }
}

/// A dump plus a symbol source.
pub struct DumpTarget<'a> {
    pub dump: &'a Vmcore,
    pub symbols: &'a dyn SymbolSource,
}

/// `VMTAINT_TRACE=1`: print every symbol and type question, its answer and its cost to stderr.
fn traced<T: std::fmt::Debug>(what: std::fmt::Arguments<'_>, f: impl FnOnce() -> T) -> T {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*ON.get_or_init(|| std::env::var_os("VMTAINT_TRACE").is_some_and(|v| v == "1")) {
        return f();
    }
    let t = std::time::Instant::now();
    let r = f();
    eprintln!(
        "trace: {:>8.3} ms  {what} -> {r:?}",
        t.elapsed().as_secs_f64() * 1e3
    );
    r
}

impl Target for DumpTarget<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.dump.read_virt(addr, buf).map_err(|e| match e {
            // Without a translator every address reads as unmapped; say why instead (e.g. the dump is cut
            // before the page tables), or a damaged dump looks like a kernel with nothing mapped.
            vmcore::ReadError::Unmapped { vaddr, .. } => match self.dump.translator() {
                Err(why) => ReadError::Other {
                    addr,
                    detail: why.to_string(),
                },
                Ok(_) => ReadError::Unmapped { addr: vaddr },
            },
            vmcore::ReadError::Excluded { .. } => ReadError::Excluded { addr },
            other => ReadError::Other {
                addr,
                detail: other.to_string(),
            },
        })
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        traced(format_args!("symbol {name}"), || self.symbols.symbol(name))
    }

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        traced(format_args!("symbol_extent {name}"), || {
            self.symbols.symbol_extent(name)
        })
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        traced(format_args!("size_of {ty}"), || self.symbols.size_of(ty))
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        traced(format_args!("member {ty} {path}"), || {
            self.symbols.member(ty, path)
        })
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        traced(format_args!("enumerator {name}"), || {
            self.symbols.enumerator(name)
        })
    }

    fn enumerator_in(&self, enumeration: &str, name: &str) -> Option<i64> {
        traced(format_args!("enumerator {enumeration}::{name}"), || {
            self.symbols.enumerator_in(enumeration, name)
        })
    }

    fn vmcoreinfo(&self, key: &str) -> Option<String> {
        self.dump.vmcoreinfo()?.get(key).map(str::to_string)
    }
}

/// The dump's own VMCOREINFO as the only symbol source: `SYMBOL()`, `OFFSET()`, `SIZE()` and `LENGTH()` keys.
/// Enough for the kernel log (the kernel exports every printk ring offset there) and nothing more: the last
/// rung of the ladder when neither DWARF nor BTF is available.
pub struct VmcoreInfoOnly<'a>(pub &'a vmcore::VmcoreInfo);

impl SymbolSource for VmcoreInfoOnly<'_> {
    fn kind(&self) -> &'static str {
        "vmcoreinfo"
    }

    fn origin(&self) -> String {
        "dump".into()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.0.symbol(name)
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        match ty {
            TypeRef::Struct(n) | TypeRef::Union(n) => self.0.size(n),
            TypeRef::TypeOf(_) => None,
        }
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        let TypeRef::Struct(n) = ty else { return None };
        let offset = self.0.offset(&format!("{n}.{path}"))?;
        // VMCOREINFO gives offsets only; sizes are unknown (0) and arrays unmarked.
        Some(Member {
            offset,
            size: 0,
            array_len: None,
            bits: None,
        })
    }

    fn enumerator(&self, _name: &str) -> Option<i64> {
        None
    }
}
