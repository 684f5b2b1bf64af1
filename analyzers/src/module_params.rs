//! Module parameters at crash time: `struct module` → `kp`/`num_kp`, each `struct kernel_param` decoded by
//! matching its `ops` pointer with the kernel's own `param_ops_*` / `param_array_ops` symbols, formatted the
//! way the kernel's `param_get_*` functions print them in `/sys/module/NAME/parameters/` (kernel/params.c,
//! 5.10 to 7.x): integers in decimal (`hexint` as `0x%08x`), `bool`/`invbool` as `Y`/`N`, `charp` and
//! `string` as the text, arrays as comma-separated elements.
//!
//! Everything read comes from the dump and is untrusted: `num_kp` is capped at [`MAX_PARAMS`], an array's
//! count at [`MAX_ARRAY_ELEMS`], strings at [`MAX_VALUE_LEN`] bytes; an unreadable name, value or pointer
//! becomes that parameter's `problem`, and an `ops` pointer matching no known symbol is reported as
//! `unknown` with the raw pointer.
//!
//! ```
//! use analyzers::fake::FakeTarget;
//! use analyzers::module_params::{ParamLayout, read_params};
//! let mut t = FakeTarget::new();
//! t.add_struct("kernel_param", 40, &[("name", 0, 8), ("ops", 16, 8), ("arg", 32, 8)]);
//! t.add_struct("module", 64, &[("kp", 0, 8), ("num_kp", 8, 4)]);
//! t.add_symbol("param_ops_int", 0x9000);
//! t.map(0x5000, b"debug\0".to_vec());
//! t.map(0x6000, (-3i32).to_le_bytes().to_vec());
//! let mut kp = vec![0u8; 40];
//! kp[0..8].copy_from_slice(&0x5000u64.to_le_bytes());
//! kp[16..24].copy_from_slice(&0x9000u64.to_le_bytes());
//! kp[32..40].copy_from_slice(&0x6000u64.to_le_bytes());
//! t.map(0x4000, kp);
//! let mut module = vec![0u8; 64];
//! module[0..8].copy_from_slice(&0x4000u64.to_le_bytes());
//! module[8..12].copy_from_slice(&1u32.to_le_bytes());
//! t.map(0x1000, module);
//! let layout = ParamLayout::learn(&t).unwrap();
//! let (params, problems) = read_params(&t, &layout, 0x1000);
//! assert!(problems.is_empty());
//! assert_eq!(params[0].name, "debug");
//! assert_eq!(params[0].kind, "int");
//! assert_eq!(params[0].value.as_deref(), Some("-3"));
//! ```

use serde::{Deserialize, Serialize};

use crate::memread::read_cstr;
use crate::target::{Member, Target, TypeRef};

/// At most this many parameters are read per module (`num_kp` comes from the dump).
pub const MAX_PARAMS: u64 = 1024;
/// At most this many elements of an array parameter.
pub const MAX_ARRAY_ELEMS: u64 = 1024;
/// Longest parameter name or string value read.
pub const MAX_VALUE_LEN: usize = 4096;
const MAX_NAME_LEN: usize = 256;

/// One module parameter. JSON: an element of a module's `parameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleParam {
    pub name: String,
    /// `int`, `uint`, `bool`, `charp`, `string`, ... ; `array of int` for arrays; `unknown` when `ops` is
    /// none of the kernel's standard parameter types.
    pub kind: String,
    /// The value as `/sys/module/NAME/parameters/P` prints it (without the newline); `None` when it could
    /// not be read (see `problem`) or the type is unknown.
    pub value: Option<String>,
    /// The `ops` pointer (hex), so an unknown type can be looked up by hand.
    #[serde(
        serialize_with = "crate::hex::one",
        deserialize_with = "crate::hex::read_one"
    )]
    pub ops: u64,
    /// The sysfs permission bits (`perm`), when the layout has them.
    pub perm: Option<u32>,
    /// Why the value (or part of it) is missing.
    pub problem: Option<String>,
}

/// Integer and text formats of the standard parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Byte,
    Short,
    Ushort,
    Int,
    Uint,
    Long,
    Ulong,
    Ullong,
    Hexint,
    Charp,
    Bool,
    BoolEnableOnly,
    Invbool,
    Bint,
    String,
    Array,
}

