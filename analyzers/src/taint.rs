//! Kernel taint: `tainted_mask` decoded through the dump's own flag table.
//!
//! The table is read from the dump first, because distributions add their own bits and letters:
//! `taint_flags[]` (4.10+; `{c_true, c_false, module}`, 6.11 adds `desc`, 6.19 drops `module`) or `tnts[]`
//! (2.6.28-4.9; `{bit, true, false}`). Field presence and strides come from the [`Target`]'s type
//! information, never from version numbers. Only when no table can be read does a built-in table decode the
//! mask, and [`TaintSource`] says so.
//!
//! The taint string is rebuilt the way `print_tainted()` builds it: `"Not tainted"` when the mask is 0, else
//! `"Tainted: "` and one column per table entry, in table order, `c_true` when the entry's bit is set and
//! `c_false` otherwise (checked against the 6.1 machine code: the loop runs over all `TAINT_FLAGS_COUNT`
//! entries and writes exactly one byte each). All-zero entries (holes a distribution left in the array)
//! are skipped, as SUSE's fixed `print_tainted()` does.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::taint::{analyze_taint, TaintSource};
//! let mut t = FakeTarget::new();
//! t.map(0x1000, 0x3201u64.to_le_bytes().to_vec());
//! t.add_symbol("tainted_mask", 0x1000);
//! // no taint_flags[] in this target: the built-in table decodes the mask
//! let r = analyze_taint(&t).unwrap();
//! assert_eq!(r.source, TaintSource::BuiltinMainline);
//! assert_eq!(r.flags.iter().map(|f| f.letter).collect::<String>(), "PWOE");
//! ```

use serde::{Deserialize, Serialize};

use crate::memread::read_cstr;
use crate::report::AnalyzerError;
use crate::target::{Target, TypeRef};

/// A `tainted_mask` is an `unsigned long`: no kernel has more than 64 flags.
const MAX_FLAGS: u64 = 64;

/// One flag, as reported for a set bit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaintFlag {
    pub bit: u32,
    /// `c_true` from the table; `?` for a bit the table does not describe.
    pub letter: char,
    /// `desc` from the table (6.11+), else the mainline/distribution name, else `bit N`.
    pub name: String,
}

/// Where the flag table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaintSource {
    /// `taint_flags[]` read from the dump.
    TaintFlags,
    /// `tnts[]` read from the dump.
    Tnts,
    /// Built-in mainline table (the dump's table was unreadable).
    BuiltinMainline,
    /// Built-in mainline table plus Red Hat's extra bits (OSRELEASE says `.el`).
    BuiltinRhel,
    /// Built-in mainline table plus SUSE's extra bit (OSRELEASE says `-default`).
    BuiltinSuse,
}

/// Which bits the kernel prints in a module's taint letters (`module_flags_taint()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleLetterRule {
    /// 4.10-6.18: bits whose table entry has `module == true`, in table order.
    ModuleField,
    /// 6.19+ (no `module` field): every set bit, in table order.
    AllBits,
    /// Before 4.10: the hard-coded sequence P O F C E.
    Legacy,
}

/// One table entry, in table (= print) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub bit: u32,
    /// 0 with `c_false` 0: an unused hole in the array.
    pub c_true: u8,
    pub c_false: u8,
    /// The entry's `module` field; `None` when the table has no such field.
    pub module: Option<bool>,
    pub name: Option<String>,
}

impl TableEntry {
    fn is_hole(&self) -> bool {
        self.c_true == 0 && self.c_false == 0
    }
}

/// The flag table used to decode masks, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintTable {
    pub entries: Vec<TableEntry>,
    pub source: TaintSource,
    pub module_rule: ModuleLetterRule,
    /// What went wrong while reading the dump's table (non-empty whenever a built-in table is used).
    pub problems: Vec<String>,
}

/// The decoded kernel taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintReport {
    pub tainted_mask: u64,
    pub taint_string: String,
    pub flags: Vec<TaintFlag>,
    pub source: TaintSource,
}

/// Read `tainted_mask` and decode it through [`read_taint_table`].
pub fn analyze_taint(t: &dyn Target) -> Result<TaintReport, AnalyzerError> {
    let mask = read_tainted_mask(t)?;
    Ok(read_taint_table(t).describe(mask))
}

