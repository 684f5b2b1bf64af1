//! Loaded modules: a defensive walk of the global `modules` list.
//!
//! Per module: name, state, taint letters (as `module_flags_taint()` prints them through the dump's taint
//! table, see [`TaintTable::module_letters`]), signature status (`sig_ok`, absent without
//! CONFIG_MODULE_SIG), memory as `/proc/modules` reports it, and the `version`/`srcversion` strings.
//!
//! Memory, per layout (checked against kernel/module/procfs.c `m_show()` and its predecessors):
//! - 6.4+ `mem[]`: base `mem[MOD_TEXT].base`, size the sum of every `mem[type].size`;
//! - 4.5-6.3 `core_layout`: base `core_layout.base`, size `core_layout.size + init_layout.size`
//!   (`+ data_layout.size` where that member exists, 6.2-6.3 with ARCH_WANTS_MODULES_DATA_IN_VMALLOC);
//! - older: base `module_core`, size `core_size + init_size`.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::modules::analyze_modules;
//! use analyzers::taint::read_taint_table;
//! let t = FakeTarget::new(); // no `modules` symbol
//! let table = read_taint_table(&t);
//! assert!(analyze_modules(&t, &table).is_err());
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::memread::{read_char_field, read_cstr, walk_list};
use crate::report::AnalyzerError;
use crate::taint::TaintTable;
use crate::target::{Member, Target, TypeRef};

/// Upper bound on list entries walked (a real system has a few hundred modules).
pub const MAX_MODULES: usize = 65536;
/// Longest `version`/`srcversion` string read.
const MAX_VERSION_LEN: usize = 128;
/// Upper bound on a `char name[]` read in place.
const MAX_NAME_LEN: u64 = 256;

/// One loaded module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub name: String,
    /// `LIVE`, `COMING`, `GOING`, `UNFORMED`, or `unknown (N)`.
    pub state: String,
    /// Taint letters, e.g. `"POE"` (empty when untainted).
    pub taints: String,
    /// `sig_ok`; `None` when the kernel has no such member (no CONFIG_MODULE_SIG).
    pub signed: Option<bool>,
    /// Start of the module's core text, as `/proc/modules` shows it. In JSON a hex string: kernel addresses
    /// exceed 2^53 and would lose precision as JSON numbers in many consumers.
    #[serde(
        serialize_with = "crate::hex::opt",
        deserialize_with = "crate::hex::read_opt"
    )]
    pub base: Option<u64>,
    pub size: Option<u64>,
    pub version: Option<String>,
    pub srcversion: Option<String>,
    /// Address of the `struct module` (hex string in JSON).
    #[serde(
        serialize_with = "crate::hex::one",
        deserialize_with = "crate::hex::read_one"
    )]
    pub address: u64,
    /// Its parameters at crash time (`kp`/`num_kp`); `None` when the kernel's types have no `kp`.
    #[serde(default)]
    pub parameters: Option<Vec<crate::module_params::ModuleParam>>,
    /// The raw `taints` bitmask (not in the JSON contract, 0 when read back from it; used to attribute flags).
    #[serde(skip)]
    pub taint_mask: u64,
}

/// The walk's result: every module that could be read, and what could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Modules {
    pub modules: Vec<ModuleInfo>,
    pub problems: Vec<String>,
}

/// Where module memory is described, per kernel generation.
#[derive(Debug, Clone, Copy)]
enum MemLayout {
    /// 6.4+: `struct module_memory mem[MOD_MEM_NUM_TYPES]`.
    MemArray {
        off: u64,
        count: u64,
        stride: u64,
        base: Member,
        size: Member,
        text: u64,
    },
    /// 4.5-6.3: `struct module_layout core_layout, init_layout[, data_layout]`.
    Layouts {
        base: Member,
        sizes: [Option<Member>; 3],
    },
    /// Before 4.5: `void *module_core; unsigned int core_size, init_size`.
    Flat {
        base: Member,
        sizes: [Option<Member>; 2],
    },
    Unknown,
}

/// Offsets of `struct module` learned once from the target.
#[derive(Debug, Clone)]
struct ModuleLayout {
    list: u64,
    name: Member,
    state: Option<Member>,
    taints: Option<Member>,
    sig_ok: Option<Member>,
    mkobj_mod: Option<Member>,
    version: Option<Member>,
    srcversion: Option<Member>,
    mem: MemLayout,
    state_names: HashMap<i64, &'static str>,
}

const MODULE: TypeRef<'static> = TypeRef::Struct("module");

