//! Data symbols recovered from the kernel's own code, for a symbol source whose kallsyms holds only text
//! symbols (no `CONFIG_KALLSYMS_ALL`: Debian's arm64 kernels). Each variable the analyzers need is read by a
//! small function kallsyms does name (`get_taint` returns `tainted_mask`, `print_modules` walks `modules`):
//! that function's code is read from the dump (or a running kernel's `/proc/kcore`), its data references listed ([`symbols::code_refs`]), the ones
//! of the right kind kept, and each candidate checked against memory and the BTF types before it is used
//! (`modules` must be a list of `struct module`s with sane names that returns to its head; `tainted_mask` a
//! word whose bits are all known flags; ...). A candidate that does not pass, or two that do, recover
//! nothing: the symbol stays unknown, and [`CodeRecovery::outcomes`] says why.
//!
//! Addresses must lie where the arm64 kernel image keeps such data (arch/arm64/kernel/vmlinux.lds.S: text,
//! then read-only data up to `__init_begin`, then the init sections, then `.data` and `.bss`): read-only
//! tables (`taint_flags`) between `_etext` and `__init_begin`, variables above `_einittext` (kallsyms has
//! these three; `_sdata` and `_end` are data symbols it lacks) and at most [`MAX_DATA_SPAN`] above it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use analyzers::target::{Member, SymbolAt, TypeRef};
use kmem::KernelMemory;
use symbols::code_refs::{data_refs, Access, CodeRef};

use crate::target::SymbolSource;

/// `source.tried`'s name for what recovery did.
pub const SOURCE: &str = "kernel-code";

/// The analyzer that needs `name` (for a problem saying why it was not recovered).
pub fn analyzer_of(name: &str) -> analyzers::report::Analyzer {
    use analyzers::report::Analyzer;
    match name {
        "modules" => Analyzer::Modules,
        "last_unloaded_module" | "unloaded_tainted_modules" => Analyzer::Unloaded,
        "sig_enforce" | "kernel_locked_down" => Analyzer::Signatures,
        "module_alloc_base" => Analyzer::Resolve,
        n if n.ends_with("_trusted_keys") => Analyzer::Keyrings,
        _ => Analyzer::Taint,
    }
}

/// Longest function read (kallsyms' extent is the distance to the next symbol).
const MAX_FUNCTION: u64 = 16 << 10;
/// Most distinct candidate addresses checked per function.
const MAX_CANDIDATES: usize = 64;
/// How far above `_einittext` `.data` and `.bss` may reach (Debian's arm64 image: 7 MiB).
pub const MAX_DATA_SPAN: u64 = 512 << 20;
/// Most list entries walked when checking a list head.
const MAX_LIST: usize = 65536;
/// Taint flags assumed when the BTF does not size `taint_flags` (every kernel so far has fewer than 32).
const DEFAULT_TAINT_FLAGS: u64 = 32;

/// Where a variable lives in the image.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    /// `.rodata` (const tables).
    ReadOnly,
    /// `.data` / `.bss`.
    Writable,
}