/// A [`KindSymbols`] row named the usual way: `param_ops_NAME`, `param_set_NAME`, `param_get_NAME`.
macro_rules! usual {
    ($kind:expr, $name:literal) => {
        KindSymbols {
            kind: $kind,
            ops: concat!("param_ops_", $name),
            name: $name,
            set: concat!("param_set_", $name),
            get: concat!("param_get_", $name),
        }
    };
}

impl Kind {
    /// Each kind: its `param_ops_*` table, the name it is shown by, and the table's `set` and `get` functions
    /// (kernel/params.c; text symbols every kallsyms has: they name an `ops` table a symbol source without data
    /// symbols cannot, as Debian's arm64 kallsyms).
    const ALL: [KindSymbols; 16] = [
        usual!(Kind::Byte, "byte"),
        usual!(Kind::Short, "short"),
        usual!(Kind::Ushort, "ushort"),
        usual!(Kind::Int, "int"),
        usual!(Kind::Uint, "uint"),
        usual!(Kind::Long, "long"),
        usual!(Kind::Ulong, "ulong"),
        usual!(Kind::Ullong, "ullong"),
        usual!(Kind::Hexint, "hexint"),
        usual!(Kind::Charp, "charp"),
        usual!(Kind::Bool, "bool"),
        KindSymbols {
            kind: Kind::BoolEnableOnly,
            ops: "param_ops_bool_enable_only",
            name: "bool",
            set: "param_set_bool_enable_only",
            get: "param_get_bool",
        },
        usual!(Kind::Invbool, "invbool"),
        KindSymbols {
            kind: Kind::Bint,
            ops: "param_ops_bint",
            name: "bint",
            set: "param_set_bint",
            get: "param_get_int",
        },
        KindSymbols {
            kind: Kind::String,
            ops: "param_ops_string",
            name: "string",
            set: "param_set_copystring",
            get: "param_get_string",
        },
        KindSymbols {
            kind: Kind::Array,
            ops: "param_array_ops",
            name: "array",
            set: "param_array_set",
            get: "param_array_get",
        },
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|k| k.kind == self)
            .map_or("unknown", |k| k.name)
    }
}

/// One row of [`Kind::ALL`].
struct KindSymbols {
    kind: Kind,
    ops: &'static str,
    name: &'static str,
    set: &'static str,
    get: &'static str,
}

/// Where the fields are, and the kernel's `param_ops_*` addresses; learned once per dump.
#[derive(Debug, Clone)]
pub struct ParamLayout {
    kp: Member,
    num_kp: Member,
    size: u64,
    name: u64,
    ops: u64,
    arg: u64,
    perm: Option<Member>,
    /// `struct kparam_string`: maxlen, string.
    string: Option<(Member, u64)>,
    /// `struct kparam_array`: max, elemsize, num, ops, elem.
    array: Option<[Member; 5]>,
    ops_table: Vec<(u64, Kind)>,
    /// `struct kernel_param_ops`: set, get (for tables no symbol names).
    ops_functions: Option<(u64, u64)>,
}

impl ParamLayout {
    /// `None` when the kernel's types lack `struct module.kp` or `struct kernel_param` (no parameters
    /// can be read at all).
    pub fn learn(t: &dyn Target) -> Option<Self> {
        let module = TypeRef::Struct("module");
        let kp_ty = TypeRef::Struct("kernel_param");
        let kp = t.member(module, "kp")?;
        let num_kp = t.member(module, "num_kp")?;
        let name = t.member(kp_ty, "name")?.offset;
        let ops = t.member(kp_ty, "ops")?.offset;
        let arg = t.member(kp_ty, "arg")?.offset;
        let size = t.size_of(kp_ty).filter(|s| (16..=256).contains(s))?;
        let ks = TypeRef::Struct("kparam_string");
        let string = match (t.member(ks, "maxlen"), t.member(ks, "string")) {
            (Some(maxlen), Some(s)) => Some((maxlen, s.offset)),
            _ => None,
        };
        let ka = TypeRef::Struct("kparam_array");
        let array = (|| {
            Some([
                t.member(ka, "max")?,
                t.member(ka, "elemsize")?,
                t.member(ka, "num")?,
                t.member(ka, "ops")?,
                t.member(ka, "elem")?,
            ])
        })();
        let ops_table = Kind::ALL
            .iter()
            .filter_map(|k| Some((t.symbol(k.ops)?, k.kind)))
            .collect();
        let ops_ty = TypeRef::Struct("kernel_param_ops");
        let ops_functions = t
            .member(ops_ty, "set")
            .zip(t.member(ops_ty, "get"))
            .map(|(s, g)| (s.offset, g.offset));
        Some(ParamLayout {
            ops_functions,
            kp,
            num_kp,
            size,
            name,
            ops,
            arg,
            perm: t.member(kp_ty, "perm"),
            string,
            array,
            ops_table,
        })
    }

