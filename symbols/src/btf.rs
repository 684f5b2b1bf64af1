//! BTF, the kernel's compact type format, read into the same [`crate::types`] model as DWARF.
//!
//! A vmlinux carries it in its `.BTF` section, and the running kernel keeps the same bytes in memory
//! between `__start_BTF` and `__stop_BTF`, so a dump describes its own types. Format facts (from the
//! kernel's `include/uapi/linux/btf.h` and Documentation/bpf/btf.rst): a header (magic `0xeB9F`,
//! version 1, flags, `hdr_len`, then type and string sections as offset/length pairs counted from the
//! header's end), then type records in id order from 1 (id 0 is `void`): `name_off`, `info` (`vlen`
//! bits 0-15, kind bits 24-28, `kind_flag` bit 31), `size` or `type`, then per-kind data.
//!
//! Everything is bounds-checked: a record or string outside its section, an unknown kind, a type id
//! out of range or a reference loop is a [`BtfError`], never a panic.
//!
//! ```no_run
//! # fn main() -> Result<(), symbols::btf::BtfError> {
//! let bytes = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
//! let btf = symbols::btf::Btf::parse(bytes)?;
//! let module = btf.layout("module")?;
//! let taints = module.member("taints").unwrap();
//! assert_eq!(btf.enumerator("MODULE_STATE_LIVE"), Some(0));
//! # let _ = taints; Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::name_index::NameIndex;
use crate::types::{
    AggregateKind, BaseEncoding, BaseType, BitField, Enumeration, Layout, Member, TypeDesc,
};

/// `0xeB9F` little-endian.
const MAGIC: u16 = 0xeb9f;
/// Deepest chain of type references followed (typedef -> const -> array -> struct ...).
const MAX_DEPTH: u32 = 64;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// `BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL` (bits 24-27 of an INT's extra word).
const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

/// Why a BTF blob or a question about it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    /// The blob is shorter than what its header or a record claims.
    #[error("BTF truncated: {0}")]
    Truncated(String),
    /// Bytes that do not parse as BTF.
    #[error("BTF malformed: {0}")]
    Malformed(String),
    /// No type or enumerator of that name.
    #[error("BTF has no {what} `{name}`")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The name.
        name: String,
    },
}

type Result<T> = std::result::Result<T, BtfError>;

fn malformed(s: impl Into<String>) -> BtfError {
    BtfError::Malformed(s.into())
}

/// One type record, decoded from its fixed part.
#[derive(Debug, Clone, Copy)]
struct Record {
    name_off: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    /// `size` or `type`.
    size_or_type: u32,
    /// Offset of the per-kind data in the blob.
    extra: usize,
}

/// Whether struct and union values embedded by value are expanded ([`Mode::Expand`]) or only named
/// (behind pointers: [`Mode::Shallow`]), as in the DWARF reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Expand,
    Shallow,
}

/// A parsed BTF blob: records indexed by id, named types and (on first use) enumerators indexed by name.
pub struct Btf {
    data: Vec<u8>,
    strings: std::ops::Range<usize>,
    /// Blob offset of each type record; index 0 (void) is unused.
    offsets: Vec<u32>,
    names: NameIndex,
    /// (type id, enumerator index) of every enumerator, and their index by name; built on first use.
    enumerators: OnceLock<(Vec<(u32, u32)>, NameIndex)>,
    layouts: Mutex<HashMap<String, Arc<Layout>>>,
    /// Whether the encoder recorded the signedness of chars (its `signed char` has the SIGNED bit).
    char_sign_recorded: OnceLock<bool>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.data.len())
            .field("types", &self.type_count())
            .finish_non_exhaustive()
    }
}

fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    let b = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Bytes of per-kind data after the 12-byte fixed part.
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen * 12,
        KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
        _ => return None,
    })
}

