//! Unloaded modules, and which module most likely set each flag no loaded module carries.
//!
//! Sources, strongest first:
//! - `last_unloaded_module`: a bare `char[MODULE_NAME_LEN + 1]` before 6.0; since 6.0 a
//!   `struct { char name[]; char taints[]; }` whose `taints` is `module_flags()` output, `"(POE)"` or `""`;
//! - `unloaded_tainted_modules` (CONFIG_MODULE_UNLOAD_TAINT_TRACKING, 5.19+): a list of
//!   `struct mod_unload_taint { list, name, taints (bitmask), count }`;
//! - taint events from the kernel log: `(letter, module)` pairs, e.g. from
//!   `X: loading out-of-tree module taints kernel.`.
//!
//! ```
//! use analyzers::unloaded::strip_parens;
//! assert_eq!(strip_parens("(POE)"), "POE");
//! assert_eq!(strip_parens(""), "");
//! ```

use serde::{Deserialize, Serialize};

use crate::memread::{read_char_field, walk_list, CharField};
use crate::modules::ModuleInfo;
use crate::report::AnalyzerError;
use crate::taint::{TaintFlag, TaintTable};
use crate::target::{Target, TypeRef};

/// Upper bound on `unloaded_tainted_modules` entries walked.
pub const MAX_UNLOADED: usize = 65536;
/// Bound on any `char[]` read in place here.
const MAX_CHARS: u64 = 256;
/// `MODULE_NAME_LEN + 1` on 64-bit, the size of the pre-6.0 array when no type says otherwise.
const OLD_LAST_UNLOADED_LEN: u64 = 57;

/// `last_unloaded_module`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUnloaded {
    pub name: String,
    /// Letters without parentheses (`"POE"`); `None` for the pre-6.0 form, which records no taints.
    pub taints: Option<String>,
    /// The kernel's own string (`"(POE)"`), `None` for the pre-6.0 form.
    pub taints_raw: Option<String>,
}

/// One `struct mod_unload_taint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnloadedTainted {
    pub name: String,
    /// Letters through the taint table, like a loaded module's.
    pub taints: String,
    /// How many times a module of this name with these taints was unloaded.
    pub count: u64,
    #[serde(skip)]
    pub taint_mask: u64,
}

/// What the dump says about unloaded modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unloaded {
    /// `None` when nothing was unloaded since boot (empty name) or the symbol is absent/unreadable.
    pub last_unloaded_module: Option<LastUnloaded>,
    /// `None` when the kernel has no `unloaded_tainted_modules` (CONFIG_MODULE_UNLOAD_TAINT_TRACKING off).
    pub unloaded_tainted_modules: Option<Vec<UnloadedTainted>>,
    pub problems: Vec<String>,
}

/// Why a module is named as the origin of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    LastUnloadedModule,
    UnloadedTaintedModules,
    KernelLog,
}

/// A flag no loaded module carries, attributed to a named module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnloadedHint {
    pub letter: char,
    pub bit: u32,
    pub module: String,
    pub evidence: Evidence,
    /// E.g. `"taints (POE)"` or `"unloaded 3 times"`.
    pub detail: Option<String>,
}

/// Attribution result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    pub hints: Vec<UnloadedHint>,
    /// Module-capable flags set in the mask that no loaded module carries and no evidence names.
    pub unexplained: Vec<TaintFlag>,
}

/// `"(POE)"` -> `"POE"`; anything else unchanged.
pub fn strip_parens(s: &str) -> &str {
    s.strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(s)
}

/// Read `last_unloaded_module` and `unloaded_tainted_modules`. Never fails: problems are collected.
pub fn read_unloaded(t: &dyn Target, table: &TaintTable) -> Unloaded {
    let mut problems = Vec::new();
    let last_unloaded_module = match read_last_unloaded(t, table, &mut problems) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("last_unloaded_module: {e}"));
            None
        }
    };
    let unloaded_tainted_modules = match read_unload_taint_list(t, table, &mut problems) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("unloaded_tainted_modules: {e}"));
            None
        }
    };
    Unloaded {
        last_unloaded_module,
        unloaded_tainted_modules,
        problems,
    }
}

fn read_last_unloaded(
    t: &dyn Target,
    table: &TaintTable,
    problems: &mut Vec<String>,
) -> Result<Option<LastUnloaded>, AnalyzerError> {
    let Some(addr) = t.symbol("last_unloaded_module") else {
        return Ok(None);
    };
    let ty = TypeRef::TypeOf("last_unloaded_module");
    let read = |off: u64, len: u64, what: &str| {
        read_char_field(t, addr.wrapping_add(off), len, MAX_CHARS).map_err(|source| {
            AnalyzerError::Read {
                what: format!("last_unloaded_module{what}"),
                source,
            }
        })
    };
    let (name, name_len, raw) = match t.member(ty, "name") {
        Some(name) => {
            let n = read(name.offset, name.size, ".name")?;
            let raw = match t.member(ty, "taints") {
                Some(m) => {
                    let f = read(m.offset, m.size, ".taints")?;
                    match f.implausible(m.size) {
                        Some(why) => {
                            problems.push(format!("last_unloaded_module.taints {why}"));
                            None
                        }
                        None => Some(f.text),
                    }
                }
                None => Some(String::new()),
            };
            (n, name.size, raw)
        }
        None => {
            let len = t.size_of(ty).unwrap_or(OLD_LAST_UNLOADED_LEN);
            // Before 6.0 the kernel kept the name only: no taints to report, and none to invent.
            (read(0, len, "")?, len, None)
        }
    };
    if let Some(why) = name.implausible(name_len) {
        problems.push(format!("last_unloaded_module.name {why}"));
        return Ok(None);
    }
    // `module_flags()` writes "(" + letters of the kernel's own table + ")", or nothing.
    let taints = raw.as_deref().and_then(|r| {
        let letters = strip_parens(r);
        let framed = r.is_empty() || (r.starts_with('(') && r.ends_with(')'));
        match letters.chars().find(|&c| table.bit_for_letter(c).is_none()) {
            _ if !framed => {
                problems.push(format!(
                    "last_unloaded_module.taints {r:?} is not the \"(LETTERS)\" the kernel writes"
                ));
                None
            }
            Some(c) if !table.entries.is_empty() => {
                problems.push(format!(
                    "last_unloaded_module.taints {r:?} holds {c:?}, a letter the kernel's taint table does not have"
                ));
                None
            }
            _ => Some(letters.to_string()),
        }
    });
    let last = LastUnloaded {
        name: name.text,
        taints_raw: taints.as_ref().and(raw),
        taints,
    };
    Ok((!last.name.is_empty()).then_some(last))
}

