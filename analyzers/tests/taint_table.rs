//! Taint decoding across table layouts: 6.1 (real bytes), 4.10-6.10, 6.11 `desc`, 6.19 without `module`,
//! `tnts[]`, unreadable table, unknown bits.

mod taint_kit;

use analyzers::taint::{analyze_taint, read_taint_table, ModuleLetterRule, TaintSource};
use analyzers::target::TypeRef;
use taint_kit::*;

fn letters(r: &analyzers::taint::TaintReport) -> String {
    r.flags.iter().map(|f| f.letter).collect()
}

/// 6.1's print_tainted() (kernel/panic.c, and its machine code in the 6.1 vmlinux): "Tainted: " then, for
/// i in 0..TAINT_FLAGS_COUNT (19), c_true if bit i is set else c_false. For 0x3201 (bits 0, 9, 12, 13):
///   col 0 'P' | cols 1-8 ' ' x8 | col 9 'W' | cols 10-11 ' ' x2 | col 12 'O' | col 13 'E' | cols 14-18 ' ' x5
#[test]
fn six_one_mixed_mask_prints_exactly_like_the_kernel() {
    let mut k = Kit::v6_1();
    k.mask(0x3201);
    let r = analyze_taint(&k.t).unwrap();
    assert_eq!(r.taint_string, "Tainted: P        W  OE     ");
    assert_eq!(r.taint_string.len(), "Tainted: ".len() + 19);
    assert_eq!(r.source, TaintSource::TaintFlags);
    assert_eq!(letters(&r), "PWOE");
    let names: Vec<&str> = r.flags.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "PROPRIETARY_MODULE",
            "WARN",
            "OOT_MODULE",
            "UNSIGNED_MODULE"
        ]
    );
    assert_eq!(
        r.flags.iter().map(|f| f.bit).collect::<Vec<_>>(),
        [0, 9, 12, 13]
    );
}

#[test]
fn zero_mask_is_not_tainted_and_g_shows_when_p_is_clear() {
    let mut k = Kit::v6_1();
    assert_eq!(analyze_taint(&k.t).unwrap().taint_string, "Not tainted");
    k.mask(bits("W"));
    // bit 0 clear prints its c_false 'G'
    assert_eq!(
        analyze_taint(&k.t).unwrap().taint_string,
        "Tainted: G        W         "
    );
}

#[test]
fn four_seventeen_table_has_eighteen_columns() {
    let mut k = Kit::bare();
    k.taint_flags_3byte(&Kit::mainline_3byte(18));
    k.mask(0x3201);
    let r = analyze_taint(&k.t).unwrap();
    // 18 entries: after E come L K X T, four spaces
    assert_eq!(r.taint_string, "Tainted: P        W  OE    ");
    assert_eq!(r.source, TaintSource::TaintFlags);
}

/// 5.10 without debuginfo: BTF has no length for `taint_flags` and kallsyms no size; the table ends at
/// its last lettered entry before the next symbol (Debian 5.10: 54 bytes, next symbol at +64).
#[test]
fn five_ten_table_length_from_the_next_symbol() {
    let mut k = Kit::bare();
    k.taint_flags_3byte_sizeless(&Kit::mainline_3byte(18), 64);
    k.mask(0x3201);
    let r = analyze_taint(&k.t).unwrap();
    assert_eq!(r.source, TaintSource::TaintFlags);
    assert_eq!(r.taint_string, "Tainted: P        W  OE    ");
    // Nothing but padding up to the next symbol: no table, the built-in one is used and said so.
    let mut k = Kit::bare();
    k.taint_flags_3byte_sizeless(&[], 64);
    let table = read_taint_table(&k.t);
    assert_ne!(table.source, TaintSource::TaintFlags);
    assert!(
        table.problems.iter().any(|p| p.contains("no flag letter")),
        "{:?}",
        table.problems
    );
}

#[test]
fn six_eleven_desc_names_come_from_the_dump() {
    let mut k = Kit::bare();
    let mut entries: Vec<(u8, u8, bool, &str)> = MAINLINE[..19].to_vec();
    // a distribution-style table: holes up to bit 26, then a vendor flag with its own description
    entries.extend(std::iter::repeat_n((0, 0, false, ""), 8));
    entries.push((b'Z', b' ', true, "VENDOR_SPECIFIC"));
    k.taint_flags_desc(&entries, true);
    k.mask(0x3201 | 1 << 27);
    let table = read_taint_table(&k.t);
    assert_eq!(table.module_rule, ModuleLetterRule::ModuleField);
    let r = table.describe(0x3201 | 1 << 27);
    // holes are skipped: 19 mainline columns then the vendor column
    assert_eq!(r.taint_string, "Tainted: P        W  OE     Z");
    let last = r.flags.last().unwrap();
    assert_eq!(
        (last.bit, last.letter, last.name.as_str()),
        (27, 'Z', "VENDOR_SPECIFIC")
    );
    assert_eq!(r.flags[0].name, "PROPRIETARY_MODULE");
    assert_eq!(table.module_letters(bits("PO") | 1 << 27), "POZ");
}