impl ModuleLayout {
    fn learn(t: &dyn Target) -> Result<Self, AnalyzerError> {
        let need = |path: &str| {
            t.member(MODULE, path)
                .ok_or_else(|| AnalyzerError::MissingType(format!("struct module.{path}")))
        };
        let list = need("list")?.offset;
        let name = need("name")?;
        let mut state_names = HashMap::new();
        for (n, default) in [("LIVE", 0), ("COMING", 1), ("GOING", 2), ("UNFORMED", 3)] {
            let v = t
                .enumerator(&format!("MODULE_STATE_{n}"))
                .unwrap_or(default);
            state_names.insert(v, n);
        }
        Ok(ModuleLayout {
            list,
            name,
            state: t.member(MODULE, "state"),
            taints: t.member(MODULE, "taints"),
            sig_ok: t.member(MODULE, "sig_ok"),
            mkobj_mod: t.member(MODULE, "mkobj.mod"),
            version: t.member(MODULE, "version"),
            srcversion: t.member(MODULE, "srcversion"),
            mem: Self::learn_mem(t),
            state_names,
        })
    }

    fn learn_mem(t: &dyn Target) -> MemLayout {
        if let Some(mem) = t.member(MODULE, "mem") {
            let mm = TypeRef::Struct("module_memory");
            let count = mem.array_len.unwrap_or(0);
            let stride = t
                .size_of(mm)
                .or_else(|| (count > 0).then(|| mem.size / count))
                .unwrap_or(0);
            if let (Some(base), Some(size)) = (t.member(mm, "base"), t.member(mm, "size")) {
                if count > 0 && count <= 64 && stride > 0 {
                    let text = t.enumerator("MOD_TEXT").unwrap_or(0).max(0) as u64;
                    return MemLayout::MemArray {
                        off: mem.offset,
                        count,
                        stride,
                        base,
                        size,
                        text,
                    };
                }
            }
        }
        if let Some(base) = t.member(MODULE, "core_layout.base") {
            return MemLayout::Layouts {
                base,
                sizes: [
                    t.member(MODULE, "core_layout.size"),
                    t.member(MODULE, "init_layout.size"),
                    t.member(MODULE, "data_layout.size"),
                ],
            };
        }
        if let Some(base) = t.member(MODULE, "module_core") {
            return MemLayout::Flat {
                base,
                sizes: [t.member(MODULE, "core_size"), t.member(MODULE, "init_size")],
            };
        }
        MemLayout::Unknown
    }
}

/// Walk `modules` and read every entry.
///
/// Errors only when the list itself cannot be found (no `modules` symbol, no `struct module` layout);
/// everything else (unreadable entries, cycles, inconsistent members) lands in [`Modules::problems`].
pub fn analyze_modules(t: &dyn Target, table: &TaintTable) -> Result<Modules, AnalyzerError> {
    let head = t
        .symbol("modules")
        .ok_or_else(|| AnalyzerError::MissingSymbol("modules".into()))?;
    let layout = ModuleLayout::learn(t)?;
    let walk = walk_list(t, head, MAX_MODULES);
    let addrs: Vec<u64> = walk
        .nodes
        .iter()
        .map(|node| node.wrapping_sub(layout.list))
        .collect();
    Ok(read_modules(t, &layout, table, &addrs, walk.problems))
}

/// Read the `struct module`s at `addrs`, which a front end learned without the `modules` list head (a live
/// kernel whose kallsyms has no data symbols gives each module's address in
/// `/sys/module/NAME/sections/.gnu.linkonce.this_module`). At most [`MAX_MODULES`]; an address that does not
/// hold a module (a name the kernel cannot have written) is left out and named in [`Modules::problems`], as
/// are modules whose `mkobj.mod` does not point back at them.
///
/// ```
/// # use analyzers::fake::FakeTarget;
/// let t = FakeTarget::new();
/// let table = analyzers::taint::read_taint_table(&t);
/// // No `struct module` layout at all: an error, not a guess.
/// assert!(analyzers::modules::analyze_modules_at(&t, &table, &[0xffff_0000_1000]).is_err());
/// ```
pub fn analyze_modules_at(
    t: &dyn Target,
    table: &TaintTable,
    addrs: &[u64],
) -> Result<Modules, AnalyzerError> {
    let layout = ModuleLayout::learn(t)?;
    let mut problems = Vec::new();
    if addrs.len() > MAX_MODULES {
        problems.push(format!(
            "{} module addresses given: read the first {MAX_MODULES}",
            addrs.len()
        ));
    }
    let addrs = &addrs[..addrs.len().min(MAX_MODULES)];
    Ok(read_modules(t, &layout, table, addrs, problems))
}

fn read_modules(
    t: &dyn Target,
    layout: &ModuleLayout,
    table: &TaintTable,
    addrs: &[u64],
    mut problems: Vec<String>,
) -> Modules {
    let params = crate::module_params::ParamLayout::learn(t);
    let mut modules = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        match read_module(t, layout, table, addr, &mut problems) {
            Ok(mut m) => {
                if let Some(pl) = &params {
                    let (list, why) = crate::module_params::read_params(t, pl, addr);
                    problems.extend(
                        why.into_iter()
                            .map(|w| format!("module {:?} parameters: {w}", m.name)),
                    );
                    m.parameters = Some(list);
                }
                modules.push(m)
            }
            Err(e) => problems.push(format!("module at {addr:#x}: {e}")),
        }
    }
    Modules { modules, problems }
}