    /// The kind of the `ops` table at `ops`: the `param_ops_*` symbol at that address, else (no such symbol
    /// known) the kind whose `set` and `get` functions the table points to.
    fn kind_of(&self, t: &dyn Target, ops: u64) -> Option<Kind> {
        if let Some((_, k)) = self.ops_table.iter().find(|(a, _)| *a == ops) {
            return Some(*k);
        }
        let (set, get) = self.ops_functions?;
        let function = |at: u64| {
            let f = t.read_u64(ops.wrapping_add(at)).ok()?;
            t.symbol_at(f).filter(|s| s.address == f).map(|s| s.name)
        };
        let (set, get) = (function(set)?, function(get)?);
        Kind::ALL
            .iter()
            .find(|k| k.set == set && k.get == get)
            .map(|k| k.kind)
    }
}

/// The parameters of the module at `module`, and what could not be read (module-level problems: the
/// `kp` array itself; per-parameter problems are in each [`ModuleParam::problem`]).
pub fn read_params(
    t: &dyn Target,
    l: &ParamLayout,
    module: u64,
) -> (Vec<ModuleParam>, Vec<String>) {
    let mut problems = Vec::new();
    let rd = |m: &Member| t.read_uint(module.wrapping_add(m.offset), m.size.clamp(1, 8));
    let (kp, num) = match (rd(&l.kp), rd(&l.num_kp)) {
        (Ok(kp), Ok(num)) => (kp, num & 0xffff_ffff),
        (Err(e), _) | (_, Err(e)) => {
            problems.push(format!("kp/num_kp unreadable: {e}"));
            return (Vec::new(), problems);
        }
    };
    if num == 0 {
        return (Vec::new(), problems);
    }
    if kp == 0 {
        problems.push(format!(
            "num_kp is {num} but kp is NULL: not a table the kernel built"
        ));
        return (Vec::new(), problems);
    }
    let count = if num > MAX_PARAMS {
        problems.push(format!(
            "num_kp is {num}, more than any module has; read the first {MAX_PARAMS}"
        ));
        MAX_PARAMS
    } else {
        num
    };
    let mut params = Vec::new();
    for i in 0..count {
        let at = kp.wrapping_add(i * l.size);
        match read_param(t, l, at) {
            Ok(p) => params.push(p),
            Err(e) => {
                problems.push(format!(
                    "parameter {i} at {at:#x} unreadable: {e}; stopped there"
                ));
                break;
            }
        }
    }
    (params, problems)
}