impl Btf {
    /// Parse a blob: check the header and sections, and index every type record.
    pub fn parse(data: Vec<u8>) -> Result<Btf> {
        if data.len() < 24 {
            return Err(BtfError::Truncated(format!(
                "{} bytes, a header needs 24",
                data.len()
            )));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != MAGIC {
            return Err(malformed(format!(
                "magic {magic:#06x}, expected {MAGIC:#06x} (big-endian BTF is not read)"
            )));
        }
        if data[2] != 1 {
            return Err(malformed(format!("version {}, expected 1", data[2])));
        }
        let field = |i: usize| u32_at(&data, 4 + 4 * i).expect("inside the 24 bytes") as usize;
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (field(0), field(1), field(2), field(3), field(4));
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(malformed(format!("header length {hdr_len}")));
        }
        let section = |off: usize, len: usize, what: &str| {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= data.len() => Ok(s..e),
                _ => Err(BtfError::Truncated(format!(
                    "{what} section {off}+{len} after a {hdr_len}-byte header, blob is {} bytes",
                    data.len()
                ))),
            }
        };
        let types = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?;
        if !strings.is_empty() && data[strings.start] != 0 {
            return Err(malformed(
                "the string section does not start with an empty string",
            ));
        }
        if strings.is_empty() {
            return Err(malformed("empty string section"));
        }

        let mut offsets = Vec::with_capacity(type_len / 12 + 1);
        offsets.push(0u32);
        let mut at = types.start;
        while at < types.end {
            let rec = Self::record_at(&data, at, types.end)?;
            if rec.name_off as usize >= strings.len() {
                return Err(malformed(format!(
                    "type {} names string offset {}, beyond the {}-byte string section",
                    offsets.len(),
                    rec.name_off,
                    strings.len()
                )));
            }
            offsets.push(u32::try_from(at).map_err(|_| malformed("blob over 4 GB"))?);
            at = rec.extra + extra_len(rec.kind, rec.vlen).expect("checked by record_at");
        }