fn field(t: &dyn Target, addr: u64, m: &Member) -> Result<u64, AnalyzerError> {
    t.read_uint(addr.wrapping_add(m.offset), m.size.clamp(1, 8))
        .map_err(|source| AnalyzerError::Read {
            what: "struct module member".into(),
            source,
        })
}

fn read_module(
    t: &dyn Target,
    l: &ModuleLayout,
    table: &TaintTable,
    addr: u64,
    problems: &mut Vec<String>,
) -> Result<ModuleInfo, AnalyzerError> {
    let field_name = read_char_field(
        t,
        addr.wrapping_add(l.name.offset),
        l.name.size,
        MAX_NAME_LEN,
    )
    .map_err(|source| AnalyzerError::Read {
        what: "struct module.name".into(),
        source,
    })?;
    // A name the kernel cannot have written means the list led into memory that is not a module:
    // the entry is left out rather than reported as a module.
    if let Some(why) = field_name.implausible(l.name.size) {
        return Err(AnalyzerError::Invalid(format!("struct module.name {why}")));
    }
    let name = field_name.text;
    let mut note = |what: String| problems.push(format!("module {name:?} at {addr:#x}: {what}"));

    if let Some(m) = &l.mkobj_mod {
        match field(t, addr, m) {
            Ok(back) if back == addr => {}
            Ok(back) => note(format!(
                "mkobj.mod is {back:#x}, not the module itself: the entry may be garbage"
            )),
            Err(e) => note(format!("mkobj.mod unreadable: {e}")),
        }
    }
    let state = match &l.state {
        Some(m) => match field(t, addr, m) {
            Ok(v) => {
                let v = v as u32 as i32 as i64;
                l.state_names
                    .get(&v)
                    .map_or_else(|| format!("unknown ({v})"), |s| s.to_string())
            }
            Err(e) => {
                note(format!("state unreadable: {e}"));
                "unreadable".into()
            }
        },
        None => "unknown".into(),
    };
    let taint_mask = match &l.taints {
        Some(m) => field(t, addr, m).unwrap_or_else(|e| {
            note(format!("taints unreadable: {e}"));
            0
        }),
        None => 0,
    };
    let signed = match &l.sig_ok {
        Some(m) => match field(t, addr, m) {
            Ok(v) => Some(v & 0xff != 0),
            Err(e) => {
                note(format!("sig_ok unreadable: {e}"));
                None
            }
        },
        None => None,
    };
    let mut string_at = |m: &Option<Member>, what: &str| -> Option<String> {
        let ptr = field(t, addr, m.as_ref()?)
            .map_err(|e| note(format!("{what} pointer unreadable: {e}")))
            .ok()?;
        if ptr == 0 {
            return None;
        }
        read_cstr(t, ptr, MAX_VERSION_LEN)
            .map_err(|e| note(format!("{what} string at {ptr:#x} unreadable: {e}")))
            .ok()
    };
    let version = string_at(&l.version, "version");
    let srcversion = string_at(&l.srcversion, "srcversion");
    let (base, size) = match memory(t, l, addr) {
        Ok(bs) => bs,
        Err(e) => {
            note(format!("memory layout unreadable: {e}"));
            (None, None)
        }
    };
    Ok(ModuleInfo {
        taints: table.module_letters(taint_mask),
        name,
        state,
        signed,
        base,
        size,
        version,
        srcversion,
        address: addr,
        parameters: None,
        taint_mask,
    })
}

/// (base, size) as `/proc/modules` shows them.
fn memory(
    t: &dyn Target,
    l: &ModuleLayout,
    addr: u64,
) -> Result<(Option<u64>, Option<u64>), AnalyzerError> {
    let sum = |sizes: &[Option<Member>]| -> Result<Option<u64>, AnalyzerError> {
        let mut total = None;
        for m in sizes.iter().flatten() {
            total = Some(total.unwrap_or(0) + field(t, addr, m)?);
        }
        Ok(total)
    };
    Ok(match l.mem {
        MemLayout::MemArray {
            off,
            count,
            stride,
            base,
            size,
            text,
        } => {
            let mut total = 0;
            let mut text_base = None;
            for i in 0..count {
                let elem = addr.wrapping_add(off + i * stride);
                total += field(t, elem, &size)?;
                if i == text {
                    text_base = Some(field(t, elem, &base)?);
                }
            }
            (text_base, Some(total))
        }
        MemLayout::Layouts { base, sizes } => (Some(field(t, addr, &base)?), sum(&sizes)?),
        MemLayout::Flat { base, sizes } => (Some(field(t, addr, &base)?), sum(&sizes)?),
        MemLayout::Unknown => (None, None),
    })
}