fn read_param(t: &dyn Target, l: &ParamLayout, at: u64) -> Result<ModuleParam, String> {
    let mut raw = vec![0u8; l.size as usize];
    t.read(at, &mut raw).map_err(|e| e.to_string())?;
    let word = |off: u64| -> u64 {
        let o = off as usize;
        raw.get(o..o + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let name_ptr = word(l.name);
    let ops = word(l.ops);
    let arg = word(l.arg);
    let perm = l.perm.map(|m| {
        let o = m.offset as usize;
        raw.get(o..o + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u32)
    });
    let mut problem = None;
    let name = match read_cstr(t, name_ptr, MAX_NAME_LEN) {
        Ok(n) if !n.is_empty() && n.bytes().all(|c| (0x21..0x7f).contains(&c)) => n,
        Ok(n) => {
            problem = Some(format!(
                "name at {name_ptr:#x} ({n:?}) is not a name the kernel wrote"
            ));
            format!("?{name_ptr:#x}")
        }
        Err(e) => {
            problem = Some(format!("name at {name_ptr:#x} unreadable: {e}"));
            format!("?{name_ptr:#x}")
        }
    };
    let (kind, value) = match l.kind_of(t, ops) {
        None => ("unknown".to_string(), Err(None)),
        Some(Kind::Array) => match &l.array {
            Some(a) => {
                let (elem_kind, v) = array_value(t, l, a, arg);
                (
                    format!("array of {}", elem_kind.map_or("unknown", Kind::name)),
                    v.map_err(Some),
                )
            }
            None => (
                "array".to_string(),
                Err(Some("no struct kparam_array type".to_string())),
            ),
        },
        Some(k) => (
            k.name().to_string(),
            scalar_value(t, l, k, arg).map_err(Some),
        ),
    };
    let value = match value {
        Ok(v) => Some(v),
        Err(e) => {
            if problem.is_none() {
                problem = e;
            }
            None
        }
    };
    Ok(ModuleParam {
        name,
        kind,
        value,
        ops,
        perm,
        problem,
    })
}

fn int_value(t: &dyn Target, k: Kind, arg: u64) -> Result<String, String> {
    let size = match k {
        Kind::Byte | Kind::Bool | Kind::BoolEnableOnly | Kind::Invbool => 1,
        Kind::Short | Kind::Ushort => 2,
        Kind::Int | Kind::Uint | Kind::Hexint | Kind::Bint => 4,
        _ => 8,
    };
    let v = t
        .read_uint(arg, size)
        .map_err(|e| format!("value at {arg:#x} unreadable: {e}"))?;
    Ok(match k {
        Kind::Byte | Kind::Ushort | Kind::Uint | Kind::Ulong | Kind::Ullong => v.to_string(),
        Kind::Short => (v as u16 as i16).to_string(),
        Kind::Int | Kind::Bint => (v as u32 as i32).to_string(),
        Kind::Long => (v as i64).to_string(),
        Kind::Hexint => format!("{:#010x}", v as u32),
        Kind::Bool | Kind::BoolEnableOnly => if v & 0xff != 0 { "Y" } else { "N" }.to_string(),
        Kind::Invbool => if v & 0xff != 0 { "N" } else { "Y" }.to_string(),
        _ => return Err("not an integer type".into()),
    })
}

fn scalar_value(t: &dyn Target, l: &ParamLayout, k: Kind, arg: u64) -> Result<String, String> {
    match k {
        Kind::Charp => {
            let p = t
                .read_u64(arg)
                .map_err(|e| format!("charp pointer at {arg:#x} unreadable: {e}"))?;
            if p == 0 {
                // param_get_charp prints "(null)" through %s.
                return Ok("(null)".into());
            }
            read_cstr(t, p, MAX_VALUE_LEN).map_err(|e| format!("string at {p:#x} unreadable: {e}"))
        }
        Kind::String => {
            let (maxlen_m, string_off) = l
                .string
                .ok_or_else(|| "no struct kparam_string type".to_string())?;
            let maxlen = t
                .read_uint(arg.wrapping_add(maxlen_m.offset), maxlen_m.size.clamp(1, 8))
                .map_err(|e| format!("kparam_string at {arg:#x} unreadable: {e}"))?;
            let p = t
                .read_u64(arg.wrapping_add(string_off))
                .map_err(|e| format!("kparam_string at {arg:#x} unreadable: {e}"))?;
            let max = (maxlen as usize).clamp(1, MAX_VALUE_LEN);
            read_cstr(t, p, max).map_err(|e| format!("string at {p:#x} unreadable: {e}"))
        }
        Kind::Array => Err("nested array".into()),
        _ => int_value(t, k, arg),
    }
}

fn array_value(
    t: &dyn Target,
    l: &ParamLayout,
    a: &[Member; 5],
    arr: u64,
) -> (Option<Kind>, Result<String, String>) {
    let [max_m, elemsize_m, num_m, ops_m, elem_m] = a;
    let field = |m: &Member| {
        t.read_uint(arr.wrapping_add(m.offset), m.size.clamp(1, 8))
            .map_err(|e| format!("kparam_array at {arr:#x} unreadable: {e}"))
    };
    let read = || -> Result<(Option<Kind>, u64, u64, u64, u64), String> {
        let max = field(max_m)? & 0xffff_ffff;
        let elemsize = field(elemsize_m)? & 0xffff_ffff;
        let num_ptr = field(num_m)?;
        let ops = field(ops_m)?;
        let elem = field(elem_m)?;
        let num = if num_ptr == 0 {
            max
        } else {
            t.read_u32(num_ptr)
                .map_err(|e| format!("element count at {num_ptr:#x} unreadable: {e}"))?
                as u64
        };
        Ok((l.kind_of(t, ops), max, elemsize, num, elem))
    };
    let (kind, max, elemsize, num, elem) = match read() {
        Ok(v) => v,
        Err(e) => return (None, Err(e)),
    };
    let Some(k) = kind.filter(|k| *k != Kind::Array) else {
        return (kind, Err("elements of an unknown type".into()));
    };
    if num > max {
        return (
            kind,
            Err(format!(
                "{num} elements set but the array holds {max}: not a count the kernel wrote"
            )),
        );
    }
    if elemsize == 0 || elemsize > 4096 {
        return (
            kind,
            Err(format!(
                "element size {elemsize} is not one the kernel uses"
            )),
        );
    }
    let mut out = Vec::new();
    for i in 0..num.min(MAX_ARRAY_ELEMS) {
        match scalar_value(t, l, k, elem.wrapping_add(i * elemsize)) {
            Ok(v) => out.push(v),
            Err(e) => return (kind, Err(format!("element {i}: {e}"))),
        }
    }
    if num > MAX_ARRAY_ELEMS {
        return (
            kind,
            Err(format!("{num} elements: read the first {MAX_ARRAY_ELEMS}")),
        );
    }
    (kind, Ok(out.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeTarget;

    /// A module with one parameter whose `ops` table (at 0x9100) no symbol names, pointing to `set`/`get`.
    fn target(set: u64, get: u64) -> FakeTarget {
        let mut t = FakeTarget::new();
        t.add_struct(
            "kernel_param",
            40,
            &[("name", 0, 8), ("ops", 16, 8), ("arg", 32, 8)],
        );
        t.add_struct(
            "kernel_param_ops",
            32,
            &[("flags", 0, 4), ("set", 8, 8), ("get", 16, 8)],
        );
        t.add_struct("module", 64, &[("kp", 0, 8), ("num_kp", 8, 4)]);
        t.add_function("param_set_ushort", 0xa000, 0x40);
        t.add_function("param_get_ushort", 0xa040, 0x40);
        t.add_function("param_get_int", 0xa080, 0x40);
        let mut ops = vec![0u8; 32];
        ops[8..16].copy_from_slice(&set.to_le_bytes());
        ops[16..24].copy_from_slice(&get.to_le_bytes());
        t.map(0x9100, ops);
        t.map(0x5000, b"p_ushort\0".to_vec());
        t.map(0x6000, 65535u16.to_le_bytes().to_vec());
        let mut kp = vec![0u8; 40];
        kp[0..8].copy_from_slice(&0x5000u64.to_le_bytes());
        kp[16..24].copy_from_slice(&0x9100u64.to_le_bytes());
        kp[32..40].copy_from_slice(&0x6000u64.to_le_bytes());
        t.map(0x4000, kp);
        let mut module = vec![0u8; 64];
        module[0..8].copy_from_slice(&0x4000u64.to_le_bytes());
        module[8..12].copy_from_slice(&1u32.to_le_bytes());
        t.map(0x1000, module);
        t
    }

    #[test]
    fn an_ops_table_no_symbol_names_is_known_by_its_functions() {
        let t = target(0xa000, 0xa040);
        let layout = ParamLayout::learn(&t).unwrap();
        let (params, problems) = read_params(&t, &layout, 0x1000);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(params[0].kind, "ushort");
        assert_eq!(params[0].value.as_deref(), Some("65535"));
    }

    #[test]
    fn functions_of_two_kinds_or_inside_a_function_name_none() {
        // set of ushort, get of int: no kernel table has that pair.
        for (set, get) in [(0xa000, 0xa080), (0xa004, 0xa040), (0xa000, 0)] {
            let t = target(set, get);
            let layout = ParamLayout::learn(&t).unwrap();
            let (params, _) = read_params(&t, &layout, 0x1000);
            assert_eq!(params[0].kind, "unknown", "{set:#x} {get:#x}");
        }
    }
}
