//! Builds small synthetic vmlinux-like ELF files: DWARF written with `gimli::write`, wrapped in
//! an ELF by `object::write`. They carry layouts the real 6.1 kernel lacks.
#![allow(dead_code)]

use gimli::write::{
    Address, AttributeValue as V, Dwarf, EndianVec, Expression, LineProgram, Sections, Unit,
    UnitEntryId,
};
use gimli::{constants as dw, Encoding, Format, LittleEndian};
use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

/// What to build.
#[derive(Clone, Copy)]
pub struct Spec {
    /// DWARF version (4 or 5).
    pub version: u16,
    /// zlib-compress the debug sections (SHF_COMPRESSED).
    pub compress: bool,
    /// Leave out DWARF entirely (a stripped kernel).
    pub no_dwarf: bool,
}

pub const BANNER: &[u8] = b"Linux version 9.9.9-synthetic (builder@test) #1 SMP\n\0";
pub const BUILD_ID: [u8; 20] = [
    0x3b, 0x43, 0xfa, 0xd5, 0x03, 0x48, 0x74, 0x49, 0x04, 0x92, 0x49, 0x5d, 0x55, 0x2c, 0x0a, 0xf6,
    0xa5, 0xfa, 0xb2, 0x35,
];
pub const ADDR_LAST_UNLOADED: u64 = 0x1000;
pub const ADDR_TNTS: u64 = 0x1100;
pub const ADDR_TAINTED_MASK: u64 = 0x1200;

struct B<'a> {
    unit: &'a mut Unit,
    dwarf_strings: &'a mut gimli::write::StringTable,
    v4: bool,
}

impl B<'_> {
    fn name(&mut self, id: UnitEntryId, name: &str) {
        // Short names inline (as GCC does), others through .debug_str.
        let v = if name.len() <= 3 {
            V::String(name.as_bytes().to_vec())
        } else {
            V::StringRef(self.dwarf_strings.add(name))
        };
        self.unit.get_mut(id).set(dw::DW_AT_name, v);
    }
    fn add(&mut self, parent: UnitEntryId, tag: dw::DwTag, name: Option<&str>) -> UnitEntryId {
        let id = self.unit.add(parent, tag);
        if let Some(n) = name {
            self.name(id, n);
        }
        id
    }
    fn base(&mut self, name: &str, size: u64, ate: dw::DwAte) -> UnitEntryId {
        let root = self.unit.root();
        let id = self.add(root, dw::DW_TAG_base_type, Some(name));
        let e = self.unit.get_mut(id);
        e.set(dw::DW_AT_byte_size, V::Udata(size));
        e.set(dw::DW_AT_encoding, V::Encoding(ate));
        id
    }
    fn wrap(&mut self, tag: dw::DwTag, name: Option<&str>, ty: Option<UnitEntryId>) -> UnitEntryId {
        let root = self.unit.root();
        let id = self.add(root, tag, name);
        if let Some(t) = ty {
            self.unit.get_mut(id).set(dw::DW_AT_type, V::UnitRef(t));
        }
        if tag == dw::DW_TAG_pointer_type {
            self.unit.get_mut(id).set(dw::DW_AT_byte_size, V::Udata(8));
        }
        id
    }
    fn aggregate(
        &mut self,
        parent: UnitEntryId,
        tag: dw::DwTag,
        name: Option<&str>,
        size: u64,
    ) -> UnitEntryId {
        let id = self.add(parent, tag, name);
        self.unit
            .get_mut(id)
            .set(dw::DW_AT_byte_size, V::Udata(size));
        id
    }
    fn member(
        &mut self,
        parent: UnitEntryId,
        name: Option<&str>,
        ty: UnitEntryId,
        offset: u64,
    ) -> UnitEntryId {
        let id = self.add(parent, dw::DW_TAG_member, name);
        let e = self.unit.get_mut(id);
        e.set(dw::DW_AT_type, V::UnitRef(ty));
        e.set(dw::DW_AT_data_member_location, V::Udata(offset));
        id
    }
    /// A bit field at absolute bit `bit` (from the struct start) of `width` bits in a 4-byte unit.
    fn bitfield(&mut self, parent: UnitEntryId, name: &str, ty: UnitEntryId, bit: u64, width: u64) {
        let id = self.add(parent, dw::DW_TAG_member, Some(name));
        let v4 = self.v4;
        let e = self.unit.get_mut(id);
        e.set(dw::DW_AT_type, V::UnitRef(ty));
        e.set(dw::DW_AT_bit_size, V::Udata(width));
        if v4 {
            // DWARF 2-4 style: storage unit offset + bit offset from its MSB.
            let unit_off = bit / 32 * 4;
            e.set(dw::DW_AT_byte_size, V::Udata(4));
            e.set(dw::DW_AT_data_member_location, V::Udata(unit_off));
            e.set(
                dw::DW_AT_bit_offset,
                V::Udata(32 - (bit - unit_off * 8) - width),
            );
        } else {
            e.set(dw::DW_AT_data_bit_offset, V::Udata(bit));
        }
    }
    fn array(&mut self, elem: UnitEntryId, count: Option<u64>) -> UnitEntryId {
        let root = self.unit.root();
        let id = self.add(root, dw::DW_TAG_array_type, None);
        self.unit.get_mut(id).set(dw::DW_AT_type, V::UnitRef(elem));
        let sub = self.unit.add(id, dw::DW_TAG_subrange_type);
        if let Some(n) = count {
            self.unit
                .get_mut(sub)
                .set(dw::DW_AT_upper_bound, V::Udata(n - 1));
        }
        id
    }
    fn variable(&mut self, name: &str, ty: UnitEntryId, addr: u64) {
        let root = self.unit.root();
        let id = self.add(root, dw::DW_TAG_variable, Some(name));
        let mut expr = Expression::new();
        expr.op_addr(Address::Constant(addr));
        let e = self.unit.get_mut(id);
        e.set(dw::DW_AT_type, V::UnitRef(ty));
        e.set(dw::DW_AT_location, V::Exprloc(expr));
    }
}