/// One variable: the functions that refer to it, best first, which of their references may be it, and
/// the check its memory must pass.
struct Wanted {
    name: &'static str,
    accessors: &'static [&'static str],
    region: Region,
    /// What the reference must look like (e.g. an 8-byte load), with all of the function's references
    /// for context.
    select: fn(&CodeRef, &[CodeRef], &Checker<'_>) -> bool,
    /// The variable's memory: `Ok(what was seen)` or `Err(why it cannot be the variable)`.
    check: fn(&Checker<'_>, u64) -> Result<String, String>,
}

/// The variables recovered, in the order their outcomes are reported.
const WANTED: &[Wanted] = &[
    Wanted {
        name: "tainted_mask",
        accessors: &["get_taint", "print_tainted"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(8),
        check: check_tainted_mask,
    },
    Wanted {
        name: "taint_flags",
        // 6.12 moved print_tainted's body into the static _print_tainted.
        accessors: &["print_tainted", "_print_tainted"],
        region: Region::ReadOnly,
        select: |r, _, _| r.access == Access::Address,
        check: check_taint_flags,
    },
    Wanted {
        name: "modules",
        accessors: &["print_modules"],
        region: Region::Writable,
        // The walk starts by loading the head's `next`.
        select: |r, _, _| r.access == Access::Load(8),
        check: check_modules,
    },
    Wanted {
        name: "last_unloaded_module",
        accessors: &["print_modules"],
        region: Region::Writable,
        select: select_last_unloaded,
        check: check_last_unloaded,
    },
    Wanted {
        name: "sig_enforce",
        accessors: &["is_module_sig_enforced"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(1),
        check: check_sig_enforce,
    },
    Wanted {
        name: "kernel_locked_down",
        accessors: &["lockdown_is_locked_down"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(4),
        check: check_locked_down,
    },
    Wanted {
        name: "panic_cpu",
        // atomic_cmpxchg(&panic_cpu, ...): 6.18 moved it into panic_try_start.
        accessors: &["panic_try_start", "nmi_panic", "vpanic", "panic"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Atomic(4),
        check: check_panic_cpu,
    },
    Wanted {
        name: "module_alloc_base",
        // arm64 5.10-6.4: module_alloc() places modules from this (__ro_after_init) base.
        accessors: &["module_alloc"],
        region: Region::ReadOnly,
        select: |r, _, _| r.access == Access::Load(8),
        check: check_module_alloc_base,
    },
    // The system keyrings (certs/system_keyring.c): pointers to `struct key`s whose descriptions name them.
    Wanted {
        name: "builtin_trusted_keys",
        accessors: &[
            "restrict_link_by_builtin_trusted",
            "verify_pkcs7_message_sig",
        ],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(8),
        check: |c, a| check_keyring(c, a, ".builtin_trusted_keys"),
    },
    Wanted {
        name: "secondary_trusted_keys",
        accessors: &[
            "restrict_link_by_builtin_and_secondary_trusted",
            "verify_pkcs7_message_sig",
        ],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(8),
        check: |c, a| check_keyring(c, a, ".secondary_trusted_keys"),
    },
    Wanted {
        name: "platform_trusted_keys",
        accessors: &["verify_pkcs7_message_sig"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(8),
        check: |c, a| check_keyring(c, a, ".platform"),
    },
    Wanted {
        name: "machine_trusted_keys",
        accessors: &["restrict_link_by_builtin_secondary_and_machine"],
        region: Region::Writable,
        select: |r, _, _| r.access == Access::Load(8),
        check: |c, a| check_keyring(c, a, ".machine"),
    },
];

/// The variables recovery knows how to find, in the order their outcomes are reported.
pub fn recoverable() -> impl Iterator<Item = &'static str> {
    WANTED.iter().map(|w| w.name)
}

/// How one variable was recovered, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The variable.
    pub name: &'static str,
    /// Its run-time address, when recovered and checked.
    pub address: Option<u64>,
    /// What was done: `tainted_mask at 0x...: recovered from get_taint's code (...); checked: ...`, or why
    /// nothing was recovered.
    pub note: String,
    /// Whether kallsyms has any of the functions that use it: without them the kernel most likely has no
    /// such variable either (its feature is configured out), which is no problem.
    pub has_accessor: bool,
}

/// A [`SymbolSource`] that answers what `inner` answers, and the variables of [`recoverable`] it does not
/// know from the code of the functions that use them (see the module documentation). Only for arm64 dumps.
///
/// ```no_run
/// use engine::btf_source::BtfSource;
/// use engine::recover::CodeRecovery;
/// use engine::target::SymbolSource;
/// let dump = vmcore::Vmcore::open("/var/crash/vmcore")?;
/// let btf = BtfSource::from_dump(&dump)?; // kallsyms without data symbols
/// let recovery = CodeRecovery::new(&btf, &dump);
/// println!("tainted_mask at {:x?}", recovery.symbol("tainted_mask"));
/// for o in recovery.outcomes() {
///     println!("{}", o.note); // where it was found and what its memory showed, or why not
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CodeRecovery<'a> {
    inner: &'a dyn SymbolSource,
    dump: &'a dyn KernelMemory,
    outcomes: Vec<OnceLock<Outcome>>,
    /// The image's regions, learned once.
    bounds: OnceLock<Result<Bounds, String>>,
    /// Each accessor function's data references, read and decoded once: variables share functions
    /// (`print_modules` names `modules` and `last_unloaded_module`; `verify_pkcs7_message_sig` three keyrings).
    functions: Mutex<HashMap<&'static str, Result<Arc<Function>, String>>>,
}

/// One function's start and the data references its code makes.
struct Function {
    start: u64,
    refs: Vec<CodeRef>,
}

impl<'a> CodeRecovery<'a> {
    /// Recovery over `inner` for the kernel memory `dump` (a [`vmcore::Vmcore`]).
    pub fn new(inner: &'a dyn SymbolSource, dump: &'a dyn KernelMemory) -> CodeRecovery<'a> {
        CodeRecovery {
            inner,
            dump,
            outcomes: WANTED.iter().map(|_| OnceLock::new()).collect(),
            bounds: OnceLock::new(),
            functions: Mutex::default(),
        }
    }

    /// The outcome of every variable whose recovery was attempted (asked for and unknown to `inner`), in a
    /// fixed order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes
            .iter()
            .filter_map(|o| o.get().cloned())
            .collect()
    }

    fn recover(&self, i: usize) -> &Outcome {
        self.outcomes[i].get_or_init(|| {
            let w = &WANTED[i];
            let checker = Checker {
                src: self.inner,
                dump: self.dump,
            };
            let found = match self.bounds.get_or_init(|| bounds(self.inner)) {
                Ok(b) => recover_one(w, &checker, b, |f| self.function(f)),
                Err(why) => Err(why.clone()),
            };
            let (address, note) = match found {
                Ok((a, how)) => (Some(a), format!("`{}` at {a:#x}: {how}", w.name)),
                Err(why) => (None, format!("`{}` not recovered from code: {why}", w.name)),
            };
            Outcome {
                name: w.name,
                address,
                note,
                has_accessor: w.accessors.iter().any(|f| self.inner.symbol(f).is_some()),
            }
        })
    }

    /// `f`'s code, read from memory and decoded the first time a variable asks for it.
    fn function(&self, f: &'static str) -> Result<Arc<Function>, String> {
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions
            .entry(f)
            .or_insert_with(|| {
                let start = self
                    .inner
                    .symbol(f)
                    .ok_or_else(|| format!("no `{f}` in kallsyms"))?;
                let len = self
                    .inner
                    .symbol_extent(f)
                    .unwrap_or(MAX_FUNCTION)
                    .min(MAX_FUNCTION);
                let mut code = vec![0u8; len as usize];
                self.dump
                    .read(start, &mut code)
                    .map_err(|e| format!("{f}'s code: {start:#x} unreadable: {e}"))?;
                Ok(Arc::new(Function {
                    start,
                    refs: data_refs(&code, start),
                }))
            })
            .clone()
    }
}

/// Memory and types, for the checks.
struct Checker<'a> {
    src: &'a dyn SymbolSource,
    dump: &'a dyn KernelMemory,
}

