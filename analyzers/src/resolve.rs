//! Code addresses to `symbol+offset` and owner, from the dump itself: vmlinux through the symbol source
//! ([`Target::symbol_at`]: `.symtab` or kallsyms), a module through its memory ranges (`mem[]` 6.4+,
//! `core_layout`/`init_layout` 4.5-6.3, `module_core`/`module_init` before) and its own in-memory symbol
//! table (`struct module` → `kallsyms` → `symtab`/`num_symtab`/`strtab`; the fields sit in `struct module`
//! itself before 4.6), so module addresses resolve with no module debuginfo. Only the symbol tables of the
//! modules an address falls in are read.
//!
//! An address in the module area that no loaded module owns is reported as such ([`Unowned`]): after
//! init the kernel frees a module's `__init` sections and clears their ranges, so a stored pointer to an
//! init function, or into an unloaded module, lands there.
//!
//! Everything read is untrusted: `num_symtab` is capped at [`MAX_MODULE_SYMBOLS`], names at 128 bytes, and
//! an unreadable table is a problem, not a guess.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::resolve::{Resolver, Resolution};
//! let t = FakeTarget::new();
//! let mut r = Resolver::new(&t, &[], None);
//! // Nothing known about the address: neither vmlinux nor a module area.
//! assert_eq!(r.resolve(0x1234), Resolution::Unknown);
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::crash_report::{CodeLocation, CrashReport, ResolvedBy};
use crate::memread::read_cstr;
use crate::modules::ModuleInfo;
use crate::target::{Target, TypeRef};

/// Most symbols read from one module's table (`num_symtab` comes from the dump).
pub const MAX_MODULE_SYMBOLS: u64 = 1 << 18;
/// Most addresses resolved per report (each may cost a module's symbol table once).
pub const MAX_ADDRESSES: usize = 512;
const SYM_SIZE: u64 = 24;
const MAX_SYM_NAME: usize = 128;
/// x86-64 `MODULES_VADDR`..`MODULES_END` (4- and 5-level paging alike); other architectures give theirs
/// in VMCOREINFO.
const X86_64_MODULES: (u64, u64) = (0xffff_ffff_c000_0000, 0xffff_ffff_ff00_0000);
/// arm64's module windows: the variable holding a window's base, and the window's size. Up to 6.5
/// `module_alloc_base` (128 MiB, or 2 GiB with module PLTs when that is full); from 6.6 `module_direct_base`
/// (128 MiB) and `module_plt_base` (2 GiB).
const ARM64_MODULE_WINDOWS: [(&str, u64); 3] = [
    ("module_alloc_base", 2 << 30),
    ("module_direct_base", 128 << 20),
    ("module_plt_base", 2 << 30),
];

/// One memory range of a loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Region {
    module: usize,
    start: u64,
    end: u64,
    init: bool,
}

/// A symbol of a module's own table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModSym {
    value: u64,
    size: u64,
    name_off: u32,
}

/// What an address is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// In vmlinux.
    Vmlinux {
        symbol: String,
        offset: u64,
        size: Option<u64>,
    },
    /// In a loaded module; `symbol` is `None` when its symbol table could not be read or has no symbol
    /// below the address.
    Module {
        module: String,
        symbol: Option<String>,
        offset: u64,
        size: Option<u64>,
        init: bool,
    },
    /// In the module area, owned by no loaded module.
    Unowned(Unowned),
    /// Nothing known.
    Unknown,
}

/// An address in the module area that belongs to no loaded module. JSON: `crash_site.unowned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unowned {
    #[serde(
        serialize_with = "crate::hex::one",
        deserialize_with = "crate::hex::read_one"
    )]
    pub address: u64,
    /// The loaded module whose memory ends closest below the address, and how far below.
    pub nearest_below: Option<(String, u64)>,
    /// The loaded module whose memory starts closest above the address, and how far above.
    pub nearest_above: Option<(String, u64)>,
    /// `last_unloaded_module`, the one module known to have left memory behind.
    pub last_unloaded: Option<String>,
}

/// Resolves addresses against one dump; module regions are read once, symbol tables on first use.
pub struct Resolver<'a> {
    t: &'a dyn Target,
    modules: &'a [ModuleInfo],
    last_unloaded: Option<String>,
    regions: Option<Vec<Region>>,
    symtabs: HashMap<usize, Option<(Vec<ModSym>, u64)>>,
    kernel_range: Option<(u64, u64)>,
    /// Where modules are allocated (the kernel image excepted, which arm64's windows contain).
    module_areas: Vec<(u64, u64)>,
    /// What could not be read.
    pub problems: Vec<String>,
}

