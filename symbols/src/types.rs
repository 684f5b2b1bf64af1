//! A small, reader-independent model of kernel types.
//!
//! DWARF (this crate) and BTF (a later reader) both produce these values, so nothing here knows
//! about gimli. Aggregates embedded by value are expanded in place (a [`Layout`] inside a
//! [`TypeDesc::Aggregate`]); what sits behind a pointer is described shallowly
//! ([`TypeDesc::Opaque`] for structs and unions), which keeps self-referential types finite.

use std::fmt;

/// `struct` or `union`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateKind {
    /// A `struct`.
    Struct,
    /// A `union`.
    Union,
}

impl AggregateKind {
    /// The C keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            AggregateKind::Struct => "struct",
            AggregateKind::Union => "union",
        }
    }
}

/// How a base type's bits are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseEncoding {
    /// Signed integer.
    Signed,
    /// Unsigned integer.
    Unsigned,
    /// Plain or signed `char`.
    SignedChar,
    /// `unsigned char`.
    UnsignedChar,
    /// `_Bool`.
    Bool,
    /// Floating point.
    Float,
    /// Anything else (complex, decimal float...).
    Other,
}

/// A base (scalar) type such as `unsigned long` or `_Bool`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseType {
    /// The C name, e.g. `long unsigned int`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// How the bits are interpreted.
    pub encoding: BaseEncoding,
}

/// A type, with typedefs and qualifiers (`const`, `volatile`) resolved away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDesc {
    /// `void` (only behind pointers, or a function's return).
    Void,
    /// A scalar.
    Base(BaseType),
    /// An enumeration; its values come from [`crate::Vmlinux::enumeration`].
    Enum {
        /// The tag name (`module_state`), `None` when anonymous.
        name: Option<String>,
        /// Size in bytes.
        size: u64,
    },
    /// A pointer; `target` is described shallowly.
    Pointer {
        /// Size of the pointer in bytes.
        size: u64,
        /// What it points at.
        target: Box<TypeDesc>,
    },
    /// An array; `count` is `None` for a flexible or unsized array (`x[]`).
    /// Multi-dimensional arrays nest: `int a[2][3]` is an array of 2 arrays of 3.
    Array {
        /// Element type.
        element: Box<TypeDesc>,
        /// Number of elements, when known.
        count: Option<u64>,
    },
    /// A struct or union embedded by value, expanded.
    Aggregate(Layout),
    /// A struct or union not expanded: behind a pointer, or declared without a definition.
    Opaque {
        /// `struct` or `union`.
        kind: AggregateKind,
        /// The tag name, `None` when anonymous.
        name: Option<String>,
    },
    /// A function (only behind pointers).
    Function,
}

impl TypeDesc {
    /// Size in bytes, when the type has one (not for `void`, functions, opaque or unsized arrays).
    pub fn size(&self) -> Option<u64> {
        match self {
            TypeDesc::Void | TypeDesc::Function | TypeDesc::Opaque { .. } => None,
            TypeDesc::Base(b) => Some(b.size),
            TypeDesc::Enum { size, .. } | TypeDesc::Pointer { size, .. } => Some(*size),
            TypeDesc::Array { element, count } => element.size()?.checked_mul((*count)?),
            TypeDesc::Aggregate(layout) => Some(layout.size),
        }
    }

    /// The expanded struct or union, if this is one.
    pub fn as_layout(&self) -> Option<&Layout> {
        match self {
            TypeDesc::Aggregate(layout) => Some(layout),
            _ => None,
        }
    }

    /// Element type and count, if this is an array.
    pub fn as_array(&self) -> Option<(&TypeDesc, Option<u64>)> {
        match self {
            TypeDesc::Array { element, count } => Some((element, *count)),
            _ => None,
        }
    }

    /// True for `char`, `signed char` and `unsigned char` (what kernel strings are made of).
    pub fn is_char(&self) -> bool {
        matches!(
            self,
            TypeDesc::Base(BaseType {
                size: 1,
                encoding: BaseEncoding::SignedChar | BaseEncoding::UnsignedChar,
                ..
            })
        )
    }
}