/// Unit 1: only declarations (`struct module;`, `extern ... tnts[]`); unit 2: the definitions.
fn build_dwarf(version: u16) -> Sections<EndianVec<LittleEndian>> {
    let encoding = Encoding {
        format: Format::Dwarf32,
        version,
        address_size: 8,
    };
    let mut dwarf = Dwarf::new();
    let v4 = version < 5;

    // Unit 1: declarations only, which lookups must skip.
    let u1 = dwarf.units.add(Unit::new(encoding, LineProgram::none()));
    {
        let unit = dwarf.units.get_mut(u1);
        let mut b = B {
            unit,
            dwarf_strings: &mut dwarf.strings,
            v4,
        };
        let root = b.unit.root();
        b.name(root, "decls.c");
        let m = b.add(root, dw::DW_TAG_structure_type, Some("module"));
        b.unit.get_mut(m).set(dw::DW_AT_declaration, V::Flag(true));
        let tnt = b.add(root, dw::DW_TAG_structure_type, Some("tnt"));
        b.unit
            .get_mut(tnt)
            .set(dw::DW_AT_declaration, V::Flag(true));
        let arr = b.array(tnt, None);
        let d = b.add(root, dw::DW_TAG_variable, Some("tnts"));
        let e = b.unit.get_mut(d);
        e.set(dw::DW_AT_type, V::UnitRef(arr));
        e.set(dw::DW_AT_declaration, V::Flag(true));
        e.set(dw::DW_AT_external, V::FlagPresent);
    }

    // Unit 2: definitions.
    let u2 = dwarf.units.add(Unit::new(encoding, LineProgram::none()));
    let unit = dwarf.units.get_mut(u2);
    let mut b = B {
        unit,
        dwarf_strings: &mut dwarf.strings,
        v4,
    };
    let root = b.unit.root();
    b.name(root, "kernel/module.c");
    let char_t = b.base("char", 1, dw::DW_ATE_signed_char);
    let uchar = b.base("unsigned char", 1, dw::DW_ATE_unsigned_char);
    let uint = b.base("unsigned int", 4, dw::DW_ATE_unsigned);
    let ulong = b.base("long unsigned int", 8, dw::DW_ATE_unsigned);
    let long = b.base("long int", 8, dw::DW_ATE_signed);
    let u8_t = b.wrap(dw::DW_TAG_typedef, Some("u8"), Some(uchar));
    let void_ptr = b.wrap(dw::DW_TAG_pointer_type, None, None);

    // enum module_state
    let st = b.add(root, dw::DW_TAG_enumeration_type, Some("module_state"));
    b.unit.get_mut(st).set(dw::DW_AT_byte_size, V::Udata(4));
    b.unit.get_mut(st).set(dw::DW_AT_type, V::UnitRef(uint));
    for (i, n) in [
        "MODULE_STATE_LIVE",
        "MODULE_STATE_COMING",
        "MODULE_STATE_GOING",
        "MODULE_STATE_UNFORMED",
    ]
    .iter()
    .enumerate()
    {
        let e = b.add(st, dw::DW_TAG_enumerator, Some(n));
        b.unit
            .get_mut(e)
            .set(dw::DW_AT_const_value, V::Data1(i as u8));
    }
    // A signed enum with a negative value.
    let sg = b.add(root, dw::DW_TAG_enumeration_type, Some("signed_things"));
    b.unit.get_mut(sg).set(dw::DW_AT_byte_size, V::Udata(4));
    let e = b.add(sg, dw::DW_TAG_enumerator, Some("MINUS_ONE"));
    b.unit.get_mut(e).set(dw::DW_AT_const_value, V::Sdata(-1));
    // An anonymous enum (`enum { ANON_SEVEN = 7 };`): found by its enumerator's name only.
    let anon = b.add(root, dw::DW_TAG_enumeration_type, None);
    b.unit.get_mut(anon).set(dw::DW_AT_byte_size, V::Udata(4));
    let e = b.add(anon, dw::DW_TAG_enumerator, Some("ANON_SEVEN"));
    b.unit.get_mut(e).set(dw::DW_AT_const_value, V::Data1(7));

    // struct list_head { struct list_head *next, *prev; }
    let lh = b.aggregate(root, dw::DW_TAG_structure_type, Some("list_head"), 16);
    let lh_ptr = b.wrap(dw::DW_TAG_pointer_type, None, Some(lh));
    b.member(lh, Some("next"), lh_ptr, 0);
    b.member(lh, Some("prev"), lh_ptr, 8);

    // struct module_layout { void *base; unsigned int size; unsigned int text_size; }
    let ml = b.aggregate(root, dw::DW_TAG_structure_type, Some("module_layout"), 16);
    b.member(ml, Some("base"), void_ptr, 0);
    b.member(ml, Some("size"), uint, 8);
    b.member(ml, Some("text_size"), uint, 12);

    // struct tnt { u8 bit; char true; char false; }
    let tnt = b.aggregate(root, dw::DW_TAG_structure_type, Some("tnt"), 3);
    b.member(tnt, Some("bit"), u8_t, 0);
    b.member(tnt, Some("true"), char_t, 1);
    b.member(tnt, Some("false"), char_t, 2);

    // struct module (3.x-6.3 shape, no sig_ok, unsigned int taints):
    //   enum module_state state;            0
    //   struct list_head list;              8
    //   char name[56];                      24
    //   struct module_layout core_layout;   80
    //   unsigned int taints;                96
    //   union { struct { unsigned int a:3, b:5; }; long int c; };   104 (anonymous)
    //   unsigned int flags:4 at bit 8*112 + 2 (a plain bit field)   112
    let module = b.aggregate(root, dw::DW_TAG_structure_type, Some("module"), 120);
    let name_arr = b.array(char_t, Some(56));
    b.member(module, Some("state"), st, 0);
    b.member(module, Some("list"), lh, 8);
    b.member(module, Some("name"), name_arr, 24);
    b.member(module, Some("core_layout"), ml, 80);
    b.member(module, Some("taints"), uint, 96);
    let un = b.aggregate(root, dw::DW_TAG_union_type, None, 8);
    let inner = b.aggregate(root, dw::DW_TAG_structure_type, None, 4);
    b.bitfield(inner, "a", uint, 0, 3);
    b.bitfield(inner, "b", uint, 3, 5);
    b.member(un, None, inner, 0);
    b.member(un, Some("c"), long, 0);
    b.member(module, None, un, 104);
    b.bitfield(module, "flags", uint, 112 * 8 + 2, 4);

    // A typedef'd struct used through a const typedef, to check resolution.
    let cm = b.wrap(dw::DW_TAG_const_type, None, Some(module));
    let _ = b.wrap(dw::DW_TAG_typedef, Some("module_t"), Some(cm));

    // Variables: char last_unloaded_module[57]; struct tnt tnts[19]; unsigned long tainted_mask.
    let lum = b.array(char_t, Some(57));
    b.variable("last_unloaded_module", lum, ADDR_LAST_UNLOADED);
    let tnt_c = b.wrap(dw::DW_TAG_const_type, None, Some(tnt));
    let tnts = b.array(tnt_c, Some(19));
    b.variable("tnts", tnts, ADDR_TNTS);
    b.variable("tainted_mask", ulong, ADDR_TAINTED_MASK);

    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections).expect("write DWARF");
    sections
}