        let mut btf = Btf {
            data,
            strings,
            offsets,
            names: NameIndex::default(),
            enumerators: OnceLock::new(),
            layouts: Mutex::new(HashMap::new()),
            char_sign_recorded: OnceLock::new(),
        };
        let names = NameIndex::build(btf.offsets.len(), |id| {
            let rec = btf.record(id as u32).ok()?;
            let indexed = matches!(
                rec.kind,
                KIND_INT
                    | KIND_STRUCT
                    | KIND_UNION
                    | KIND_ENUM
                    | KIND_ENUM64
                    | KIND_FWD
                    | KIND_TYPEDEF
                    | KIND_VAR
                    | KIND_FLOAT
            );
            (id != 0 && indexed && rec.name_off != 0)
                .then(|| btf.str_bytes(rec.name_off).ok())
                .flatten()
        });
        btf.names = names;
        Ok(btf)
    }

    fn record_at(data: &[u8], at: usize, end: usize) -> Result<Record> {
        let word = |i: usize| {
            u32_at(data, at + 4 * i)
                .filter(|_| at + 4 * i + 4 <= end)
                .ok_or_else(|| BtfError::Truncated(format!("type record at {at:#x}")))
        };
        let (name_off, info, size_or_type) = (word(0)?, word(1)?, word(2)?);
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let extra = at + 12;
        let len = extra_len(kind, vlen)
            .ok_or_else(|| malformed(format!("unknown kind {kind} at {at:#x}")))?;
        if extra + len > end {
            return Err(BtfError::Truncated(format!(
                "kind {kind} record at {at:#x} with {vlen} entries runs past the type section"
            )));
        }
        Ok(Record {
            name_off,
            kind,
            vlen,
            kind_flag: info >> 31 != 0,
            size_or_type,
            extra,
        })
    }

    /// Number of type ids, `void` (0) included.
    pub fn type_count(&self) -> usize {
        self.offsets.len()
    }

    fn record(&self, id: u32) -> Result<Record> {
        if id == 0 {
            return Err(malformed("type id 0 (void) has no record"));
        }
        let at = *self.offsets.get(id as usize).ok_or_else(|| {
            malformed(format!(
                "type id {id} beyond the {} types",
                self.type_count()
            ))
        })?;
        Self::record_at(&self.data, at as usize, self.data.len())
    }

    fn word(&self, off: usize) -> u32 {
        // Per-kind data was bounds-checked against the type section when the record was read.
        u32_at(&self.data, off).unwrap_or(0)
    }

    fn str_bytes(&self, off: u32) -> Result<&[u8]> {
        let s = &self.data[self.strings.clone()];
        let rest = s
            .get(off as usize..)
            .ok_or_else(|| malformed(format!("string offset {off} beyond the string section")))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(format!("string at {off} is not NUL-terminated")))?;
        Ok(&rest[..end])
    }

    fn name(&self, off: u32) -> Result<Option<String>> {
        if off == 0 {
            return Ok(None);
        }
        let b = self.str_bytes(off)?;
        Ok((!b.is_empty()).then(|| String::from_utf8_lossy(b).into_owned()))
    }

    /// Ids of indexed types named `name` whose kind is one of `kinds`, in id order.
    fn named(&self, name: &str, kinds: &[u32]) -> Vec<u32> {
        self.names
            .candidates(name.as_bytes())
            .filter_map(|id| {
                let rec = self.record(id as u32).ok()?;
                (kinds.contains(&rec.kind) && self.str_bytes(rec.name_off).ok()? == name.as_bytes())
                    .then_some(id as u32)
            })
            .collect()
    }

    /// The type id of `struct NAME` or `union NAME` (a definition, not a forward declaration).
    pub fn aggregate_id(&self, name: &str) -> Result<u32> {
        self.named(name, &[KIND_STRUCT, KIND_UNION])
            .first()
            .copied()
            .ok_or_else(|| BtfError::NotFound {
                what: "struct or union",
                name: name.into(),
            })
    }

    /// The layout of `struct NAME` or `union NAME`.
    pub fn layout(&self, name: &str) -> Result<Arc<Layout>> {
        if let Some(l) = self
            .layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(l.clone());
        }
        let l = Arc::new(self.layout_of(self.aggregate_id(name)?, 0)?);
        self.layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), l.clone());
        Ok(l)
    }

    /// The enumerators of `enum NAME`.
    pub fn enumeration(&self, name: &str) -> Result<Enumeration> {
        let id = self
            .named(name, &[KIND_ENUM, KIND_ENUM64])
            .into_iter()
            .find(|&id| self.record(id).is_ok_and(|r| r.vlen > 0))
            .ok_or_else(|| BtfError::NotFound {
                what: "enum",
                name: name.into(),
            })?;
        self.enumeration_of(id)
    }

    /// The value of the enumerator `name` in any enum (the first enum that has it).
    pub fn enumerator(&self, name: &str) -> Option<i64> {
        let (all, index) = self.enumerators.get_or_init(|| {
            let mut all = Vec::new();
            for id in 1..self.type_count() as u32 {
                if let Ok(rec) = self.record(id) {
                    if matches!(rec.kind, KIND_ENUM | KIND_ENUM64) {
                        all.extend((0..rec.vlen as u32).map(|i| (id, i)));
                    }
                }
            }
            let index = NameIndex::build(all.len(), |i| {
                let (id, k) = all[i];
                let rec = self.record(id).ok()?;
                let stride = if rec.kind == KIND_ENUM { 8 } else { 12 };
                self.str_bytes(self.word(rec.extra + k as usize * stride))
                    .ok()
            });
            (all, index)
        });
        index.candidates(name.as_bytes()).find_map(|i| {
            let (id, k) = all[i];
            let rec = self.record(id).ok()?;
            let (n, v) = self.enumerator_at(&rec, k as usize);
            (self.str_bytes(n).ok()? == name.as_bytes()).then_some(v)
        })
    }

    /// Name offset and value of enumerator `k` of an ENUM or ENUM64 record.
    fn enumerator_at(&self, rec: &Record, k: usize) -> (u32, i64) {
        if rec.kind == KIND_ENUM {
            let at = rec.extra + k * 8;
            let raw = self.word(at + 4);
            // kind_flag marks a signed enum (pahole 1.24+); otherwise the 32 bits are unsigned.
            let v = if rec.kind_flag {
                i64::from(raw as i32)
            } else {
                i64::from(raw)
            };
            (self.word(at), v)
        } else {
            let at = rec.extra + k * 12;
            let v = u64::from(self.word(at + 4)) | u64::from(self.word(at + 8)) << 32;
            (self.word(at), v as i64)
        }
    }

    fn enumeration_of(&self, id: u32) -> Result<Enumeration> {
        let rec = self.record(id)?;
        let values = (0..rec.vlen)
            .map(|k| {
                let (n, v) = self.enumerator_at(&rec, k);
                Ok((self.name(n)?.unwrap_or_default(), v))
            })
            .collect::<Result<_>>()?;
        Ok(Enumeration {
            name: self.name(rec.name_off)?,
            size: u64::from(rec.size_or_type),
            values,
        })
    }

    /// The resolved type with this id (structs and unions embedded by value expanded).
    pub fn type_desc(&self, id: u32) -> Result<TypeDesc> {
        self.desc(id, Mode::Expand, 0)
    }

    /// Whether this BTF records the sign of chars: its `signed char` carries the SIGNED bit.
    fn char_sign_recorded(&self) -> bool {
        *self.char_sign_recorded.get_or_init(|| {
            self.named("signed char", &[KIND_INT])
                .first()
                .and_then(|&id| self.record(id).ok())
                .is_some_and(|r| (self.word(r.extra) >> 24) & INT_SIGNED != 0)
        })
    }

    /// The C spelling of the type with this id, typedef names kept (as the DWARF reader spells it).
    pub fn type_name(&self, id: u32) -> Result<String> {
        self.spell(id, 0)
    }

    /// The id of a named type of any kind that has a name in BTF (`long unsigned int`, `atomic_t`,
    /// `struct module`'s tag `module`...): the first one in id order.
    pub fn type_id(&self, name: &str) -> Option<u32> {
        self.named(
            name,
            &[
                KIND_INT,
                KIND_FLOAT,
                KIND_TYPEDEF,
                KIND_STRUCT,
                KIND_UNION,
                KIND_ENUM,
                KIND_ENUM64,
            ],
        )
        .first()
        .copied()
    }

    /// The type of a `VAR` record named `name` (vmlinux BTF has them for per-CPU variables only).
    pub fn var_type(&self, name: &str) -> Option<u32> {
        let id = *self.named(name, &[KIND_VAR]).first()?;
        Some(self.record(id).ok()?.size_or_type)
    }

    /// Ids of anonymous structs whose members are exactly `members`, by name, in order.
    pub fn anonymous_structs_with(&self, members: &[&str]) -> Vec<u32> {
        (1..self.type_count() as u32)
            .filter(|&id| {
                let Ok(rec) = self.record(id) else {
                    return false;
                };
                rec.kind == KIND_STRUCT
                    && rec.name_off == 0
                    && rec.vlen == members.len()
                    && members.iter().enumerate().all(|(k, want)| {
                        self.str_bytes(self.word(rec.extra + 12 * k))
                            .is_ok_and(|n| n == want.as_bytes())
                    })
            })
            .collect()
    }

    fn check_depth(depth: u32, id: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!(
                "type references nest deeper than {MAX_DEPTH} at id {id} (a loop?)"
            )));
        }
        Ok(())
    }

    fn desc(&self, id: u32, mode: Mode, depth: u32) -> Result<TypeDesc> {
        if id == 0 {
            return Ok(TypeDesc::Void);
        }
        Self::check_depth(depth, id)?;
        let rec = self.record(id)?;
        Ok(match rec.kind {
            KIND_INT => {
                let enc = (self.word(rec.extra) >> 24) & 0xf;
                let name = self.name(rec.name_off)?.unwrap_or_default();
                let size = u64::from(rec.size_or_type);
                // DWARF says signed_char or unsigned_char; BTF keeps a CHAR bit (not always set by pahole),
                // so a 1-byte integer named `...char` is a char. Its sign: `unsigned char` is unsigned,
                // `signed char` signed; plain `char` is signed on x86-64 before 6.2 and unsigned from 6.2
                // on (`-funsigned-char`). Newer pahole says which in the SIGNED bit (6.1: set, 6.12: not);
                // older pahole (5.10's) records no char's sign at all, and then `char` is the C default.
                let is_char = enc & INT_CHAR != 0 || (size == 1 && name.ends_with("char"));
                let encoding = if enc & INT_BOOL != 0 {
                    BaseEncoding::Bool
                } else if is_char {
                    let signed = if name.starts_with("unsigned") {
                        false
                    } else if enc & INT_SIGNED != 0 || name.starts_with("signed") {
                        true
                    } else {
                        !self.char_sign_recorded()
                    };
                    if signed {
                        BaseEncoding::SignedChar
                    } else {
                        BaseEncoding::UnsignedChar
                    }
                } else if enc & INT_SIGNED != 0 {
                    BaseEncoding::Signed
                } else {
                    BaseEncoding::Unsigned
                };
                TypeDesc::Base(BaseType {
                    name,
                    size,
                    encoding,
                })
            }
            KIND_FLOAT => TypeDesc::Base(BaseType {
                name: self.name(rec.name_off)?.unwrap_or_default(),
                size: u64::from(rec.size_or_type),
                encoding: BaseEncoding::Float,
            }),
            // x86-64 pointers; BTF records no pointer size.
            KIND_PTR => TypeDesc::Pointer {
                size: 8,
                target: Box::new(self.desc(rec.size_or_type, Mode::Shallow, depth + 1)?),
            },
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                self.desc(rec.size_or_type, mode, depth + 1)?
            }
            KIND_ARRAY => {
                let elem = self.word(rec.extra);
                let n = self.word(rec.extra + 8);
                TypeDesc::Array {
                    element: Box::new(self.desc(elem, mode, depth + 1)?),
                    // BTF writes `x[]` (and `x[0]`) as 0 elements; DWARF reads both as unsized.
                    count: (n != 0).then_some(u64::from(n)),
                }
            }
            KIND_STRUCT | KIND_UNION => {
                let kind = if rec.kind == KIND_UNION {
                    AggregateKind::Union
                } else {
                    AggregateKind::Struct
                };
                if mode == Mode::Shallow {
                    TypeDesc::Opaque {
                        kind,
                        name: self.name(rec.name_off)?,
                    }
                } else {
                    TypeDesc::Aggregate(self.layout_of(id, depth + 1)?)
                }
            }
            KIND_FWD => TypeDesc::Opaque {
                kind: if rec.kind_flag {
                    AggregateKind::Union
                } else {
                    AggregateKind::Struct
                },
                name: self.name(rec.name_off)?,
            },
            KIND_ENUM | KIND_ENUM64 => TypeDesc::Enum {
                name: self.name(rec.name_off)?,
                size: u64::from(rec.size_or_type),
            },
            KIND_FUNC_PROTO => TypeDesc::Function,
            k => {
                return Err(malformed(format!(
                    "type id {id} of kind {k} is not a data type"
                )))
            }
        })
    }

    fn spell(&self, id: u32, depth: u32) -> Result<String> {
        if id == 0 {
            return Ok("void".into());
        }
        Self::check_depth(depth, id)?;
        let rec = self.record(id)?;
        let name = self.name(rec.name_off)?;
        let inner = || self.spell(rec.size_or_type, depth + 1);
        let tagged = |kw: &str| format!("{kw} {}", name.as_deref().unwrap_or("{...}"));
        Ok(match rec.kind {
            KIND_INT | KIND_FLOAT | KIND_TYPEDEF => name.unwrap_or_default(),
            KIND_STRUCT => tagged("struct"),
            KIND_UNION => tagged("union"),
            KIND_FWD if rec.kind_flag => tagged("union"),
            KIND_FWD => tagged("struct"),
            KIND_ENUM | KIND_ENUM64 => tagged("enum"),
            KIND_PTR => format!("{} *", inner()?),
            KIND_CONST => format!("const {}", inner()?),
            KIND_VOLATILE => format!("volatile {}", inner()?),
            KIND_RESTRICT | KIND_TYPE_TAG => inner()?,
            KIND_ARRAY => {
                // DWARF spells `int a[2][3]` from one array entry with two dimensions; BTF nests arrays.
                let mut dims = String::new();
                let mut at = rec;
                let mut d = depth;
                loop {
                    match self.word(at.extra + 8) {
                        0 => dims.push_str("[]"),
                        n => dims.push_str(&format!("[{n}]")),
                    }
                    let elem = self.word(at.extra);
                    d += 1;
                    Self::check_depth(d, elem)?;
                    match self.record(elem) {
                        Ok(r) if elem != 0 && r.kind == KIND_ARRAY => at = r,
                        _ => return Ok(format!("{}{dims}", self.spell(elem, d)?)),
                    }
                }
            }
            KIND_FUNC_PROTO => "function".into(),
            _ => name.unwrap_or_else(|| "?".into()),
        })
    }

    fn layout_of(&self, id: u32, depth: u32) -> Result<Layout> {
        Self::check_depth(depth, id)?;
        let rec = self.record(id)?;
        if !matches!(rec.kind, KIND_STRUCT | KIND_UNION) {
            return Err(malformed(format!("type id {id} is not a struct or union")));
        }
        let members = (0..rec.vlen)
            .map(|k| self.member(&rec, k, depth))
            .collect::<Result<_>>()?;
        Ok(Layout {
            kind: if rec.kind == KIND_UNION {
                AggregateKind::Union
            } else {
                AggregateKind::Struct
            },
            name: self.name(rec.name_off)?,
            size: u64::from(rec.size_or_type),
            members,
        })
    }

    /// Member `k` of a struct or union record.
    fn member(&self, rec: &Record, k: usize, depth: u32) -> Result<Member> {
        let at = rec.extra + 12 * k;
        let (name_off, ty, raw) = (self.word(at), self.word(at + 4), self.word(at + 8));
        let desc = self.desc(ty, Mode::Expand, depth + 1)?;
        let size = desc.size().unwrap_or(0);
        // With kind_flag the offset word is `bitfield_size << 24 | bit_offset`; without it a bit
        // field's width and extra offset sit in its INT type (the pre-2018 encoding).
        let (mut bit_offset, mut bit_size) = if rec.kind_flag {
            (u64::from(raw & 0x00ff_ffff), u64::from(raw >> 24))
        } else {
            (u64::from(raw), 0)
        };
        if !rec.kind_flag {
            if let Some((int_offset, nr_bits)) = self.int_bits(ty, depth + 1)? {
                if int_offset != 0 || u64::from(nr_bits) != size * 8 {
                    bit_offset += u64::from(int_offset);
                    bit_size = u64::from(nr_bits);
                }
            }
        }
        let (offset, bits) = if bit_size == 0 {
            (bit_offset / 8, None)
        } else {
            // Same convention as the DWARF reader: the storage unit aligned to the type's size.
            let unit = size.max(1);
            let unit_offset = bit_offset / 8 / unit * unit;
            (
                unit_offset,
                Some(BitField {
                    first_bit: bit_offset - unit_offset * 8,
                    bit_size,
                }),
            )
        };
        Ok(Member {
            name: self.name(name_off)?,
            offset,
            size,
            bits,
            type_name: self.spell(ty, 0)?,
            ty: desc,
        })
    }

    /// An INT's (bit offset, bit count), through typedefs and qualifiers.
    fn int_bits(&self, id: u32, depth: u32) -> Result<Option<(u32, u32)>> {
        if id == 0 {
            return Ok(None);
        }
        Self::check_depth(depth, id)?;
        let rec = self.record(id)?;
        match rec.kind {
            KIND_INT => {
                let w = self.word(rec.extra);
                Ok(Some(((w >> 16) & 0xff, w & 0xff)))
            }
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                self.int_bits(rec.size_or_type, depth + 1)
            }
            _ => Ok(None),
        }
    }

    /// Walk every record and resolve every data type once (for fuzzing and tests: proves that no id
    /// makes the reader panic or loop). Returns the number of types that resolved.
    pub fn check_all(&self) -> usize {
        (1..self.type_count() as u32)
            .filter(|&id| {
                let d = self.desc(id, Mode::Shallow, 0).is_ok();
                let n = self.spell(id, 0).is_ok();
                let e = self
                    .record(id)
                    .is_ok_and(|r| matches!(r.kind, KIND_ENUM | KIND_ENUM64))
                    && self.enumeration_of(id).is_ok();
                d || n || e
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small BTF blob: strings, then type records given as words.
    struct Builder {
        strings: Vec<u8>,
        types: Vec<u32>,
    }

    impl Builder {
        fn new() -> Builder {
            Builder {
                strings: vec![0],
                types: Vec::new(),
            }
        }
        fn s(&mut self, name: &str) -> u32 {
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            off
        }
        fn t(
            &mut self,
            name: &str,
            kind: u32,
            vlen: u32,
            kind_flag: bool,
            size_or_type: u32,
            extra: &[u32],
        ) {
            let n = if name.is_empty() { 0 } else { self.s(name) };
            self.types.extend([
                n,
                kind << 24 | vlen | u32::from(kind_flag) << 31,
                size_or_type,
            ]);
            self.types.extend_from_slice(extra);
        }
        fn bytes(&self) -> Vec<u8> {
            let type_len = self.types.len() as u32 * 4;
            let mut out = Vec::new();
            out.extend_from_slice(&MAGIC.to_le_bytes());
            out.extend([1, 0]);
            for w in [24, 0, type_len, type_len, self.strings.len() as u32] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            for w in &self.types {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// 1 int, 2 unsigned char, 3 struct s { int a; unsigned char f:3 (bit 37); char name[4]; s *next },
    /// 4 char[4], 5 ptr to 3, 6 enum e { A = -1, B = 7 }, 7 typedef t -> 3, 8 typedef loop -> 8.
    fn sample() -> Builder {
        let mut b = Builder::new();
        b.t("int", KIND_INT, 0, false, 4, &[INT_SIGNED << 24 | 32]);
        b.t("unsigned char", KIND_INT, 0, false, 1, &[8]);
        let (a, f, nm, nx) = (b.s("a"), b.s("f"), b.s("name"), b.s("next"));
        b.t(
            "s",
            KIND_STRUCT,
            4,
            true,
            24,
            &[a, 1, 0, f, 2, 3 << 24 | 37, nm, 4, 48, nx, 5, 64],
        );
        b.t("", KIND_ARRAY, 0, false, 0, &[2, 1, 4]);
        b.t("", KIND_PTR, 0, false, 3, &[]);
        let (ea, eb) = (b.s("A"), b.s("B"));
        b.t("e", KIND_ENUM, 2, true, 4, &[ea, u32::MAX, eb, 7]);
        b.t("t", KIND_TYPEDEF, 0, false, 3, &[]);
        b.t("loop", KIND_TYPEDEF, 0, false, 8, &[]);
        b
    }

    /// Plain `char` is signed or not as the kernel was built (6.2+: `-funsigned-char`); newer pahole says
    /// which in the SIGNED bit (as the 6.1 and 6.12 vmlinux .BTF show), older pahole records no char's sign
    /// (5.10's: `signed char` has no SIGNED bit either) and `char` is then signed, the C default there.
    #[test]
    fn plain_char_signedness_follows_the_signed_bit() {
        for (bits, signed_char_bits, want) in [
            (
                INT_SIGNED << 24 | 8,
                INT_SIGNED << 24 | 8,
                BaseEncoding::SignedChar,
            ),
            (8, INT_SIGNED << 24 | 8, BaseEncoding::UnsignedChar),
            (8, 8, BaseEncoding::SignedChar),
        ] {
            let mut b = Builder::new();
            b.t("char", KIND_INT, 0, false, 1, &[bits]);
            b.t("signed char", KIND_INT, 0, false, 1, &[signed_char_bits]);
            let c = b.s("c");
            b.t("holder", KIND_STRUCT, 1, false, 1, &[c, 1, 0]);
            let btf = Btf::parse(b.bytes()).unwrap();
            let m = btf.layout("holder").unwrap().member("c").unwrap();
            match &m.ty {
                TypeDesc::Base(base) => assert_eq!(base.encoding, want, "{bits:#x}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn reads_layouts_enums_and_names() {
        let btf = Btf::parse(sample().bytes()).unwrap();
        assert_eq!(btf.type_count(), 9);
        let s = btf.layout("s").unwrap();
        assert_eq!(s.size, 24);
        let f = s.member("f").unwrap();
        assert_eq!((f.offset, f.size), (4, 1));
        assert_eq!(
            f.bits,
            Some(BitField {
                first_bit: 5,
                bit_size: 3
            })
        );
        let name = s.member("name").unwrap();
        assert_eq!(
            (name.offset, name.size, name.type_name.as_str()),
            (6, 4, "unsigned char[4]")
        );
        let next = s.member("next").unwrap();
        assert_eq!(next.type_name, "struct s *");
        assert!(matches!(next.ty, TypeDesc::Pointer { size: 8, .. }));
        assert_eq!(btf.enumerator("A"), Some(-1));
        assert_eq!(btf.enumeration("e").unwrap().value("B"), Some(7));
        assert!(matches!(btf.type_desc(7).unwrap(), TypeDesc::Aggregate(_)));
        assert!(
            matches!(btf.type_desc(8), Err(BtfError::Malformed(_))),
            "a typedef loop"
        );
        assert!(btf.layout("nope").is_err());
        assert!(btf.check_all() >= 7);
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let good = sample().bytes();
        // Cut anywhere: an error at parse time, or (cut inside the strings) later lookups fail cleanly.
        for len in 0..good.len() {
            if let Ok(btf) = Btf::parse(good[..len].to_vec()) {
                btf.check_all();
                let _ = btf.layout("s");
                let _ = btf.enumerator("B");
            }
        }
        let mut bad = good.clone();
        bad[0] = 0;
        assert!(
            matches!(Btf::parse(bad), Err(BtfError::Malformed(_))),
            "bad magic"
        );
        let mut bad = good.clone();
        bad[2] = 2;
        assert!(Btf::parse(bad).is_err(), "unknown version");
        // The type section claims more than the blob holds.
        let mut bad = good.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Btf::parse(bad), Err(BtfError::Truncated(_))));

        // Wild type ids, out-of-range string offsets and unknown kinds, word by word.
        let words = sample().types;
        for i in 0..words.len() {
            for wild in [u32::MAX, 0x00ff_ffff, 1000, 0x1f << 24 | 3] {
                let mut b = sample();
                b.types[i] = wild;
                if let Ok(btf) = Btf::parse(b.bytes()) {
                    btf.check_all();
                    let _ = btf.layout("s").map(|l| l.member("next"));
                    let _ = btf.enumeration("e");
                    let _ = btf.enumerator("A");
                    let _ = btf.variable_type("taint_flags", None);
                    let _ = btf.variable_type("last_unloaded_module", None);
                }
            }
        }
        // A name offset beyond the strings is refused at parse time.
        let mut b = sample();
        b.types[0] = 10_000;
        assert!(matches!(Btf::parse(b.bytes()), Err(BtfError::Malformed(_))));
        // A member whose type id is out of range: the layout fails, the parse does not.
        let mut b = sample();
        // Records 1 and 2 are 4 words each; then s's 3 fixed words; its first member's type is word 2.
        b.types[4 + 4 + 3 + 1] = 999;
        let btf = Btf::parse(b.bytes()).unwrap();
        assert!(btf.layout("s").is_err());
    }
}
