//! A crash dump seen as an analyzers [`Target`]: memory from `vmcore`, symbols and types from a
//! [`SymbolSource`] (DWARF from a debug vmlinux today; BTF and in-dump kallsyms are the same shape).

use analyzers::target::{Member, ReadError, SymbolAt, Target, TypeRef};
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
    /// The value of an enumerator by its name alone (each source indexes its enumerators by name).
    fn enumerator(&self, name: &str) -> Option<i64>;
    /// See [`Target::symbol_at`] (run-time address, the KASLR slide already applied).
    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        let _ = addr;
        None
    }
}

/// A dump plus a symbol source.
pub struct DumpTarget<'a> {
    pub dump: &'a Vmcore,
    pub symbols: &'a dyn SymbolSource,
}

/// Whether `VMTAINT_TRACE=1` is set (read once).
pub(crate) fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VMTAINT_TRACE").is_some_and(|v| v == "1"))
}

/// `VMTAINT_TRACE=1`: print every symbol and type question, its answer and its cost to stderr.
fn traced<T: std::fmt::Debug>(what: std::fmt::Arguments<'_>, f: impl FnOnce() -> T) -> T {
    if !tracing() {
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
        self.dump.read_virt(addr, buf)
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

    fn vmcoreinfo(&self, key: &str) -> Option<String> {
        self.dump.vmcoreinfo()?.get(key).map(str::to_string)
    }

    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        traced(format_args!("symbol_at {addr:#x}"), || {
            self.symbols.symbol_at(addr)
        })
    }
}

/// Symbol and type questions put to several sources in turn, per question: the first that knows answers.
///
/// The ladder picks the best source for the whole dump (DWARF, or BTF with kallsyms); the dump's own
/// VMCOREINFO stands behind it for what that source lacks (e.g. `SYMBOL(prb)` on kernels whose kallsyms has no
/// data symbols). A member is taken from a later source only when no earlier one knows its type at all, so a
/// layout is never stitched together from two sources. How many answers each source gave is reported.
///
/// ```
/// use analyzers::target::TypeRef;
/// use engine::target::{Chain, SymbolSource, VmcoreInfoOnly};
/// let vi = vmcore::VmcoreInfo::parse("SYMBOL(prb)=ffffffff82b5c6a8\nOFFSET(printk_info.seq)=0\n");
/// let only = VmcoreInfoOnly(&vi);
/// let chain = Chain::new(vec![&only]);
/// assert_eq!(chain.symbol("prb"), Some(0xffff_ffff_82b5_c6a8));
/// assert_eq!(chain.member(TypeRef::Struct("printk_info"), "seq").map(|m| m.offset), Some(0));
/// assert_eq!(chain.answers(), vec![("vmcoreinfo", 2)]);
/// let pg = vmcore::VmcoreInfo::parse("NUMBER(PG_slab)=9\n");
/// assert_eq!(Chain::new(vec![&VmcoreInfoOnly(&pg)]).enumerator("PG_slab"), Some(9));
/// ```
pub struct Chain<'a> {
    rungs: Vec<&'a dyn SymbolSource>,
    answers: Vec<std::sync::atomic::AtomicU32>,
}

impl<'a> Chain<'a> {
    /// The sources, best first. Panics on an empty list (a chain answers through at least one source).
    pub fn new(rungs: Vec<&'a dyn SymbolSource>) -> Self {
        assert!(!rungs.is_empty(), "a Chain needs at least one source");
        let answers = rungs.iter().map(|_| Default::default()).collect();
        Chain { rungs, answers }
    }

    /// How many questions each source answered, in chain order (sources that answered none left out).
    pub fn answers(&self) -> Vec<(&'static str, u32)> {
        self.rungs
            .iter()
            .zip(&self.answers)
            .map(|(r, n)| (r.kind(), n.load(std::sync::atomic::Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    fn first<T>(&self, mut ask: impl FnMut(&dyn SymbolSource) -> Option<T>) -> Option<T> {
        self.rungs.iter().zip(&self.answers).find_map(|(r, n)| {
            let v = ask(*r)?;
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(v)
        })
    }
}

impl SymbolSource for Chain<'_> {
    fn kind(&self) -> &'static str {
        self.rungs[0].kind()
    }

    fn origin(&self) -> String {
        self.rungs[0].origin()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.first(|r| r.symbol(name))
    }

    /// From the source that knows the symbol (an extent is only meaningful next to its own address).
    fn symbol_extent(&self, name: &str) -> Option<u64> {
        let (r, n) = self
            .rungs
            .iter()
            .zip(&self.answers)
            .find(|(r, _)| r.symbol(name).is_some())?;
        let extent = r.symbol_extent(name)?;
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(extent)
    }

    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        self.first(|r| r.symbol_at(addr))
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        self.first(|r| r.size_of(ty))
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        for (r, n) in self.rungs.iter().zip(&self.answers) {
            if let Some(m) = r.member(ty, path) {
                n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Some(m);
            }
            // This source knows the type: its answer (no such member) stands.
            if r.size_of(ty).is_some() {
                return None;
            }
        }
        None
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.first(|r| r.enumerator(name))
    }
}

/// The dump's own VMCOREINFO as a symbol source: `SYMBOL()`, `OFFSET()`, `SIZE()`, `LENGTH()` and `NUMBER()` keys.
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

    /// `NUMBER(name)`: the kernel exports some enumerators this way (`PG_lru`, `PG_slab`, ... of
    /// `enum pageflags`); its other `NUMBER()` keys are constants no enumerator is named after.
    fn enumerator(&self, name: &str) -> Option<i64> {
        self.0.number(name)
    }
}