fn zlib_chdr(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    out.extend_from_slice(&1u32.to_le_bytes()); // ELFCOMPRESS_ZLIB
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A synthetic vmlinux as bytes.
pub fn build(spec: Spec) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    // .rodata with linux_banner.
    let rodata = obj.section_id(StandardSection::ReadOnlyData);
    let off = obj.append_section_data(rodata, BANNER, 32);
    obj.add_symbol(Symbol {
        name: b"linux_banner".to_vec(),
        value: off,
        size: BANNER.len() as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(rodata),
        flags: SymbolFlags::None,
    });
    // Variables in .bss at the addresses the DWARF uses (an ET_REL's sections start at 0).
    let bss = obj.section_id(StandardSection::UninitializedData);
    obj.append_section_bss(bss, 0x2000, 64);
    obj.add_file_symbol(b"module.c".to_vec());
    for (name, addr, size, scope) in [
        (
            "last_unloaded_module",
            ADDR_LAST_UNLOADED,
            57,
            SymbolScope::Compilation,
        ),
        ("tnts", ADDR_TNTS, 57, SymbolScope::Dynamic),
        (
            "tainted_mask",
            ADDR_TAINTED_MASK,
            8,
            SymbolScope::Compilation,
        ),
    ] {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: addr,
            size,
            kind: SymbolKind::Data,
            scope,
            weak: false,
            section: SymbolSection::Section(bss),
            flags: SymbolFlags::None,
        });
    }
    // GNU build-id note.
    let note = obj.add_section(
        Vec::new(),
        b".note.gnu.build-id".to_vec(),
        SectionKind::Note,
    );
    let mut n = Vec::new();
    n.extend_from_slice(&4u32.to_le_bytes());
    n.extend_from_slice(&(BUILD_ID.len() as u32).to_le_bytes());
    n.extend_from_slice(&3u32.to_le_bytes());
    n.extend_from_slice(b"GNU\0");
    n.extend_from_slice(&BUILD_ID);
    obj.append_section_data(note, &n, 4);

    if !spec.no_dwarf {
        let sections = build_dwarf(spec.version);
        sections
            .for_each(|id, data| -> Result<(), ()> {
                if data.slice().is_empty() {
                    return Ok(());
                }
                let s = obj.add_section(
                    Vec::new(),
                    id.name().as_bytes().to_vec(),
                    SectionKind::Debug,
                );
                if spec.compress {
                    obj.append_section_data(s, &zlib_chdr(data.slice()), 8);
                    obj.section_mut(s).flags = object::SectionFlags::Elf {
                        sh_type: object::elf::SHT_PROGBITS,
                        sh_flags: object::elf::SHF_COMPRESSED,
                    };
                } else {
                    obj.append_section_data(s, data.slice(), 1);
                }
                Ok(())
            })
            .unwrap();
    }
    obj.write().expect("write ELF")
}

/// Writes a synthetic vmlinux to a temp file.
pub fn write_temp(spec: Spec) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, &build(spec)).unwrap();
    f
}