/// Read the `unsigned long tainted_mask`.
pub fn read_tainted_mask(t: &dyn Target) -> Result<u64, AnalyzerError> {
    let addr = t
        .symbol("tainted_mask")
        .ok_or_else(|| AnalyzerError::MissingSymbol("tainted_mask".into()))?;
    let size = t
        .size_of(TypeRef::TypeOf("tainted_mask"))
        .filter(|s| matches!(s, 4 | 8))
        .unwrap_or(8);
    t.read_uint(addr, size)
        .map_err(|source| AnalyzerError::Read {
            what: "tainted_mask".into(),
            source,
        })
}

/// The dump's flag table (`taint_flags[]`, else `tnts[]`), else a built-in one. Never fails.
pub fn read_taint_table(t: &dyn Target) -> TaintTable {
    let mut problems = Vec::new();
    let mut found_symbol = false;
    if let Some(addr) = t.symbol("taint_flags") {
        found_symbol = true;
        match read_taint_flags(t, addr) {
            Ok(mut tab) => {
                tab.problems.splice(0..0, problems);
                return tab;
            }
            Err(e) => problems.push(format!("taint_flags[] unusable: {e}")),
        }
    }
    if let Some(addr) = t.symbol("tnts") {
        found_symbol = true;
        match read_tnts(t, addr) {
            Ok(mut tab) => {
                tab.problems.splice(0..0, problems);
                return tab;
            }
            Err(e) => problems.push(format!("tnts[] unusable: {e}")),
        }
    }
    if !found_symbol {
        problems.push("neither taint_flags nor tnts is a known symbol".into());
    }
    builtin_table(t, problems)
}

impl TaintTable {
    /// Decode `mask`: the kernel's taint string and the set flags in bit order.
    pub fn describe(&self, mask: u64) -> TaintReport {
        TaintReport {
            tainted_mask: mask,
            taint_string: self.taint_string(mask),
            flags: self.flags(mask),
            source: self.source,
        }
    }

    /// The string `print_tainted()` returns for `mask`.
    pub fn taint_string(&self, mask: u64) -> String {
        if mask == 0 {
            return "Not tainted".into();
        }
        let mut s = String::from("Tainted: ");
        for e in self.entries.iter().filter(|e| !e.is_hole()) {
            let c = if bit_set(mask, e.bit) {
                e.c_true
            } else {
                e.c_false
            };
            s.push(c as char);
        }
        s
    }

    /// The set bits of `mask` in bit order, unknown bits as `?` / `bit N`.
    pub fn flags(&self, mask: u64) -> Vec<TaintFlag> {
        (0..64)
            .filter(|&b| bit_set(mask, b))
            .map(|b| self.flag(b))
            .collect()
    }

    /// Letter and name of one bit.
    pub fn flag(&self, bit: u32) -> TaintFlag {
        match self.entry(bit) {
            Some(e) => TaintFlag {
                bit,
                letter: e.c_true as char,
                name: e.name.clone().unwrap_or_else(|| format!("bit {bit}")),
            },
            None => TaintFlag {
                bit,
                letter: '?',
                name: format!("bit {bit}"),
            },
        }
    }

    fn entry(&self, bit: u32) -> Option<&TableEntry> {
        self.entries.iter().find(|e| e.bit == bit && !e.is_hole())
    }

    /// The bit whose `c_true` is `letter` (first in table order).
    pub fn bit_for_letter(&self, letter: char) -> Option<u32> {
        self.entries
            .iter()
            .find(|e| !e.is_hole() && e.c_true as char == letter)
            .map(|e| e.bit)
    }

    /// A module's taint letters as `module_flags_taint()` prints them (no parentheses).
    pub fn module_letters(&self, module_mask: u64) -> String {
        match self.module_rule {
            ModuleLetterRule::Legacy => LEGACY_MODULE_LETTERS
                .iter()
                .filter(|(b, _)| bit_set(module_mask, *b))
                .map(|(_, c)| *c)
                .collect(),
            ModuleLetterRule::ModuleField => self
                .entries
                .iter()
                .filter(|e| !e.is_hole() && e.module == Some(true) && bit_set(module_mask, e.bit))
                .map(|e| e.c_true as char)
                .collect(),
            ModuleLetterRule::AllBits => self
                .entries
                .iter()
                .filter(|e| !e.is_hole() && bit_set(module_mask, e.bit))
                .map(|e| e.c_true as char)
                .collect(),
        }
    }

