//! DIE -> [`crate::types`] conversion, within one unit.

use gimli::{constants as dw, AttributeValue, UnitOffset};

use super::skim::Slice;
use crate::types::{
    AggregateKind, BaseEncoding, BaseType, BitField, Enumeration, Layout, Member, TypeDesc,
};

/// Deepest nesting of by-value types we follow; real kernels stay far below. Malformed DWARF with
/// a by-value cycle stops here instead of recursing forever.
const MAX_DEPTH: u32 = 64;
/// Most members/enumerators per type we accept (the kernel's largest are a few hundred).
const MAX_CHILDREN: usize = 1 << 16;

pub(crate) type ConvResult<T> = Result<T, String>;

pub(crate) struct Converter<'a, 'd> {
    pub dwarf: &'d gimli::Dwarf<Slice<'a>>,
    pub unit: &'d gimli::Unit<Slice<'a>>,
}

fn gerr(e: gimli::Error) -> String {
    e.to_string()
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Expand aggregates embedded by value.
    Expand,
    /// Describe aggregates by name only (behind pointers).
    Shallow,
}

impl<'a> Converter<'a, '_> {
    fn entry(&self, offset: UnitOffset) -> ConvResult<gimli::DebuggingInformationEntry<Slice<'a>>> {
        self.unit
            .entry(offset)
            .map_err(|e| format!("DIE at unit offset {:#x}: {e}", offset.0))
    }

    fn name(
        &self,
        die: &gimli::DebuggingInformationEntry<Slice<'a>>,
    ) -> ConvResult<Option<String>> {
        match die.attr_value(dw::DW_AT_name) {
            None => Ok(None),
            Some(v) => {
                let s = self.dwarf.attr_string(self.unit, v).map_err(gerr)?;
                Ok(Some(String::from_utf8_lossy(s.slice()).into_owned()))
            }
        }
    }

    fn type_ref(
        &self,
        die: &gimli::DebuggingInformationEntry<Slice<'a>>,
    ) -> ConvResult<Option<UnitOffset>> {
        match die.attr_value(dw::DW_AT_type) {
            None => Ok(None),
            Some(AttributeValue::UnitRef(o)) => Ok(Some(o)),
            Some(AttributeValue::DebugInfoRef(o)) => o
                .to_unit_offset(&self.unit.header)
                .map(Some)
                .ok_or_else(|| format!("cross-unit type reference {:#x} is not supported", o.0)),
            Some(v) => Err(format!("unexpected DW_AT_type form {v:?}")),
        }
    }

    fn udata(die: &gimli::DebuggingInformationEntry<Slice<'a>>, at: gimli::DwAt) -> Option<u64> {
        die.attr_value(at).and_then(|v| v.udata_value())
    }

    fn desc(&self, offset: Option<UnitOffset>, mode: Mode, depth: u32) -> ConvResult<TypeDesc> {
        let Some(offset) = offset else {
            return Ok(TypeDesc::Void);
        };
        if depth > MAX_DEPTH {
            return Err(format!(
                "type nesting deeper than {MAX_DEPTH} at unit offset {:#x}",
                offset.0
            ));
        }
        let die = self.entry(offset)?;
        Ok(match die.tag() {
            dw::DW_TAG_base_type => {
                let ate = die.attr_value(dw::DW_AT_encoding);
                let encoding = match ate {
                    Some(AttributeValue::Encoding(e)) => match e {
                        dw::DW_ATE_signed => BaseEncoding::Signed,
                        dw::DW_ATE_unsigned => BaseEncoding::Unsigned,
                        dw::DW_ATE_signed_char => BaseEncoding::SignedChar,
                        dw::DW_ATE_unsigned_char => BaseEncoding::UnsignedChar,
                        dw::DW_ATE_boolean => BaseEncoding::Bool,
                        dw::DW_ATE_float => BaseEncoding::Float,
                        _ => BaseEncoding::Other,
                    },
                    _ => BaseEncoding::Other,
                };
                TypeDesc::Base(BaseType {
                    name: self.name(&die)?.unwrap_or_default(),
                    size: Self::udata(&die, dw::DW_AT_byte_size).unwrap_or(0),
                    encoding,
                })
            }
            dw::DW_TAG_pointer_type
            | dw::DW_TAG_reference_type
            | dw::DW_TAG_rvalue_reference_type => TypeDesc::Pointer {
                size: Self::udata(&die, dw::DW_AT_byte_size)
                    .unwrap_or(u64::from(self.unit.header.address_size())),
                target: Box::new(self.desc(self.type_ref(&die)?, Mode::Shallow, depth + 1)?),
            },
            dw::DW_TAG_typedef
            | dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type
            | dw::DW_TAG_immutable_type => self.desc(self.type_ref(&die)?, mode, depth + 1)?,
            dw::DW_TAG_array_type => {
                let element = self.desc(self.type_ref(&die)?, mode, depth + 1)?;
                let dims = self.array_dims(offset)?;
                // `int a[2][3]`: the last subrange is the innermost array.
                let mut ty = element;
                for count in dims.into_iter().rev() {
                    ty = TypeDesc::Array {
                        element: Box::new(ty),
                        count,
                    };
                }
                ty
            }
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                let kind = if die.tag() == dw::DW_TAG_union_type {
                    AggregateKind::Union
                } else {
                    AggregateKind::Struct
                };
                let declaration = matches!(
                    die.attr_value(dw::DW_AT_declaration),
                    Some(AttributeValue::Flag(true))
                );
                if mode == Mode::Shallow || declaration {
                    TypeDesc::Opaque {
                        kind,
                        name: self.name(&die)?,
                    }
                } else {
                    TypeDesc::Aggregate(self.layout_at(offset, depth + 1)?)
                }
            }
            dw::DW_TAG_enumeration_type => TypeDesc::Enum {
                name: self.name(&die)?,
                size: Self::udata(&die, dw::DW_AT_byte_size).unwrap_or(0),
            },
            dw::DW_TAG_subroutine_type => TypeDesc::Function,
            dw::DW_TAG_unspecified_type => TypeDesc::Void,
            t => {
                return Err(format!(
                    "unsupported type tag {t} at unit offset {:#x}",
                    offset.0
                ))
            }
        })
    }

    /// Element counts of an array DIE's subranges (`None` = unsized).
    fn array_dims(&self, offset: UnitOffset) -> ConvResult<Vec<Option<u64>>> {
        let mut tree = self.unit.entries_tree(Some(offset)).map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let mut children = root.children();
        let mut dims = Vec::new();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            if e.tag() != dw::DW_TAG_subrange_type && e.tag() != dw::DW_TAG_enumeration_type {
                continue;
            }
            if dims.len() >= MAX_CHILDREN {
                return Err("too many array dimensions".into());
            }
            let count = if let Some(c) = Self::udata(e, dw::DW_AT_count) {
                Some(c)
            } else if let Some(v) = e.attr_value(dw::DW_AT_upper_bound) {
                let lower = Self::udata(e, dw::DW_AT_lower_bound).unwrap_or(0);
                // GCC writes `x[]` as upper bound -1 (data form) or omits it.
                match v {
                    AttributeValue::Sdata(-1) => None,
                    v => match v.udata_value() {
                        Some(u64::MAX) | None => None,
                        Some(upper) => upper.checked_sub(lower).and_then(|n| n.checked_add(1)),
                    },
                }
            } else {
                None
            };
            dims.push(count);
        }
        if dims.is_empty() {
            dims.push(None);
        }
        Ok(dims)
    }

    /// The C spelling of a type as declared (typedef names kept).
    pub fn type_name(&self, offset: Option<UnitOffset>, depth: u32) -> ConvResult<String> {
        let Some(offset) = offset else {
            return Ok("void".into());
        };
        if depth > MAX_DEPTH {
            return Err("type name nesting too deep".into());
        }
        let die = self.entry(offset)?;
        let name = self.name(&die)?;
        let inner = |s: &Self| s.type_name(s.type_ref(&die)?, depth + 1);
        Ok(match die.tag() {
            dw::DW_TAG_base_type | dw::DW_TAG_typedef => name.unwrap_or_default(),
            dw::DW_TAG_structure_type | dw::DW_TAG_class_type => {
                format!("struct {}", name.as_deref().unwrap_or("{...}"))
            }
            dw::DW_TAG_union_type => format!("union {}", name.as_deref().unwrap_or("{...}")),
            dw::DW_TAG_enumeration_type => format!("enum {}", name.as_deref().unwrap_or("{...}")),
            dw::DW_TAG_pointer_type => format!("{} *", inner(self)?),
            dw::DW_TAG_const_type => format!("const {}", inner(self)?),
            dw::DW_TAG_volatile_type => format!("volatile {}", inner(self)?),
            dw::DW_TAG_restrict_type | dw::DW_TAG_atomic_type | dw::DW_TAG_immutable_type => {
                inner(self)?
            }
            dw::DW_TAG_array_type => {
                let mut s = inner(self)?;
                for d in self.array_dims(offset)? {
                    match d {
                        Some(n) => s.push_str(&format!("[{n}]")),
                        None => s.push_str("[]"),
                    }
                }
                s
            }
            dw::DW_TAG_subroutine_type => "function".into(),
            _ => name.unwrap_or_else(|| "?".into()),
        })
    }

    /// The layout of the struct/union DIE at `offset`.
    pub fn layout_at(&self, offset: UnitOffset, depth: u32) -> ConvResult<Layout> {
        let die = self.entry(offset)?;
        let kind = if die.tag() == dw::DW_TAG_union_type {
            AggregateKind::Union
        } else {
            AggregateKind::Struct
        };
        let size = Self::udata(&die, dw::DW_AT_byte_size).unwrap_or(0);
        let name = self.name(&die)?;
        let mut members = Vec::new();
        let mut tree = self.unit.entries_tree(Some(offset)).map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            if e.tag() != dw::DW_TAG_member {
                continue;
            }
            if members.len() >= MAX_CHILDREN {
                return Err("too many members".into());
            }
            members.push(self.member(e, depth)?);
        }
        Ok(Layout {
            kind,
            name,
            size,
            members,
        })
    }

    fn member(
        &self,
        e: &gimli::DebuggingInformationEntry<Slice<'a>>,
        depth: u32,
    ) -> ConvResult<Member> {
        let ty_off = self.type_ref(e)?;
        let ty = self.desc(ty_off, Mode::Expand, depth + 1)?;
        let type_name = self.type_name(ty_off, 0)?;
        let size = ty.size().unwrap_or(0);
        let byte_offset = match e.attr_value(dw::DW_AT_data_member_location) {
            None => 0,
            Some(AttributeValue::Exprloc(expr)) => {
                // DWARF 2 style: DW_OP_plus_uconst N.
                let b = expr.0.slice();
                let mut c = super::forms::Cursor::new(b, 0);
                match c.u8() {
                    Some(op) if op == dw::DW_OP_plus_uconst.0 => {
                        c.uleb().ok_or("bad member location")?
                    }
                    _ => return Err("unsupported member location expression".into()),
                }
            }
            Some(v) => v.udata_value().ok_or("bad member location form")?,
        };
        let bit_size = Self::udata(e, dw::DW_AT_bit_size);
        let (offset, bits) = match bit_size {
            None => (byte_offset, None),
            Some(bit_size) => {
                // Absolute bit position from the start of the layout.
                let data_bit = if let Some(d) = Self::udata(e, dw::DW_AT_data_bit_offset) {
                    d
                } else if let Some(big_endian_bit) = Self::udata(e, dw::DW_AT_bit_offset) {
                    // DWARF 2-4: counted from the storage unit's most significant bit.
                    let unit_bytes = Self::udata(e, dw::DW_AT_byte_size).unwrap_or(size);
                    (byte_offset * 8 + unit_bytes * 8)
                        .checked_sub(big_endian_bit + bit_size)
                        .ok_or("bad DW_AT_bit_offset")?
                } else {
                    byte_offset * 8
                };
                let unit = size.max(1);
                let unit_offset = data_bit / 8 / unit * unit;
                (
                    unit_offset,
                    Some(BitField {
                        first_bit: data_bit - unit_offset * 8,
                        bit_size,
                    }),
                )
            }
        };
        Ok(Member {
            name: self.name(e)?,
            offset,
            size,
            bits,
            type_name,
            ty,
        })
    }

    /// The enumerators of the enumeration DIE at `offset`.
    pub fn enumeration_at(&self, offset: UnitOffset) -> ConvResult<Enumeration> {
        let die = self.entry(offset)?;
        let size = Self::udata(&die, dw::DW_AT_byte_size).unwrap_or(0);
        let signed = match self.desc(self.type_ref(&die)?, Mode::Shallow, 0) {
            Ok(TypeDesc::Base(b)) => {
                matches!(b.encoding, BaseEncoding::Signed | BaseEncoding::SignedChar)
            }
            _ => true,
        };
        let mut values = Vec::new();
        let mut tree = self.unit.entries_tree(Some(offset)).map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            if e.tag() != dw::DW_TAG_enumerator {
                continue;
            }
            if values.len() >= MAX_CHILDREN {
                return Err("too many enumerators".into());
            }
            let value = match e.attr_value(dw::DW_AT_const_value) {
                Some(AttributeValue::Sdata(v)) => v,
                Some(AttributeValue::Udata(v)) => v as i64,
                Some(AttributeValue::Data1(v)) if signed => i64::from(v as i8),
                Some(AttributeValue::Data2(v)) if signed => i64::from(v as i16),
                Some(AttributeValue::Data4(v)) if signed => i64::from(v as i32),
                Some(v) => v.udata_value().ok_or("bad enumerator value")? as i64,
                None => return Err("enumerator without value".into()),
            };
            values.push((self.name(e)?.unwrap_or_default(), value));
        }
        Ok(Enumeration {
            name: self.name(&die)?,
            size,
            values,
        })
    }

    /// The type of the variable DIE at `offset` (following `DW_AT_specification`).
    pub fn variable_type(&self, offset: UnitOffset) -> ConvResult<(TypeDesc, String)> {
        let die = self.entry(offset)?;
        let mut ty = self.type_ref(&die)?;
        if ty.is_none() {
            if let Some(AttributeValue::UnitRef(spec)) = die.attr_value(dw::DW_AT_specification) {
                ty = self.type_ref(&self.entry(spec)?)?;
            }
        }
        Ok((self.desc(ty, Mode::Expand, 0)?, self.type_name(ty, 0)?))
    }
}
