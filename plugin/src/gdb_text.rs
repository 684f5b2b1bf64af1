//! The gdb expressions this extension asks crash's embedded gdb, and the parsing of gdb's answers.
//!
//! Type questions go to gdb as C expressions over a *base*: `(*(struct NAME *)0)` for a struct,
//! `(*(union NAME *)0)` for a union, and the variable itself for `typeof(VAR)` (crash's gdb 10.2 does not
//! parse `typeof`/`__typeof__`, but it takes the address of a member of a variable without reading
//! memory). Offsets are `&BASE.path - &BASE`, so dotted paths and members of anonymous structs and unions
//! work exactly as in C. Pure functions only: the calls into gdb are in [`crate::crash_target`].
//!
//! ```ignore
//! // (not a doctest: the crate is a cdylib)
//! assert_eq!(array_len_of("const struct taint_flag [19]"), Some(19));
//! ```

use analyzers::TypeRef;

/// A C identifier: what may be spliced into a gdb command without quoting.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && s.len() <= 128
}

/// A dotted member path of identifiers, e.g. `mkobj.mod`.
pub fn is_member_path(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_ident)
}

/// Whether every name in a type reference can be put in a gdb expression.
pub fn is_valid_type(ty: TypeRef<'_>) -> bool {
    match ty {
        TypeRef::Struct(n) | TypeRef::Union(n) | TypeRef::TypeOf(n) => is_ident(n),
    }
}

/// The lvalue expression whose type is `ty`.
pub fn base_expr(ty: TypeRef<'_>) -> String {
    match ty {
        TypeRef::Struct(n) => format!("(*(struct {n} *)0)"),
        TypeRef::Union(n) => format!("(*(union {n} *)0)"),
        TypeRef::TypeOf(v) => v.to_string(),
    }
}

/// The expression of member `path` (may be empty: the base itself).
pub fn member_expr(ty: TypeRef<'_>, path: &str) -> String {
    if path.is_empty() {
        base_expr(ty)
    } else {
        format!("{}.{path}", base_expr(ty))
    }
}

/// `printf` of a type's size.
pub fn size_command(ty: TypeRef<'_>) -> String {
    format!(
        "printf \"%lu\\n\", (unsigned long)sizeof({})",
        base_expr(ty)
    )
}

/// `printf` of a member's byte offset and size.
pub fn offset_size_command(ty: TypeRef<'_>, path: &str) -> String {
    let base = base_expr(ty);
    let member = member_expr(ty, path);
    format!(
        "printf \"%lu %lu\\n\", (unsigned long)&{member} - (unsigned long)&{base}, \
         (unsigned long)sizeof({member})"
    )
}

/// `whatis` of a member: gdb prints its declared type, e.g. `type = char [56]`.
pub fn whatis_command(ty: TypeRef<'_>, path: &str) -> String {
    format!("whatis {}", member_expr(ty, path))
}

/// `ptype /o` of the type containing the last component of `path` (its offsets are relative to it).
pub fn ptype_offsets_command(ty: TypeRef<'_>, parent_path: &str) -> String {
    format!("ptype /o {}", member_expr(ty, parent_path))
}

/// Whitespace-separated unsigned decimal numbers, as printed by our `printf` commands.
pub fn parse_numbers(text: &str) -> Option<Vec<u64>> {
    let v: Result<Vec<u64>, _> = text.split_whitespace().map(str::parse).collect();
    v.ok().filter(|v| !v.is_empty())
}

/// The type text of a `whatis` answer (`type = char [56]` -> `char [56]`).
pub fn whatis_type(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("type = "))
        .map(str::trim)
}

/// The outermost array length of a type as gdb prints it: `struct module_memory [7]` -> 7,
/// `char [4][8]` -> 4. `None` for non-arrays, pointers to arrays (`char (*)[4]`) and flexible arrays.
pub fn array_len_of(ty: &str) -> Option<u64> {
    if ty.contains('(') {
        return None;
    }
    let open = ty.find('[')?;
    let rest = &ty[open + 1..];
    let close = rest.find(']')?;
    rest[..close].trim().parse().ok()
}

/// Whether a member of this declared type could be a bit field (an integer, enum, bool or a typedef of
/// one): only those are worth a `ptype /o` look.
pub fn may_be_bitfield(ty: &str) -> bool {
    !(ty.contains('[')
        || ty.contains('*')
        || ty.contains('(')
        || ty.starts_with("struct ")
        || ty.starts_with("union "))
}

/// A bit field found in `ptype /o` output, relative to the printed type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    /// Byte offset of the storage unit gdb shows (`19` in `/*   19: 5   |     1 */`).
    pub byte: u64,
    /// Bit offset within that byte (`5`).
    pub bit: u32,
    /// Width in bits (`3` in `u8 level : 3;`).
    pub width: u32,
    /// Size of the declared type (`1`).
    pub type_size: u64,
}