impl Checker<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        self.dump
            .read(addr, buf)
            .map_err(|e| format!("{addr:#x} unreadable: {e}"))
    }

    fn u64(&self, addr: u64) -> Result<u64, String> {
        self.dump
            .read_u64(addr)
            .map_err(|e| format!("{addr:#x} unreadable: {e}"))
    }

    fn u32(&self, addr: u64) -> Result<u32, String> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Result<Member, String> {
        self.src
            .member(ty, path)
            .ok_or_else(|| format!("no {ty} member {path} in the BTF"))
    }

    /// A NUL-terminated name of at most `size` bytes at `addr`, of the characters `ok` allows.
    fn name(&self, addr: u64, size: u64, ok: fn(u8) -> bool) -> Result<String, String> {
        let size = size.clamp(1, 256) as usize;
        let mut b = vec![0u8; size];
        self.read(addr, &mut b)?;
        let end = b
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| format!("no NUL in the {size} bytes at {addr:#x}"))?;
        let s = &b[..end];
        if let Some(bad) = s.iter().find(|&&c| !ok(c)) {
            return Err(format!(
                "byte {bad:#04x} in {:?} at {addr:#x} is not a name's",
                String::from_utf8_lossy(s)
            ));
        }
        Ok(String::from_utf8_lossy(s).into_owned())
    }
}

fn module_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// The image's regions, from kallsyms' text symbols.
struct Bounds {
    rodata: (u64, u64),
    data: (u64, u64),
}