impl<'a> Resolver<'a> {
    /// A resolver over `modules` (the dump's loaded modules) and the last unloaded module's name.
    pub fn new(
        t: &'a dyn Target,
        modules: &'a [ModuleInfo],
        last_unloaded: Option<String>,
    ) -> Self {
        let kernel_range = match (
            t.symbol("_text").or_else(|| t.symbol("_stext")),
            t.symbol("_end").or_else(|| t.symbol("_etext")),
        ) {
            (Some(a), Some(b)) if a < b => Some((a, b)),
            _ => None,
        };
        let num = |k: &str| {
            t.vmcoreinfo(&format!("NUMBER({k})"))
                .and_then(|v| parse_number(&v))
        };
        let mut module_areas: Vec<(u64, u64)> = match (num("MODULES_VADDR"), num("MODULES_END")) {
            (Some(a), Some(b)) if a < b => vec![(a, b)],
            _ => vec![X86_64_MODULES]
                .into_iter()
                .filter(|_| {
                    t.vmcoreinfo("NUMBER(VA_BITS)").is_none() // arm64 and others export VA_BITS
                })
                .collect(),
        };
        // arm64 with KASLR allocates modules near the randomized kernel image, not in VMCOREINFO's
        // MODULES_VADDR..MODULES_END (seen on Debian 6.1: modules at 0xffffb405..., MODULES_END
        // 0xffff800008000000): its module.c keeps the window's base in a variable.
        if t.vmcoreinfo("NUMBER(VA_BITS)").is_some() {
            for (var, size) in ARM64_MODULE_WINDOWS {
                if let Some(base) = t
                    .symbol(var)
                    .and_then(|a| t.read_u64(a).ok())
                    .filter(|&b| b >> 63 == 1)
                {
                    module_areas.push((base, base.saturating_add(size)));
                }
            }
        }
        Resolver {
            t,
            modules,
            last_unloaded,
            regions: None,
            symtabs: HashMap::new(),
            kernel_range,
            module_areas,
            problems: Vec::new(),
        }
    }

    fn regions(&mut self) -> &[Region] {
        if self.regions.is_none() {
            let mut all = Vec::new();
            for (i, m) in self.modules.iter().enumerate() {
                match module_ranges(self.t, m.address) {
                    Ok(rs) => all.extend(rs.into_iter().map(|(start, size, init)| Region {
                        module: i,
                        start,
                        end: start.saturating_add(size),
                        init,
                    })),
                    Err(e) => self.problems.push(format!(
                        "module {:?}: memory ranges unreadable: {e}",
                        m.name
                    )),
                }
            }
            self.regions = Some(all);
        }
        self.regions.as_deref().unwrap_or(&[])
    }

    /// What `addr` is.
    pub fn resolve(&mut self, addr: u64) -> Resolution {
        let hit = self
            .regions()
            .iter()
            .find(|r| r.start <= addr && addr < r.end)
            .cloned();
        if let Some(r) = hit {
            let module = self.modules[r.module].name.clone();
            let sym = self.module_symbol(r.module, addr);
            return match sym {
                Some((name, value, size)) => Resolution::Module {
                    module,
                    symbol: Some(name),
                    offset: addr - value,
                    size,
                    init: r.init,
                },
                None => Resolution::Module {
                    module,
                    symbol: None,
                    offset: addr - r.start,
                    size: None,
                    init: r.init,
                },
            };
        }
        let in_kernel = self
            .kernel_range
            .is_some_and(|(lo, hi)| lo <= addr && addr < hi);
        if !in_kernel
            && self
                .module_areas
                .iter()
                .any(|&(lo, hi)| lo <= addr && addr < hi)
        {
            return Resolution::Unowned(self.unowned(addr));
        }
        if let Some(s) = self.t.symbol_at(addr) {
            let inside_kernel = self
                .kernel_range
                .is_none_or(|(lo, hi)| lo <= addr && addr < hi);
            let inside_symbol = s.size.is_none_or(|sz| addr < s.address.saturating_add(sz));
            if inside_kernel && inside_symbol && s.address <= addr {
                return Resolution::Vmlinux {
                    symbol: s.name,
                    offset: addr - s.address,
                    size: s.size,
                };
            }
        }
        Resolution::Unknown
    }

    fn unowned(&mut self, addr: u64) -> Unowned {
        let regions = self.regions().to_vec();
        let below = regions
            .iter()
            .filter(|r| r.end <= addr)
            .min_by_key(|r| addr - r.end)
            .map(|r| (self.modules[r.module].name.clone(), addr - r.end));
        let above = regions
            .iter()
            .filter(|r| r.start > addr)
            .min_by_key(|r| r.start - addr)
            .map(|r| (self.modules[r.module].name.clone(), r.start - addr));
        Unowned {
            address: addr,
            nearest_below: below,
            nearest_above: above,
            last_unloaded: self.last_unloaded.clone(),
        }
    }