    /// Bits a module can set (`add_taint_module()`), as a mask: the table's `module` entries, except
    /// RANDSTRUCT (17) and FWCTL (19), which mainline marked per-module by mistake (they are set at boot and
    /// by the fwctl core, never by loading a module; see the 6.19 patch removing the field). Without a
    /// `module` field: P F C O E K X N. Before 4.10: P O F C E.
    pub fn module_capable_mask(&self) -> u64 {
        let bits: Vec<u32> = match self.module_rule {
            ModuleLetterRule::Legacy => LEGACY_MODULE_LETTERS.iter().map(|(b, _)| *b).collect(),
            ModuleLetterRule::ModuleField => self
                .entries
                .iter()
                .filter(|e| !e.is_hole() && e.module == Some(true))
                .filter(|e| !is_mistaken_module_flag(e))
                .map(|e| e.bit)
                .collect(),
            ModuleLetterRule::AllBits => MODULE_FLAGS_WITHOUT_FIELD.to_vec(),
        };
        bits.into_iter()
            .filter(|&b| b < 64)
            .fold(0, |m, b| m | (1u64 << b))
    }
}

fn bit_set(mask: u64, bit: u32) -> bool {
    bit < 64 && mask & (1u64 << bit) != 0
}

/// `module_flags_taint()` before 4.10: these bits, in this order, with these letters.
const LEGACY_MODULE_LETTERS: [(u32, char); 5] =
    [(0, 'P'), (12, 'O'), (1, 'F'), (10, 'C'), (13, 'E')];

/// Module-settable bits for tables without a `module` field (6.19+): P F C O E K X N.
const MODULE_FLAGS_WITHOUT_FIELD: [u32; 8] = [0, 1, 10, 12, 13, 15, 16, 18];

fn is_mistaken_module_flag(e: &TableEntry) -> bool {
    (e.bit == 17 && e.c_true == b'T') || (e.bit == 19 && e.c_true == b'J')
}

/// A mainline flag: bit, c_true, c_false, name, per-module in the table, first (major, minor) with it.
struct BuiltinFlag {
    bit: u32,
    c_true: u8,
    c_false: u8,
    name: &'static str,
    module: bool,
    since: (u32, u32),
}

const fn flag(
    bit: u32,
    c_true: u8,
    c_false: u8,
    name: &'static str,
    module: bool,
    since: (u32, u32),
) -> BuiltinFlag {
    BuiltinFlag {
        bit,
        c_true,
        c_false,
        name,
        module,
        since,
    }
}

/// Mainline flags (include/linux/panic.h, kernel/panic.c). Bits 0-11 predate every kernel we read.
const MAINLINE: [BuiltinFlag; 20] = [
    flag(0, b'P', b'G', "PROPRIETARY_MODULE", true, (2, 6)),
    flag(1, b'F', b' ', "FORCED_MODULE", true, (2, 6)),
    flag(2, b'S', b' ', "CPU_OUT_OF_SPEC", false, (2, 6)),
    flag(3, b'R', b' ', "FORCED_RMMOD", false, (2, 6)),
    flag(4, b'M', b' ', "MACHINE_CHECK", false, (2, 6)),
    flag(5, b'B', b' ', "BAD_PAGE", false, (2, 6)),
    flag(6, b'U', b' ', "USER", false, (2, 6)),
    flag(7, b'D', b' ', "DIE", false, (2, 6)),
    flag(8, b'A', b' ', "OVERRIDDEN_ACPI_TABLE", false, (2, 6)),
    flag(9, b'W', b' ', "WARN", false, (2, 6)),
    flag(10, b'C', b' ', "CRAP", true, (2, 6)),
    flag(11, b'I', b' ', "FIRMWARE_WORKAROUND", false, (2, 6)),
    flag(12, b'O', b' ', "OOT_MODULE", true, (3, 2)),
    flag(13, b'E', b' ', "UNSIGNED_MODULE", true, (3, 15)),
    flag(14, b'L', b' ', "SOFTLOCKUP", false, (3, 17)),
    flag(15, b'K', b' ', "LIVEPATCH", true, (4, 0)),
    flag(16, b'X', b' ', "AUX", true, (4, 15)),
    flag(17, b'T', b' ', "RANDSTRUCT", true, (4, 17)),
    flag(18, b'N', b' ', "TEST", true, (6, 0)),
    flag(19, b'J', b' ', "FWCTL", true, (6, 15)),
];