fn read_unload_taint_list(
    t: &dyn Target,
    table: &TaintTable,
    problems: &mut Vec<String>,
) -> Result<Option<Vec<UnloadedTainted>>, AnalyzerError> {
    let Some(head) = t.symbol("unloaded_tainted_modules") else {
        return Ok(None);
    };
    let ty = TypeRef::Struct("mod_unload_taint");
    let need = |m: &str| {
        t.member(ty, m)
            .ok_or_else(|| AnalyzerError::MissingType(format!("struct mod_unload_taint.{m}")))
    };
    let (list, name, taints, count) = (
        need("list")?,
        need("name")?,
        need("taints")?,
        need("count")?,
    );
    let walk = walk_list(t, head, MAX_UNLOADED);
    problems.extend(walk.problems);
    let mut out = Vec::new();
    for node in walk.nodes {
        let e = node.wrapping_sub(list.offset);
        let entry = (|| -> Result<(UnloadedTainted, CharField), crate::target::ReadError> {
            let n = read_char_field(t, e + name.offset, name.size, MAX_CHARS)?;
            let mask = t.read_uint(e + taints.offset, taints.size.clamp(1, 8))?;
            let c = t.read_uint(e + count.offset, count.size.clamp(1, 8))?;
            Ok((
                UnloadedTainted {
                    taints: table.module_letters(mask),
                    name: n.text.clone(),
                    count: c,
                    taint_mask: mask,
                },
                n,
            ))
        })();
        match entry {
            // What `try_add_tainted_module()` cannot have written: a garbled name, no unload counted,
            // or taints no module can set.
            Ok((_, n)) if n.implausible(name.size).is_some() => problems.push(format!(
                "mod_unload_taint at {e:#x}: name {}",
                n.implausible(name.size).unwrap_or_default()
            )),
            Ok((u, _)) if u.count == 0 => problems.push(format!(
                "mod_unload_taint at {e:#x} ({}): count 0, but an entry is made by an unload",
                u.name
            )),
            Ok((u, _))
                if !table.entries.is_empty()
                    && (u.taint_mask == 0 || u.taint_mask & !table.module_capable_mask() != 0) =>
            {
                problems.push(format!(
                    "mod_unload_taint at {e:#x} ({}): taints {:#x} are not module taints the kernel records",
                    u.name, u.taint_mask
                ))
            }
            Ok((u, _)) => out.push(u),
            Err(err) => problems.push(format!("mod_unload_taint at {e:#x} unreadable: {err}")),
        }
    }
    Ok(Some(out))
}

/// For every module-capable flag set in `tainted_mask` that no loaded module carries, name the modules the
/// evidence points at. Log events are `(letter, module)` pairs.
pub fn attribute_flags(
    tainted_mask: u64,
    table: &TaintTable,
    modules: &[ModuleInfo],
    unloaded: &Unloaded,
    log_events: &[(char, String)],
) -> Attribution {
    let loaded: u64 = modules.iter().fold(0, |m, x| m | x.taint_mask);
    let orphans = tainted_mask & table.module_capable_mask() & !loaded;
    let mut hints = Vec::new();
    let mut unexplained = Vec::new();
    for bit in (0..64).filter(|b| orphans & (1u64 << b) != 0) {
        let flag = table.flag(bit);
        let before = hints.len();
        let mut push = |module: &str, evidence, detail: Option<String>| {
            let dup = hints[before..]
                .iter()
                .any(|h: &UnloadedHint| h.module == module && h.evidence == evidence);
            if !dup {
                hints.push(UnloadedHint {
                    letter: flag.letter,
                    bit,
                    module: module.to_string(),
                    evidence,
                    detail,
                });
            }
        };
        if let Some(last) = &unloaded.last_unloaded_module {
            if let Some(letters) = &last.taints {
                if flag.letter != '?' && letters.contains(flag.letter) {
                    push(
                        &last.name,
                        Evidence::LastUnloadedModule,
                        last.taints_raw.as_ref().map(|r| format!("taints {r}")),
                    );
                }
            }
        }
        for u in unloaded.unloaded_tainted_modules.iter().flatten() {
            if u.taint_mask & (1u64 << bit) != 0 {
                push(
                    &u.name,
                    Evidence::UnloadedTaintedModules,
                    Some(format!(
                        "taints ({}), unloaded {} time(s)",
                        u.taints, u.count
                    )),
                );
            }
        }
        for (letter, module) in log_events {
            if flag.letter != '?' && *letter == flag.letter && !module.is_empty() {
                push(module, Evidence::KernelLog, None);
            }
        }
        if hints.len() == before {
            unexplained.push(flag);
        }
    }
    Attribution { hints, unexplained }
}