    /// `(name, start, size)` of the module's symbol containing `addr`, else the nearest below it.
    fn module_symbol(&mut self, module: usize, addr: u64) -> Option<(String, u64, Option<u64>)> {
        if !self.symtabs.contains_key(&module) {
            let m = &self.modules[module];
            let table = match read_module_symtab(self.t, m.address) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problems
                        .push(format!("module {:?}: symbol table unreadable: {e}", m.name));
                    None
                }
            };
            self.symtabs.insert(module, table);
        }
        let (syms, strtab) = self.symtabs.get(&module)?.as_ref()?;
        let inside = |s: &&ModSym| s.value <= addr && addr < s.value.saturating_add(s.size);
        let best = syms.iter().find(inside).or_else(|| {
            syms.iter()
                .filter(|s| s.value <= addr)
                .max_by_key(|s| s.value)
        })?;
        let name = read_cstr(
            self.t,
            strtab.wrapping_add(best.name_off as u64),
            MAX_SYM_NAME,
        )
        .ok()
        .filter(|n| !n.is_empty())?;
        Some((name, best.value, (best.size > 0).then_some(best.size)))
    }

    /// Fills `loc` (symbol, offset, size, module) when it has a bare address; returns the unowned address
    /// when it is one.
    pub fn fill(&mut self, loc: &mut CodeLocation) -> Option<Unowned> {
        let addr = loc.address.filter(|_| loc.symbol.is_none())?;
        match self.resolve(addr) {
            Resolution::Vmlinux {
                symbol,
                offset,
                size,
            } => {
                loc.symbol = Some(symbol);
                loc.offset = Some(offset);
                loc.size = size;
                loc.module = None;
                loc.resolved_by = Some(ResolvedBy::VmlinuxSymbols);
                None
            }
            Resolution::Module {
                module,
                symbol,
                offset,
                size,
                init: _,
            } => {
                loc.symbol = symbol;
                loc.offset = Some(offset);
                loc.size = size;
                loc.module = Some(module);
                loc.resolved_by = Some(ResolvedBy::ModuleSymtab);
                None
            }
            Resolution::Unowned(u) => {
                loc.resolved_by = Some(ResolvedBy::NoLoadedModule);
                Some(u)
            }
            Resolution::Unknown => None,
        }
    }
}

/// Resolves the bare addresses of the crash reports (registers, link register, call-trace frames), newest
/// report first, at most [`MAX_ADDRESSES`]. Returns the unowned addresses met, and the problems.
pub fn resolve_reports(
    t: &dyn Target,
    modules: &[ModuleInfo],
    last_unloaded: Option<String>,
    reports: &mut [CrashReport],
) -> (Vec<Unowned>, Vec<String>) {
    let bare = |l: &CodeLocation| l.address.is_some() && l.symbol.is_none();
    if !reports.iter().any(|r| {
        r.location.as_ref().is_some_and(bare)
            || r.link_register.as_ref().is_some_and(bare)
            || r.call_trace.iter().any(|f| bare(&f.location))
    }) {
        return (Vec::new(), Vec::new());
    }
    let mut res = Resolver::new(t, modules, last_unloaded);
    let mut unowned: Vec<Unowned> = Vec::new();
    let mut budget = MAX_ADDRESSES;
    'reports: for r in reports.iter_mut().rev() {
        let locs = r
            .location
            .iter_mut()
            .chain(r.link_register.iter_mut())
            .chain(r.call_trace.iter_mut().map(|f| &mut f.location));
        for l in locs {
            if !bare(l) {
                continue;
            }
            if budget == 0 {
                res.problems.push(format!(
                    "more than {MAX_ADDRESSES} bare addresses in the log's crash reports; the rest stay unresolved"
                ));
                break 'reports;
            }
            budget -= 1;
            if let Some(u) = res.fill(l) {
                if !unowned.iter().any(|x| x.address == u.address) {
                    unowned.push(u);
                }
            }
        }
    }
    (unowned, res.problems)
}

/// A VMCOREINFO `NUMBER()` value: `0x`-prefixed hex (arm64's MODULES_VADDR) or decimal.
fn parse_number(v: &str) -> Option<u64> {
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v
            .parse::<u64>()
            .ok()
            .or_else(|| v.parse::<i64>().ok().map(|n| n as u64)),
    }
}