/// Distribution bits. Letters not confirmed from a distribution source are `?`: the dump's own table is
/// the authority for them, this is only the last resort.
const RHEL_LEGACY: [BuiltinFlag; 3] = [
    flag(27, b'Z', b' ', "RHEL bit 27", false, (2, 6)),
    flag(28, b'H', b' ', "HARDWARE_UNSUPPORTED", false, (2, 6)),
    flag(29, b'T', b' ', "TECH_PREVIEW", false, (2, 6)),
];
const RHEL_MODERN: [BuiltinFlag; 3] = [
    flag(27, b'?', b' ', "SUPPORT_REMOVED", false, (4, 18)),
    flag(29, b'?', b' ', "TECH_PREVIEW", false, (4, 18)),
    flag(30, b'?', b' ', "UNPRIVILEGED_BPF", false, (4, 18)),
];
const SUSE: [BuiltinFlag; 1] = [flag(31, b'?', b' ', "NO_SUPPORT", false, (2, 6))];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Distro {
    Mainline,
    RhelLegacy,
    RhelModern,
    Suse,
}

/// (major, minor) and distribution guessed from VMCOREINFO's OSRELEASE.
fn os_release(t: &dyn Target) -> (Option<(u32, u32)>, Distro) {
    os_release_of(t.vmcoreinfo("OSRELEASE").as_deref())
}

fn os_release_of(rel: Option<&str>) -> (Option<(u32, u32)>, Distro) {
    let Some(rel) = rel else {
        return (None, Distro::Mainline);
    };
    let mut nums = rel
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    let version = match (nums.next().flatten(), nums.next().flatten()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let distro = if rel.contains(".el6") || rel.contains(".el7") {
        Distro::RhelLegacy
    } else if rel.contains(".el") {
        Distro::RhelModern
    } else if rel.ends_with("-default") {
        Distro::Suse
    } else {
        Distro::Mainline
    };
    (version, distro)
}

fn distro_flags(d: Distro) -> &'static [BuiltinFlag] {
    match d {
        Distro::Mainline => &[],
        Distro::RhelLegacy => &RHEL_LEGACY,
        Distro::RhelModern => &RHEL_MODERN,
        Distro::Suse => &SUSE,
    }
}

/// Name of a dump-table entry without `desc`: the mainline name when the letter agrees, else the
/// distribution's name for that bit.
fn builtin_name(t: &dyn Target, bit: u32, c_true: u8) -> Option<String> {
    if let Some(f) = MAINLINE.iter().find(|f| f.bit == bit && f.c_true == c_true) {
        return Some(f.name.to_string());
    }
    let (_, distro) = os_release(t);
    distro_flags(distro)
        .iter()
        .find(|f| f.bit == bit)
        .map(|f| f.name.to_string())
}

/// Number of elements of the array variable `var` of `stride`-byte elements.
fn array_len(t: &dyn Target, var: &str, stride: u64) -> Result<u64, AnalyzerError> {
    let total = t.size_of(TypeRef::TypeOf(var));
    let count = match total {
        Some(total) if total % stride == 0 => total / stride,
        Some(total) => {
            return Err(AnalyzerError::Invalid(format!(
                "{var} is {total} bytes, not a multiple of its {stride}-byte elements"
            )))
        }
        None if var == "taint_flags" => {
            // 6.0+: last_unloaded_module.taints is char[MODULE_FLAGS_BUF_SIZE], TAINT_FLAGS_COUNT + 4.
            t.member(TypeRef::TypeOf("last_unloaded_module"), "taints")
                .and_then(|m| m.size.checked_sub(4))
                .ok_or_else(|| {
                    AnalyzerError::MissingType(format!("typeof({var}) (array length)"))
                })?
        }
        None => {
            return Err(AnalyzerError::MissingType(format!(
                "typeof({var}) (array length)"
            )))
        }
    };
    if count == 0 || count > MAX_FLAGS {
        return Err(AnalyzerError::Invalid(format!(
            "{var} has {count} entries (expected 1..={MAX_FLAGS})"
        )));
    }
    Ok(count)
}