fn bounds(src: &dyn SymbolSource) -> Result<Bounds, String> {
    let get = |n: &str| src.symbol(n).ok_or_else(|| format!("no `{n}` in kallsyms"));
    let (etext, init, einittext) = (get("_etext")?, get("__init_begin")?, get("_einittext")?);
    if !(etext < init && init < einittext) {
        return Err(format!(
            "_etext {etext:#x}, __init_begin {init:#x}, _einittext {einittext:#x} are not in arm64's order"
        ));
    }
    Ok(Bounds {
        rodata: (etext, init),
        data: (einittext, einittext.saturating_add(MAX_DATA_SPAN)),
    })
}

/// The checked address of `w`, and how it was found; `function` gives an accessor's decoded code.
fn recover_one(
    w: &Wanted,
    c: &Checker<'_>,
    bounds: &Bounds,
    function: impl Fn(&'static str) -> Result<Arc<Function>, String>,
) -> Result<(u64, String), String> {
    let (lo, hi) = match w.region {
        Region::ReadOnly => bounds.rodata,
        Region::Writable => bounds.data,
    };
    let mut why = Vec::new();
    for &f in w.accessors {
        let code = match function(f) {
            Ok(code) => code,
            Err(e) => {
                why.push(e);
                continue;
            }
        };
        let (start, refs) = (code.start, &code.refs);
        let mut candidates: Vec<&CodeRef> = Vec::new();
        for r in refs
            .iter()
            .filter(|r| r.address >= lo && r.address < hi && (w.select)(r, refs, c))
        {
            if !candidates.iter().any(|k| k.address == r.address) {
                candidates.push(r);
            }
        }
        if candidates.is_empty() {
            why.push(format!("{f}'s code has no reference of the kind expected"));
            continue;
        }
        candidates.truncate(MAX_CANDIDATES);
        let mut passed = Vec::new();
        let mut failed = Vec::new();
        for r in &candidates {
            match (w.check)(c, r.address) {
                Ok(seen) => passed.push((*r, seen)),
                Err(e) => failed.push(format!("{:#x}: {e}", r.address)),
            }
        }
        match passed.as_slice() {
            [(r, seen)] => {
                return Ok((
                    r.address,
                    format!(
                        "recovered from {f}'s code ({} at {f}+{:#x}); checked: {seen}",
                        describe(r.access),
                        r.at - start
                    ),
                ))
            }
            [] => why.push(format!("{f}: no candidate passed ({})", failed.join("; "))),
            many => {
                let at: Vec<String> = many
                    .iter()
                    .map(|(r, _)| format!("{:#x}", r.address))
                    .collect();
                why.push(format!(
                    "{f}: {} candidates pass ({}): ambiguous",
                    many.len(),
                    at.join(", ")
                ));
            }
        }
    }
    Err(why.join("; "))
}

fn describe(a: Access) -> String {
    match a {
        Access::Address => "address computed".into(),
        Access::Load(n) => format!("{n}-byte load"),
        Access::Store(n) => format!("{n}-byte store"),
        Access::Atomic(n) => format!("{n}-byte atomic access"),
    }
}

fn aligned(addr: u64, n: u64) -> Result<(), String> {
    if addr % n == 0 {
        Ok(())
    } else {
        Err(format!("not {n}-byte aligned"))
    }
}

/// How many taint flags the kernel has (`taint_flags`' length), when the BTF says.
fn taint_flag_count(c: &Checker<'_>) -> Option<u64> {
    let all = c.src.size_of(TypeRef::TypeOf("taint_flags"))?;
    let one = c
        .src
        .size_of(TypeRef::Struct("taint_flag"))
        .filter(|&s| s > 0)?;
    Some(all / one).filter(|&n| n > 0 && n <= 64)
}

fn check_tainted_mask(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    aligned(addr, 8)?;
    let mask = c.u64(addr)?;
    let n = taint_flag_count(c).unwrap_or(DEFAULT_TAINT_FLAGS);
    if n < 64 && mask >> n != 0 {
        return Err(format!(
            "{mask:#x} has bits beyond the kernel's {n} taint flags"
        ));
    }
    Ok(format!(
        "{mask:#x} has only known taint flag bits (the kernel has {n})"
    ))
}

fn check_taint_flags(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    let one = c
        .src
        .size_of(TypeRef::Struct("taint_flag"))
        .filter(|&s| (2..=64).contains(&s))
        .ok_or("no struct taint_flag size in the BTF")?;
    let c_true = c.member(TypeRef::Struct("taint_flag"), "c_true")?.offset;
    let c_false = c.member(TypeRef::Struct("taint_flag"), "c_false")?.offset;
    let n = taint_flag_count(c).unwrap_or(16);
    let mut letters = String::new();
    for i in 0..n {
        let e = addr.wrapping_add(i * one);
        let mut t = [0u8; 1];
        let mut f = [0u8; 1];
        c.read(e.wrapping_add(c_true), &mut t)?;
        c.read(e.wrapping_add(c_false), &mut f)?;
        let ok = if i == 0 {
            // TAINT_PROPRIETARY_MODULE: 'P', else 'G', in every kernel.
            t[0] == b'P' && f[0] == b'G'
        } else {
            t[0].is_ascii_uppercase() && (f[0] == b' ' || f[0] == b'-')
        };
        if !ok {
            return Err(format!(
                "entry {i} is ({:?}, {:?}), not a taint flag's letters",
                t[0] as char, f[0] as char
            ));
        }
        letters.push(t[0] as char);
    }
    Ok(format!("{n} entries with the flags' letters {letters}"))
}

/// `modules`: a list head whose entries are `struct module`s with sane names, back to the head.
fn check_modules(c: &Checker<'_>, head: u64) -> Result<String, String> {
    aligned(head, 8)?;
    let list = c.member(TypeRef::Struct("module"), "list")?.offset;
    let name = c.member(TypeRef::Struct("module"), "name")?;
    let mut prev = head;
    let mut node = c.u64(head)?;
    let mut names = Vec::new();
    for _ in 0..MAX_LIST {
        if c.u64(node.wrapping_add(8))? != prev {
            return Err(format!("entry {node:#x}'s prev is not {prev:#x}"));
        }
        if node == head {
            let shown = match names.len() {
                0 => "an empty list (prev and next point to itself)".to_string(),
                n => format!(
                    "a list of {n} struct module back to the head ({}{})",
                    names[..n.min(3)].join(", "),
                    if n > 3 { ", ..." } else { "" }
                ),
            };
            return Ok(shown);
        }
        if node >> 63 == 0 {
            return Err(format!("entry {node:#x} is no kernel address"));
        }
        let m = node.wrapping_sub(list);
        let n = c.name(
            m.wrapping_add(name.offset),
            name.size.max(1),
            module_name_char,
        )?;
        if n.is_empty() {
            return Err(format!("module at {m:#x} has an empty name"));
        }
        names.push(n);
        prev = node;
        node = c.u64(node)?;
    }
    Err(format!("no way back to the head in {MAX_LIST} entries"))
}

/// `last_unloaded_module`: a byte of it is loaded (`name[0]`, tested before printing); on 6.0+, where it is a
/// struct with `taints`, the code also takes the address of its `taints`.
fn select_last_unloaded(r: &CodeRef, all: &[CodeRef], c: &Checker<'_>) -> bool {
    if r.access != Access::Load(1) {
        return false;
    }
    let ty = TypeRef::TypeOf("last_unloaded_module");
    match (c.src.member(ty, "name"), c.src.member(ty, "taints")) {
        (Some(name), Some(taints)) => {
            let base = r.address.wrapping_sub(name.offset);
            let want = base.wrapping_add(taints.offset);
            all.iter().any(|o| o.address == want)
        }
        _ => true,
    }
}

fn check_last_unloaded(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    let ty = TypeRef::TypeOf("last_unloaded_module");
    // 6.0+: a struct whose `name` the code loads; before, the char array itself.
    let name_size = match c.src.member(ty, "name") {
        Some(m) => m.size,
        None => c
            .src
            .size_of(ty)
            .ok_or("no type of last_unloaded_module in the BTF")?,
    };
    let name = c.name(addr, name_size, module_name_char)?;
    let mut seen = if name.is_empty() {
        "an empty name (no module unloaded)".to_string()
    } else {
        format!("the module name {name:?}")
    };
    if let (Some(n), Some(t)) = (c.src.member(ty, "name"), c.src.member(ty, "taints")) {
        let taints = c.name(
            addr.wrapping_sub(n.offset).wrapping_add(t.offset),
            t.size,
            |b| b.is_ascii_uppercase() || b == b'(' || b == b')',
        )?;
        seen.push_str(&format!(" and taints {taints:?}"));
    }
    Ok(seen)
}

fn check_sig_enforce(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    let mut b = [0u8; 1];
    c.read(addr, &mut b)?;
    match b[0] {
        0 | 1 => Ok(format!("a bool, {}", b[0] == 1)),
        v => Err(format!("{v:#x} is no bool")),
    }
}

fn check_locked_down(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    aligned(addr, 4)?;
    let v = c.u32(addr)?;
    let max = c
        .src
        .enumerator("LOCKDOWN_CONFIDENTIALITY_MAX")
        .ok_or("no LOCKDOWN_CONFIDENTIALITY_MAX in the BTF")?;
    if i64::from(v) > max {
        return Err(format!("{v} is above LOCKDOWN_CONFIDENTIALITY_MAX ({max})"));
    }
    Ok(format!("{v}, an enum lockdown_reason (at most {max})"))
}

fn check_panic_cpu(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    aligned(addr, 4)?;
    let v = c.u32(addr)? as i32;
    // PANIC_CPU_INVALID, or a CPU number (CONFIG_NR_CPUS is at most 8192 on any architecture).
    if v == -1 || (0..8192).contains(&v) {
        Ok(if v == -1 {
            "-1 (no panic)".to_string()
        } else {
            format!("CPU {v}")
        })
    } else {
        Err(format!("{v} is neither -1 nor a CPU number"))
    }
}

/// A keyring pointer: a `struct key` whose description is `want`.
fn check_keyring(c: &Checker<'_>, addr: u64, want: &str) -> Result<String, String> {
    aligned(addr, 8)?;
    let key = c.u64(addr)?;
    if key >> 63 != 1 {
        return Err(format!("{key:#x} is no pointer to a keyring"));
    }
    let desc = c.member(TypeRef::Struct("key"), "description")?.offset;
    let p = c.u64(key.wrapping_add(desc))?;
    let name = c.name(p, 64, |b| b.is_ascii_graphic())?;
    if name != want {
        return Err(format!("the key it points to is {name:?}, not {want:?}"));
    }
    Ok(format!("points to the keyring {name:?} at {key:#x}"))
}

/// `module_alloc_base`: a page-aligned kernel address within reach of the kernel's text (modules call into
/// it with 32-bit relative branches and PLTs: within 4 GiB of `_etext`).
fn check_module_alloc_base(c: &Checker<'_>, addr: u64) -> Result<String, String> {
    aligned(addr, 8)?;
    let base = c.u64(addr)?;
    let etext = c.src.symbol("_etext").ok_or("no `_etext` in kallsyms")?;
    if base >> 63 != 1 || base % 4096 != 0 || base.abs_diff(etext) >= 4 << 30 {
        return Err(format!(
            "{base:#x} is no page-aligned kernel address within 4 GiB of _etext"
        ));
    }
    Ok(format!(
        "{base:#x}, page-aligned, {:#x} from _etext",
        base.abs_diff(etext)
    ))
}

impl SymbolSource for CodeRecovery<'_> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn origin(&self) -> String {
        self.inner.origin()
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        if let Some(a) = self.inner.symbol(name) {
            return Some(a);
        }
        let i = WANTED.iter().position(|w| w.name == name)?;
        self.recover(i).address
    }

    fn symbol_extent(&self, name: &str) -> Option<u64> {
        self.inner.symbol_extent(name)
    }

    fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
        self.inner.size_of(ty)
    }

    fn member(&self, ty: TypeRef<'_>, path: &str) -> Option<Member> {
        self.inner.member(ty, path)
    }

    fn enumerator(&self, name: &str) -> Option<i64> {
        self.inner.enumerator(name)
    }

    fn symbol_at(&self, addr: u64) -> Option<SymbolAt> {
        self.inner.symbol_at(addr)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use kmem::ReadError;

    use super::*;

    // Addresses of Debian's 6.1.0-56-cloud-arm64 image (its debug vmlinux, no KASLR slide).
    const ETEXT: u64 = 0xffff_8000_08be_0000;
    const INIT_BEGIN: u64 = 0xffff_8000_0939_0000;
    const EINITTEXT: u64 = 0xffff_8000_093f_4c0c;
    const GET_TAINT: u64 = 0xffff_8000_0809_3790;
    const TAINTED_MASK: u64 = 0xffff_8000_09a1_8c20;
    const SIG_ENFORCED: u64 = 0xffff_8000_0815_3040;

    /// Symbols, extents and types a test gives, and memory regions.
    #[derive(Default)]
    struct Fake {
        symbols: HashMap<&'static str, (u64, u64)>,
        sizes: HashMap<String, u64>,
        memory: BTreeMap<u64, Vec<u8>>,
    }

    impl Fake {
        fn new() -> Fake {
            let mut f = Fake::default();
            f.symbols.insert("_etext", (ETEXT, 0x100));
            f.symbols.insert("__init_begin", (INIT_BEGIN, 0x20));
            f.symbols.insert("_einittext", (EINITTEXT, 0x20));
            // 19 taint flags of 24 bytes (6.1).
            f.sizes
                .insert(TypeRef::TypeOf("taint_flags").to_string(), 19 * 24);
            f.sizes
                .insert(TypeRef::Struct("taint_flag").to_string(), 24);
            f
        }

        fn function(&mut self, name: &'static str, at: u64, words: &[u32]) {
            self.symbols.insert(name, (at, 4 * words.len() as u64));
            self.map(at, words.iter().flat_map(|w| w.to_le_bytes()).collect());
        }

        fn map(&mut self, at: u64, bytes: Vec<u8>) {
            self.memory.insert(at, bytes);
        }

        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            let (start, bytes) =
                self.memory
                    .range(..=addr)
                    .next_back()
                    .ok_or(ReadError::Unmapped {
                        vaddr: addr,
                        detail: "not in the test's memory",
                    })?;
            let off = (addr - start) as usize;
            let src = bytes.get(off..off + buf.len()).ok_or(ReadError::Unmapped {
                vaddr: addr,
                detail: "not in the test's memory",
            })?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    impl SymbolSource for Fake {
        fn kind(&self) -> &'static str {
            "btf"
        }
        fn origin(&self) -> String {
            "dump".into()
        }
        fn symbol(&self, name: &str) -> Option<u64> {
            self.symbols.get(name).map(|s| s.0)
        }
        fn symbol_extent(&self, name: &str) -> Option<u64> {
            self.symbols.get(name).map(|s| s.1)
        }
        fn size_of(&self, ty: TypeRef<'_>) -> Option<u64> {
            self.sizes.get(&ty.to_string()).copied()
        }
        fn member(&self, _: TypeRef<'_>, _: &str) -> Option<Member> {
            None
        }
        fn enumerator(&self, _: &str) -> Option<i64> {
            None
        }
    }

    /// get_taint: nop; nop; adrp x0, 0xffff800009a18000; paciasp; autiasp; ldr x0, [x0, #3104]; ret.
    const GET_TAINT_CODE: [u32; 7] = [
        0xd503201f, 0xd503201f, 0xb000cc20, 0xd503233f, 0xd50323bf, 0xf9461000, 0xd65f03c0,
    ];

    fn recover(f: &Fake, name: &str) -> (Option<u64>, Vec<Outcome>) {
        let memory = |addr: u64, buf: &mut [u8]| f.read(addr, buf);
        let r = CodeRecovery::new(f, &memory);
        (r.symbol(name), r.outcomes())
    }

    #[test]
    fn tainted_mask_from_get_taint() {
        let mut f = Fake::new();
        f.function("get_taint", GET_TAINT, &GET_TAINT_CODE);
        f.map(TAINTED_MASK, 0x3201u64.to_le_bytes().to_vec());
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, Some(TAINTED_MASK));
        assert_eq!(outcomes.len(), 1);
        let note = &outcomes[0].note;
        assert!(
            note.starts_with("`tainted_mask` at 0xffff800009a18c20: recovered from get_taint's code (8-byte load at get_taint+0x14)")
                && note.contains("0x3201 has only known taint flag bits (the kernel has 19)"),
            "{note}"
        );
    }

    #[test]
    fn a_value_the_kernel_cannot_have_written_is_no_match() {
        let mut f = Fake::new();
        f.function("get_taint", GET_TAINT, &GET_TAINT_CODE);
        f.map(TAINTED_MASK, (1u64 << 40).to_le_bytes().to_vec());
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, None);
        let o = &outcomes[0];
        assert!(o.has_accessor);
        assert!(
            o.note.contains("no candidate passed")
                && o.note.contains("beyond the kernel's 19 taint flags")
                && o.note.contains("no `print_tainted` in kallsyms"),
            "{}",
            o.note
        );
    }

    #[test]
    fn unreadable_code_or_data_is_said() {
        let mut f = Fake::new();
        f.symbols.insert("get_taint", (GET_TAINT, 32));
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, None);
        assert!(outcomes[0]
            .note
            .contains("get_taint's code: 0xffff800008093790 unreadable"));
        f.function("get_taint", GET_TAINT, &GET_TAINT_CODE);
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, None);
        assert!(
            outcomes[0].note.contains("0xffff800009a18c20 unreadable"),
            "{}",
            outcomes[0].note
        );
    }

    #[test]
    fn two_candidates_that_pass_are_ambiguous() {
        // is_module_sig_enforced reading two bytes, both 0 or 1: which one is sig_enforce cannot be told.
        // adrp x0, 0xffff800009a41000; ldrb w0, [x0, #1856]; ldrb w1, [x0, #1857]; ret
        let mut f = Fake::new();
        f.function(
            "is_module_sig_enforced",
            SIG_ENFORCED,
            &[0xd000c760, 0x395d0001, 0x395d0400, 0xd65f03c0],
        );
        f.map(0xffff_8000_09a4_1740, vec![1, 0]);
        let (a, outcomes) = recover(&f, "sig_enforce");
        assert_eq!(a, None);
        assert!(
            outcomes[0]
                .note
                .contains("2 candidates pass (0xffff800009a41740, 0xffff800009a41741): ambiguous"),
            "{}",
            outcomes[0].note
        );
        // One of them no bool: the other is the variable.
        f.map(0xffff_8000_09a4_1740, vec![7, 1]);
        let (a, _) = recover(&f, "sig_enforce");
        assert_eq!(a, Some(0xffff_8000_09a4_1741));
    }

    #[test]
    fn references_outside_the_image_data_are_not_candidates() {
        // get_taint loading from the text (adrp x0, its own page; ldr x0, [x0, #8]).
        let mut f = Fake::new();
        f.function(
            "get_taint",
            GET_TAINT,
            &[0x90000000, 0xf9400400, 0xd65f03c0],
        );
        f.map(GET_TAINT & !0xfff, vec![0; 0x1000]);
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, None);
        assert!(outcomes[0]
            .note
            .contains("no reference of the kind expected"));
    }

    #[test]
    fn known_symbols_and_other_names_are_not_recovered() {
        let mut f = Fake::new();
        f.function("get_taint", GET_TAINT, &GET_TAINT_CODE);
        f.symbols.insert("tainted_mask", (0x1234, 8));
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, Some(0x1234));
        assert!(outcomes.is_empty());
        let (a, outcomes) = recover(&f, "init_task");
        assert_eq!(a, None);
        assert!(outcomes.is_empty());
        // No function that uses it: nothing tried, nothing to complain about.
        let (a, outcomes) = recover(&Fake::new(), "kernel_locked_down");
        assert_eq!(a, None);
        assert!(!outcomes[0].has_accessor);
    }

    #[test]
    fn a_function_extent_is_bounded() {
        let mut f = Fake::new();
        f.function("get_taint", GET_TAINT, &GET_TAINT_CODE);
        f.map(TAINTED_MASK, 0u64.to_le_bytes().to_vec());
        // A kallsyms extent of 1 GiB (a corrupt table): 16 KiB are read, past the mapped code: unreadable.
        f.symbols.insert("get_taint", (GET_TAINT, 1 << 30));
        let (a, outcomes) = recover(&f, "tainted_mask");
        assert_eq!(a, None);
        assert!(
            outcomes[0].note.contains("unreadable"),
            "{}",
            outcomes[0].note
        );
    }
}