impl fmt::Display for TypeDesc {
    /// A C-like spelling: `long unsigned int`, `struct taint_flag[19]`, `char *`, `struct {...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeDesc::Void => f.write_str("void"),
            TypeDesc::Base(b) => f.write_str(&b.name),
            TypeDesc::Enum { name, .. } => write!(f, "enum {}", name.as_deref().unwrap_or("{...}")),
            TypeDesc::Pointer { target, .. } => write!(f, "{target} *"),
            TypeDesc::Array { element, count } => match count {
                Some(n) => write!(f, "{element}[{n}]"),
                None => write!(f, "{element}[]"),
            },
            TypeDesc::Aggregate(l) => {
                write!(
                    f,
                    "{} {}",
                    l.kind.keyword(),
                    l.name.as_deref().unwrap_or("{...}")
                )
            }
            TypeDesc::Opaque { kind, name } => {
                write!(
                    f,
                    "{} {}",
                    kind.keyword(),
                    name.as_deref().unwrap_or("{...}")
                )
            }
            TypeDesc::Function => f.write_str("function"),
        }
    }
}

/// Where a bit field sits inside its storage unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BitField {
    /// First bit, counted from the least significant bit of the storage unit (the
    /// little-endian integer of [`Member::size`] bytes at [`Member::offset`]).
    pub first_bit: u64,
    /// Width in bits.
    pub bit_size: u64,
}

/// One member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name; `None` for an anonymous struct or union member.
    pub name: Option<String>,
    /// Byte offset from the start of the layout it was looked up in. For a bit field, the
    /// offset of its storage unit (aligned to the unit's size, as pahole prints it).
    pub offset: u64,
    /// Size in bytes of the member's type (the storage unit for a bit field); 0 when unsized.
    pub size: u64,
    /// Bit-field placement, for bit fields only.
    pub bits: Option<BitField>,
    /// The type as declared, C-like, typedef names kept (`atomic_long_t`, `char[56]`).
    pub type_name: String,
    /// The resolved type.
    pub ty: TypeDesc,
}

/// A struct or union layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `struct` or `union`.
    pub kind: AggregateKind,
    /// The tag name; `None` when anonymous.
    pub name: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Direct members in declaration order (anonymous members appear once, unflattened).
    pub members: Vec<Member>,
}

/// A member lookup that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{layout} has no member `{member}`")]
pub struct NoSuchMember {
    /// The layout searched, e.g. `struct module`.
    pub layout: String,
    /// The member path asked for.
    pub member: String,
}

impl Layout {
    /// Finds a member by name, looking through anonymous struct and union members (as C does)
    /// and following dotted paths through named ones (`"mkobj.mod"`). The returned member's
    /// offset is cumulative from the start of this layout.
    pub fn member(&self, path: &str) -> Result<Member, NoSuchMember> {
        let missing = || NoSuchMember {
            layout: format!(
                "{} {}",
                self.kind.keyword(),
                self.name.as_deref().unwrap_or("{...}")
            ),
            member: path.to_string(),
        };
        let mut layout = self;
        let mut base = 0u64;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let found = layout
                .find_direct_or_anonymous(part, 0)
                .ok_or_else(missing)?;
            let offset = base.checked_add(found.0).ok_or_else(missing)?;
            if parts.peek().is_none() {
                let mut m = found.1.clone();
                m.offset = offset;
                return Ok(m);
            }
            layout = found.1.ty.as_layout().ok_or_else(missing)?;
            base = offset;
        }
        Err(missing())
    }

    /// True if `member(path)` would succeed.
    pub fn has_member(&self, path: &str) -> bool {
        self.member(path).is_ok()
    }

    /// Depth-first search through anonymous members; returns the cumulative offset.
    fn find_direct_or_anonymous(&self, name: &str, base: u64) -> Option<(u64, &Member)> {
        for m in &self.members {
            let offset = base.checked_add(m.offset)?;
            match &m.name {
                Some(n) if n == name => return Some((offset, m)),
                None => {
                    if let Some(inner) = m.ty.as_layout() {
                        if let Some(hit) = inner.find_direct_or_anonymous(name, offset) {
                            return Some(hit);
                        }
                    }
                }
                Some(_) => {}
            }
        }
        None
    }
}

/// An enumeration's name/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumeration {
    /// The tag name (`module_state`); `None` when anonymous.
    pub name: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// `(name, value)` in declaration order. Unsigned values above `i64::MAX` keep their
    /// bit pattern.
    pub values: Vec<(String, i64)>,
}

impl Enumeration {
    /// The value of an enumerator.
    pub fn value(&self, name: &str) -> Option<i64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The first enumerator with this value.
    pub fn name_of(&self, value: i64) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(n, _)| n.as_str())
    }
}