#[test]
fn six_nineteen_without_module_field_prints_every_module_bit() {
    let mut k = Kit::bare();
    k.taint_flags_desc(&MAINLINE, false);
    k.mask(0x3201);
    let table = read_taint_table(&k.t);
    assert_eq!(table.module_rule, ModuleLetterRule::AllBits);
    // 20 columns with J
    assert_eq!(table.taint_string(0x3201), "Tainted: P        W  OE      ");
    // module_flags_taint() without the field: every set bit, W included
    assert_eq!(table.module_letters(bits("PWO")), "PWO");
    // ...whereas 6.1 prints only module==true bits
    let six_one = read_taint_table(&Kit::v6_1().t);
    assert_eq!(six_one.module_letters(bits("PWO")), "PO");
    // module-capable flags exclude T and J in both
    assert_eq!(table.module_capable_mask() & bits("TJ"), 0);
    assert_eq!(six_one.module_capable_mask(), bits("PFCOEKXN"));
}

#[test]
fn tnts_table_of_4_9() {
    let mut k = Kit::bare();
    k.tnts_4_9();
    k.mask(0x3201);
    let table = read_taint_table(&k.t);
    assert_eq!(table.source, TaintSource::Tnts);
    // 16 entries P..K: after E come L K
    assert_eq!(table.taint_string(0x3201), "Tainted: P        W  OE  ");
    // pre-4.10 module_flags_taint(): fixed order P O F C E
    assert_eq!(table.module_letters(bits("PFOE")), "POFE");
    assert_eq!(table.module_capable_mask(), bits("POFCE"));
}

#[test]
fn unreadable_table_falls_back_to_builtin_for_the_release() {
    let mut k = Kit::bare();
    k.t.set_vmcoreinfo("OSRELEASE", "6.1.0-56-cloud-amd64");
    k.t.add_symbol("taint_flags", 0xffff_ffff_9000_0000); // unmapped
    k.t.add_struct(
        "taint_flag",
        3,
        &[("c_true", 0, 1), ("c_false", 1, 1), ("module", 2, 1)],
    );
    k.t.add_type(TypeRef::TypeOf("taint_flags"), 57, &[]);
    k.mask(0x3201);
    let table = read_taint_table(&k.t);
    assert_eq!(table.source, TaintSource::BuiltinMainline);
    assert!(
        table.problems[0].contains("taint_flags[] unusable"),
        "{:?}",
        table.problems
    );
    assert!(table.problems.iter().any(|p| p.contains("built-in table")));
    // 6.1 has 19 flags (J is 6.15): same string as the real table
    assert_eq!(table.taint_string(0x3201), "Tainted: P        W  OE     ");
    assert_eq!(
        analyze_taint(&k.t).unwrap().source,
        TaintSource::BuiltinMainline
    );
}

#[test]
fn corrupt_table_is_rejected() {
    let mut k = Kit::v6_1();
    k.t.write(TAINT_FLAGS + 3 * 5, &[0x07, 0x99, 0x01]);
    let table = read_taint_table(&k.t);
    assert_eq!(table.source, TaintSource::BuiltinMainline);
    assert!(
        table.problems[0].contains("taint_flags[5]"),
        "{:?}",
        table.problems
    );
}

#[test]
fn rhel_release_without_table_uses_rhel_names() {
    let mut k = Kit::bare();
    k.t.set_vmcoreinfo("OSRELEASE", "4.18.0-553.el8_10.x86_64");
    let table = read_taint_table(&k.t);
    assert_eq!(table.source, TaintSource::BuiltinRhel);
    assert_eq!(table.flag(29).name, "TECH_PREVIEW");
    // 4.18 has no N/J: 18 mainline columns (bits 0-17) + the 3 RHEL bits
    assert_eq!(table.taint_string(1).len(), "Tainted: ".len() + 18 + 3);
}

#[test]
fn unknown_bits_are_question_marks() {
    let mut k = Kit::v6_1();
    k.mask(1 << 40 | 1);
    let r = analyze_taint(&k.t).unwrap();
    let f = &r.flags[1];
    assert_eq!((f.bit, f.letter, f.name.as_str()), (40, '?', "bit 40"));
    // the kernel's string has no column for it
    assert_eq!(r.taint_string, "Tainted: P                  ");
}

#[test]
fn table_length_from_last_unloaded_module_taints_when_the_variable_type_is_unknown() {
    // no typeof(taint_flags): MODULE_FLAGS_BUF_SIZE (23) - 4 = 19 entries
    let mut k2 = Kit::bare();
    k2.t.map(TAINT_FLAGS, TAINT_FLAGS_6_1.to_vec());
    k2.t.add_symbol("taint_flags", TAINT_FLAGS);
    k2.t.add_struct(
        "taint_flag",
        3,
        &[("c_true", 0, 1), ("c_false", 1, 1), ("module", 2, 1)],
    );
    k2.last_unloaded_struct("", "");
    let table = read_taint_table(&k2.t);
    assert_eq!(table.source, TaintSource::TaintFlags);
    assert_eq!(table.entries.len(), 19);
}

#[test]
fn missing_tainted_mask_is_an_error() {
    let t = analyzers::fake::FakeTarget::new();
    let e = analyze_taint(&t).unwrap_err();
    assert!(e.to_string().contains("tainted_mask"));
}