/// Find the direct (outermost-level) member `name` of the type printed by `ptype /o`, if it is a bit
/// field. gdb 10 prints bit fields as `/* BYTE: BIT | SIZE */    TYPE NAME : WIDTH;` and plain
/// members as `/* BYTE | SIZE */    TYPE NAME;`; nested members are indented further.
pub fn find_bitfield(ptype_o: &str, name: &str) -> Option<BitField> {
    struct Line<'a> {
        indent: usize,
        pos: &'a str,
        size: &'a str,
        decl: &'a str,
    }
    let lines: Vec<Line<'_>> = ptype_o
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("/*")?;
            let (comment, after) = rest.split_once("*/")?;
            let (pos, size) = comment.split_once('|')?;
            let decl_start = after.trim_start();
            if decl_start.starts_with("type =") || decl_start.is_empty() {
                return None;
            }
            Some(Line {
                indent: after.len() - decl_start.len(),
                pos: pos.trim(),
                size: size.trim(),
                decl: decl_start.trim_end(),
            })
        })
        .collect();
    let top = lines.iter().map(|l| l.indent).min()?;
    lines.iter().filter(|l| l.indent == top).find_map(|l| {
        let decl = l.decl.strip_suffix(';')?;
        let (left, width) = decl.rsplit_once(" : ")?;
        let ident = left.rsplit([' ', '*']).next()?;
        if ident != name {
            return None;
        }
        let (byte, bit) = l.pos.split_once(':')?;
        Some(BitField {
            byte: byte.trim().parse().ok()?,
            bit: bit.trim().parse().ok()?,
            width: width.trim().parse().ok()?,
            type_size: l.size.parse().ok()?,
        })
    })
}

/// A VMCOREINFO key that is safe to hand to crash (it `sprintf`s `"%s="` into a 1500-byte buffer).
pub fn is_valid_vmcoreinfo_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 256 && key.bytes().all(|b| b.is_ascii_graphic() && b != b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ptype /o struct printk_info` as crash 8.0.2's gdb printed it for the 6.1 cloud kernel.
    const PRINTK_INFO: &str = "\
/* offset    |  size */  type = struct printk_info {
/*    0      |     8 */    u64 seq;
/*    8      |     8 */    u64 ts_nsec;
/*   16      |     2 */    u16 text_len;
/*   18      |     1 */    u8 facility;
/*   19: 0   |     1 */    u8 flags : 5;
/*   19: 5   |     1 */    u8 level : 3;
/*   20      |     4 */    u32 caller_id;
/*   24      |    64 */    struct dev_printk_info {
/*   24      |    16 */        char subsystem[16];
/*   40      |    48 */        char device[48];
/*   88: 2   |     1 */        u8 nested : 1;

                               /* total size (bytes):   64 */
                           } dev_info;

                           /* total size (bytes):   88 */
                         }
";

    #[test]
    fn bitfields_are_found_at_the_top_level_only() {
        assert_eq!(
            find_bitfield(PRINTK_INFO, "level"),
            Some(BitField {
                byte: 19,
                bit: 5,
                width: 3,
                type_size: 1
            })
        );
        assert_eq!(find_bitfield(PRINTK_INFO, "flags").map(|b| b.bit), Some(0));
        assert_eq!(find_bitfield(PRINTK_INFO, "facility"), None);
        assert_eq!(find_bitfield(PRINTK_INFO, "nested"), None);
        assert_eq!(find_bitfield("", "level"), None);
    }

    #[test]
    fn array_lengths() {
        assert_eq!(array_len_of("char [56]"), Some(56));
        assert_eq!(array_len_of("const struct taint_flag [19]"), Some(19));
        assert_eq!(array_len_of("char [4][8]"), Some(4));
        assert_eq!(array_len_of("char (*)[4]"), None);
        assert_eq!(array_len_of("unsigned long"), None);
        assert_eq!(array_len_of("char []"), None);
    }

    #[test]
    fn whatis_and_numbers() {
        assert_eq!(whatis_type("type = char [56]\n"), Some("char [56]"));
        assert_eq!(whatis_type("garbage"), None);
        assert_eq!(parse_numbers("144 8\n"), Some(vec![144, 8]));
        assert_eq!(parse_numbers("0x10"), None);
        assert_eq!(parse_numbers(""), None);
    }

    #[test]
    fn names_are_validated_before_reaching_gdb() {
        assert!(is_ident("last_unloaded_module"));
        assert!(!is_ident("x; shell rm"));
        assert!(!is_ident("1abc"));
        assert!(is_member_path("mkobj.mod"));
        assert!(!is_member_path("mkobj..mod"));
        assert!(!is_member_path("a->b"));
        assert!(is_valid_vmcoreinfo_key("OFFSET(printk_info.ts_nsec)"));
        assert!(!is_valid_vmcoreinfo_key("A=B"));
        assert!(!is_valid_vmcoreinfo_key("A B"));
    }

    #[test]
    fn bitfield_candidates() {
        assert!(may_be_bitfield("u8"));
        assert!(may_be_bitfield("enum module_state"));
        assert!(!may_be_bitfield("char [56]"));
        assert!(!may_be_bitfield("struct module *"));
        assert!(!may_be_bitfield("struct module_layout"));
        assert!(is_valid_type(TypeRef::TypeOf("tainted_mask")));
        assert!(!is_valid_type(TypeRef::Struct("module *")));
    }

    #[test]
    fn expressions() {
        assert_eq!(
            ptype_offsets_command(TypeRef::Struct("printk_info"), ""),
            "ptype /o (*(struct printk_info *)0)"
        );
        assert_eq!(
            ptype_offsets_command(TypeRef::Struct("module"), "core_layout"),
            "ptype /o (*(struct module *)0).core_layout"
        );
        assert_eq!(
            offset_size_command(TypeRef::Struct("module"), "mkobj.mod"),
            "printf \"%lu %lu\\n\", (unsigned long)&(*(struct module *)0).mkobj.mod - \
             (unsigned long)&(*(struct module *)0), (unsigned long)sizeof((*(struct module *)0).mkobj.mod)"
        );
        assert_eq!(
            whatis_command(TypeRef::TypeOf("last_unloaded_module"), "taints"),
            "whatis last_unloaded_module.taints"
        );
        assert_eq!(
            size_command(TypeRef::Union("u")),
            "printf \"%lu\\n\", (unsigned long)sizeof((*(union u *)0))"
        );
    }
}