/// `(start, size, init)` of each memory range of the module at `module`.
fn module_ranges(t: &dyn Target, module: u64) -> Result<Vec<(u64, u64, bool)>, String> {
    let m = TypeRef::Struct("module");
    let rd = |off: u64, size: u64| {
        t.read_uint(module.wrapping_add(off), size.clamp(1, 8))
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    if let Some(mem) = t.member(m, "mem") {
        let mm = TypeRef::Struct("module_memory");
        let count = mem.array_len.unwrap_or(0).min(64);
        let stride = t
            .size_of(mm)
            .or_else(|| (count > 0).then(|| mem.size / count))
            .unwrap_or(0);
        let (Some(base), Some(size)) = (t.member(mm, "base"), t.member(mm, "size")) else {
            return Err("struct module_memory has no base/size".into());
        };
        let first_init = t.enumerator("MOD_INIT_TEXT").unwrap_or(4).max(0) as u64;
        for i in 0..count {
            let e = mem.offset + i * stride;
            out.push((
                rd(e + base.offset, base.size)?,
                rd(e + size.offset, size.size)?,
                i >= first_init,
            ));
        }
    } else if let Some(base) = t.member(m, "core_layout.base") {
        for (layout, init) in [
            ("core_layout", false),
            ("init_layout", true),
            ("data_layout", false),
        ] {
            let (Some(b), Some(s)) = (
                t.member(m, &format!("{layout}.base")),
                t.member(m, &format!("{layout}.size")),
            ) else {
                continue;
            };
            out.push((rd(b.offset, b.size)?, rd(s.offset, s.size)?, init));
        }
        let _ = base;
    } else {
        for (b, s, init) in [
            ("module_core", "core_size", false),
            ("module_init", "init_size", true),
        ] {
            if let (Some(b), Some(s)) = (t.member(m, b), t.member(m, s)) {
                out.push((rd(b.offset, b.size)?, rd(s.offset, s.size)?, init));
            }
        }
    }
    // A cleared (freed init) or absurd range owns nothing.
    out.retain(|&(start, size, _)| start != 0 && size != 0 && size < (1 << 32));
    Ok(out)
}

/// The module's symbol table: its function/object symbols with values, and the string table address.
fn read_module_symtab(t: &dyn Target, module: u64) -> Result<(Vec<ModSym>, u64), String> {
    let m = TypeRef::Struct("module");
    let rd = |addr: u64, size: u64| {
        t.read_uint(addr, size.clamp(1, 8))
            .map_err(|e| e.to_string())
    };
    let (base, ty) = match t.member(m, "kallsyms") {
        Some(k) => {
            let p = rd(module.wrapping_add(k.offset), 8)?;
            if p == 0 {
                return Err("kallsyms is NULL".into());
            }
            (p, TypeRef::Struct("mod_kallsyms"))
        }
        None => (module, m),
    };
    let need = |f: &str| {
        t.member(ty, f)
            .ok_or_else(|| format!("no {ty}.{f} in the kernel's types"))
    };
    let (symtab_m, num_m, strtab_m) = (need("symtab")?, need("num_symtab")?, need("strtab")?);
    let symtab = rd(base.wrapping_add(symtab_m.offset), 8)?;
    let num = rd(base.wrapping_add(num_m.offset), num_m.size)? & 0xffff_ffff;
    let strtab = rd(base.wrapping_add(strtab_m.offset), 8)?;
    if num > MAX_MODULE_SYMBOLS {
        return Err(format!(
            "num_symtab is {num}, more than any module has (limit {MAX_MODULE_SYMBOLS})"
        ));
    }
    if symtab == 0 || strtab == 0 {
        return Err("symtab or strtab is NULL".into());
    }
    let mut syms = Vec::new();
    let mut buf = vec![0u8; 4096 / SYM_SIZE as usize * SYM_SIZE as usize];
    let per = buf.len() as u64 / SYM_SIZE;
    let mut i = 0;
    while i < num {
        let n = per.min(num - i);
        let chunk = &mut buf[..(n * SYM_SIZE) as usize];
        t.read(symtab.wrapping_add(i * SYM_SIZE), chunk)
            .map_err(|e| {
                format!(
                    "symbol {i} at {:#x}: {e}",
                    symtab.wrapping_add(i * SYM_SIZE)
                )
            })?;
        for s in chunk.chunks_exact(SYM_SIZE as usize) {
            let name_off = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            let info = s[4];
            let shndx = u16::from_le_bytes([s[6], s[7]]);
            let value = u64::from_le_bytes(s[8..16].try_into().unwrap_or([0; 8]));
            let size = u64::from_le_bytes(s[16..24].try_into().unwrap_or([0; 8]));
            let kind = info & 0xf;
            // Functions, objects and untyped labels that are defined (not SHN_UNDEF) and named.
            if shndx != 0 && name_off != 0 && value != 0 && matches!(kind, 0..=2) {
                syms.push(ModSym {
                    value,
                    size,
                    name_off,
                });
            }
        }
        i += n;
    }
    Ok((syms, strtab))
}