fn check_chars(var: &str, i: u64, c_true: u8, c_false: u8) -> Result<(), AnalyzerError> {
    let hole = c_true == 0 && c_false == 0;
    if hole || (c_true.is_ascii_graphic() && (c_false == b' ' || c_false.is_ascii_graphic())) {
        Ok(())
    } else {
        Err(AnalyzerError::Invalid(format!(
            "{var}[{i}] holds characters {c_true:#04x}/{c_false:#04x}, not a taint flag"
        )))
    }
}

fn read_table_bytes(
    t: &dyn Target,
    var: &str,
    addr: u64,
    len: u64,
) -> Result<Vec<u8>, AnalyzerError> {
    let mut raw = vec![0u8; len as usize];
    t.read(addr, &mut raw)
        .map_err(|source| AnalyzerError::Read {
            what: format!("{var}[]"),
            source,
        })?;
    Ok(raw)
}

/// `const struct taint_flag taint_flags[TAINT_FLAGS_COUNT]`, indexed by bit.
fn read_taint_flags(t: &dyn Target, addr: u64) -> Result<TaintTable, AnalyzerError> {
    let ty = TypeRef::Struct("taint_flag");
    let stride = t
        .size_of(ty)
        .ok_or_else(|| AnalyzerError::MissingType("struct taint_flag".into()))?;
    if stride == 0 || stride > 64 {
        return Err(AnalyzerError::Invalid(format!(
            "struct taint_flag is {stride} bytes"
        )));
    }
    let off = |name: &str| -> Result<u64, AnalyzerError> {
        let m = t
            .member(ty, name)
            .ok_or_else(|| AnalyzerError::MissingType(format!("struct taint_flag.{name}")))?;
        if m.offset >= stride {
            return Err(AnalyzerError::Invalid(format!(
                "struct taint_flag.{name} at {} is outside the {stride}-byte struct",
                m.offset
            )));
        }
        Ok(m.offset)
    };
    let c_true_off = off("c_true")? as usize;
    let c_false_off = off("c_false")? as usize;
    let module_off = t
        .member(ty, "module")
        .is_some()
        .then(|| off("module"))
        .transpose()?
        .map(|o| o as usize);
    let desc_off = t
        .member(ty, "desc")
        .filter(|m| m.size == 8)
        .is_some()
        .then(|| off("desc"))
        .transpose()?
        .map(|o| o as usize);
    if desc_off.is_some_and(|o| o + 8 > stride as usize) {
        return Err(AnalyzerError::Invalid(
            "struct taint_flag.desc overruns the struct".into(),
        ));
    }
    let count = array_len(t, "taint_flags", stride)?;
    let raw = read_table_bytes(t, "taint_flags", addr, count * stride)?;
    let mut problems = Vec::new();
    let mut entries = Vec::with_capacity(count as usize);
    for (i, e) in raw.chunks_exact(stride as usize).enumerate() {
        let (c_true, c_false) = (e[c_true_off], e[c_false_off]);
        check_chars("taint_flags", i as u64, c_true, c_false)?;
        let bit = i as u32;
        let mut name = None;
        if let Some(o) = desc_off {
            let ptr = u64::from_le_bytes(e[o..o + 8].try_into().expect("8 bytes"));
            if ptr != 0 {
                match read_cstr(t, ptr, 64) {
                    Ok(s) if !s.is_empty() => name = Some(s),
                    Ok(_) => {}
                    Err(err) => problems.push(format!("taint_flags[{i}].desc unreadable: {err}")),
                }
            }
        }
        if name.is_none() && !(c_true == 0 && c_false == 0) {
            name = builtin_name(t, bit, c_true);
        }
        entries.push(TableEntry {
            bit,
            c_true,
            c_false,
            module: module_off.map(|o| e[o] != 0),
            name,
        });
    }
    Ok(TaintTable {
        entries,
        source: TaintSource::TaintFlags,
        module_rule: if module_off.is_some() {
            ModuleLetterRule::ModuleField
        } else {
            ModuleLetterRule::AllBits
        },
        problems,
    })
}

/// `static const struct tnt { u8 bit; char true; char false; } tnts[]` (2.6.28-4.9), printed in array
/// order; each entry names its own bit.
fn read_tnts(t: &dyn Target, addr: u64) -> Result<TaintTable, AnalyzerError> {
    let ty = TypeRef::Struct("tnt");
    let stride = t.size_of(ty).unwrap_or(3);
    if !(3..=64).contains(&stride) {
        return Err(AnalyzerError::Invalid(format!(
            "struct tnt is {stride} bytes"
        )));
    }
    let off = |name: &str, default: u64| t.member(ty, name).map_or(default, |m| m.offset);
    let (bit_off, t_off, f_off) = (off("bit", 0), off("true", 1), off("false", 2));
    if [bit_off, t_off, f_off].iter().any(|&o| o >= stride) {
        return Err(AnalyzerError::Invalid(
            "struct tnt member outside the struct".into(),
        ));
    }
    let count = array_len(t, "tnts", stride)?;
    let raw = read_table_bytes(t, "tnts", addr, count * stride)?;
    let mut entries = Vec::with_capacity(count as usize);
    for (i, e) in raw.chunks_exact(stride as usize).enumerate() {
        let (bit, c_true, c_false) = (
            e[bit_off as usize] as u32,
            e[t_off as usize],
            e[f_off as usize],
        );
        check_chars("tnts", i as u64, c_true, c_false)?;
        if bit >= MAX_FLAGS as u32 {
            return Err(AnalyzerError::Invalid(format!("tnts[{i}].bit is {bit}")));
        }
        entries.push(TableEntry {
            bit,
            c_true,
            c_false,
            module: None,
            name: builtin_name(t, bit, c_true),
        });
    }
    Ok(TaintTable {
        entries,
        source: TaintSource::Tnts,
        module_rule: ModuleLetterRule::Legacy,
        problems: Vec::new(),
    })
}

/// The last resort: mainline flags the kernel version (from OSRELEASE) has, plus the distribution's.
fn builtin_table(t: &dyn Target, problems: Vec<String>) -> TaintTable {
    builtin_table_of(os_release(t), problems)
}

/// The built-in table for a kernel release string (`6.1.0-56-cloud-amd64`, `4.18.0-553.el8_10.x86_64`), for
/// a kernel known only from its log. `None`: all mainline flags.
pub fn builtin_table_for_release(release: Option<&str>) -> TaintTable {
    builtin_table_of(os_release_of(release), Vec::new())
}

fn builtin_table_of(
    (version, distro): (Option<(u32, u32)>, Distro),
    mut problems: Vec<String>,
) -> TaintTable {
    let has = |since: (u32, u32)| version.is_none_or(|v| v >= since);
    let mut entries: Vec<TableEntry> = MAINLINE
        .iter()
        .chain(distro_flags(distro))
        .filter(|f| has(f.since))
        .map(|f| TableEntry {
            bit: f.bit,
            c_true: f.c_true,
            c_false: f.c_false,
            module: Some(f.module),
            name: Some(f.name.to_string()),
        })
        .collect();
    entries.sort_by_key(|e| e.bit);
    let module_rule = match version {
        Some(v) if v < (4, 10) => ModuleLetterRule::Legacy,
        Some(v) if v >= (6, 19) => ModuleLetterRule::AllBits,
        _ => ModuleLetterRule::ModuleField,
    };
    problems.push(format!(
        "decoded with the built-in table ({}); the taint string's columns are rebuilt and may differ \
         from what this kernel printed",
        match version {
            Some((a, b)) => format!("for {a}.{b}"),
            None => "kernel version unknown: all mainline flags".into(),
        }
    ));
    TaintTable {
        entries,
        source: match distro {
            Distro::Mainline => TaintSource::BuiltinMainline,
            Distro::RhelLegacy | Distro::RhelModern => TaintSource::BuiltinRhel,
            Distro::Suse => TaintSource::BuiltinSuse,
        },
        module_rule,
        problems,
    }
}
