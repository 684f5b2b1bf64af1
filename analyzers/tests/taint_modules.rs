//! The module walk: 6.1 layout, mem[] and module_core layouts, cycles, wild pointers, 60 modules, no sig_ok.

mod taint_kit;

use analyzers::modules::{analyze_modules, analyze_modules_at, Modules};
use analyzers::taint::read_taint_table;
use taint_kit::*;

fn walk(k: &Kit) -> Modules {
    analyze_modules(&k.t, &read_taint_table(&k.t)).unwrap()
}

fn names(m: &Modules) -> Vec<&str> {
    m.modules.iter().map(|m| m.name.as_str()).collect()
}

fn three(k: &mut Kit) {
    let mut a = Mod::new("ext4");
    a.sizes = vec![0xa0000, 0];
    a.srcversion = Some("A8C6A1B06A7F3D0C8F8E4A1");
    let mut b = Mod::new("hello").taints(bits("POE")).unsigned();
    b.base = 0xffff_ffff_c0a0_0000;
    b.sizes = vec![12288, 4096];
    b.version = Some("1.0");
    b.state = 1; // COMING
    let mut c = Mod::new("vendor").taints(bits("P") | bits("W"));
    c.state = 2;
    for m in [a, b, c] {
        k.add_module(&m);
    }
    k.link();
}

#[test]
fn six_one_layout_reads_every_field() {
    let mut k = Kit::v6_1();
    three(&mut k);
    let m = walk(&k);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(names(&m), ["ext4", "hello", "vendor"]);
    let ext4 = &m.modules[0];
    assert_eq!(ext4.state, "LIVE");
    assert_eq!(ext4.taints, "");
    assert_eq!(ext4.signed, Some(true));
    assert_eq!(ext4.size, Some(0xa0000));
    assert_eq!(ext4.version, None);
    assert_eq!(ext4.srcversion.as_deref(), Some("A8C6A1B06A7F3D0C8F8E4A1"));
    assert_eq!(ext4.address, k.modules[0]);
    let hello = &m.modules[1];
    assert_eq!(hello.state, "COMING");
    assert_eq!(hello.taints, "POE");
    assert_eq!(hello.signed, Some(false));
    assert_eq!(hello.base, Some(0xffff_ffff_c0a0_0000));
    // /proc/modules size: core_layout.size + init_layout.size
    assert_eq!(hello.size, Some(12288 + 4096));
    assert_eq!(hello.version.as_deref(), Some("1.0"));
    // W is not a module flag in 6.1's table: not printed
    assert_eq!(m.modules[2].taints, "P");
    assert_eq!(m.modules[2].state, "GOING");
}

/// A live kernel without data symbols: the modules at the addresses `/sys/module/*/sections` gave, no list
/// head needed; an address that holds no module is left out and named, never reported as a module.
#[test]
fn modules_at_given_addresses_read_without_the_list_head() {
    let mut k = Kit::v6_1();
    three(&mut k);
    let table = read_taint_table(&k.t);
    let garbage = 0xdead_0000_0000;
    k.t.map(garbage, vec![0xff; 4096]);
    let m = analyze_modules_at(&k.t, &table, &[k.modules[1], garbage, k.modules[2]]).unwrap();
    assert_eq!(names(&m), ["hello", "vendor"]);
    assert_eq!(m.modules[0].taints, "POE");
    assert_eq!(m.modules[0].signed, Some(false));
    assert_eq!(m.modules[0].address, k.modules[1]);
    assert!(
        m.problems
            .iter()
            .any(|p| p.contains(&format!("{garbage:#x}"))),
        "{:?}",
        m.problems
    );
}

#[test]
fn looped_list_stops_and_keeps_what_it_read() {
    let mut k = Kit::v6_1();
    three(&mut k);
    // vendor.next -> hello: a loop that never returns to the head
    k.t.write_u64(k.modules[2] + OFF_LIST, k.modules[1] + OFF_LIST);
    let m = walk(&k);
    assert_eq!(names(&m), ["ext4", "hello", "vendor"]);
    assert!(
        m.problems.iter().any(|p| p.contains("loops")),
        "{:?}",
        m.problems
    );
}

#[test]
fn wild_next_pointer_is_reported_and_the_rest_recovered_backwards() {
    let mut k = Kit::v6_1();
    for n in ["a", "b", "c", "d", "e"] {
        k.add_module(&Mod::new(n));
    }
    k.link();
    k.t.write_u64(k.modules[1] + OFF_LIST, 0xdead_beef_0000_0000);
    let m = walk(&k);
    assert_eq!(names(&m), ["a", "b", "c", "d", "e"]);
    assert!(m.problems[0].contains("unreadable"), "{:?}", m.problems);
    assert!(m.problems[1].contains("recovered 3"), "{:?}", m.problems);
}

#[test]
fn next_into_readable_garbage_is_caught_by_the_back_link() {
    let mut k = Kit::v6_1();
    for n in ["a", "b", "c"] {
        k.add_module(&Mod::new(n));
    }
    k.link();
    let garbage = k.alloc(vec![0x41; 64]);
    k.t.write_u64(k.modules[0] + OFF_LIST, garbage);
    let m = walk(&k);
    assert_eq!(names(&m), ["a", "b", "c"]);
    assert!(
        m.problems[0].contains("does not link back"),
        "{:?}",
        m.problems
    );
}

#[test]
fn sixty_modules_in_order() {
    let mut k = Kit::v6_1();
    let all: Vec<&'static str> = (0..60)
        .map(|i| &*Box::leak(format!("mod{i:02}").into_boxed_str()))
        .collect();
    for (i, n) in all.iter().enumerate() {
        let t = if i % 7 == 0 { bits("O") } else { 0 };
        k.add_module(&Mod::new(n).taints(t));
    }
    k.link();
    let m = walk(&k);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(names(&m), all);
    assert_eq!(m.modules.iter().filter(|m| m.taints == "O").count(), 9);
}

#[test]
fn no_sig_ok_member_means_signed_is_null() {
    let mut k = Kit::bare();
    k.module_type(MemKind::Layouts, false);
    k.add_module(&Mod::new("x").unsigned());
    k.link();
    let m = walk(&k);
    assert_eq!(m.modules[0].signed, None);
    let json = serde_json::to_value(&m.modules[0]).unwrap();
    assert!(json["signed"].is_null());
}

#[test]
fn mem_array_layout_sums_every_region_and_bases_at_text() {
    let mut k = Kit::bare();
    k.module_type(MemKind::MemArray, true);
    let mut md = Mod::new("newmod");
    md.base = 0xffff_ffff_c200_0000;
    md.sizes = vec![8192, 4096, 4096, 0, 2048, 0, 0];
    k.add_module(&md);
    k.link();
    let m = walk(&k);
    assert_eq!(m.modules[0].base, Some(0xffff_ffff_c200_0000));
    assert_eq!(m.modules[0].size, Some(8192 + 4096 + 4096 + 2048));
}

#[test]
fn module_core_layout_of_old_kernels() {
    let mut k = Kit::bare();
    k.module_type(MemKind::Flat, true);
    let mut md = Mod::new("oldmod");
    md.base = 0xffff_ffff_a000_0000;
    md.sizes = vec![20480, 1024];
    k.add_module(&md);
    k.link();
    let m = walk(&k);
    assert_eq!(m.modules[0].base, Some(0xffff_ffff_a000_0000));
    assert_eq!(m.modules[0].size, Some(21504));
}

#[test]
fn entry_whose_mkobj_mod_does_not_point_back_is_flagged() {
    let mut k = Kit::v6_1();
    three(&mut k);
    k.t.write_u64(k.modules[1] + OFF_MKOBJ_MOD, 0x1234);
    let m = walk(&k);
    assert_eq!(m.modules.len(), 3);
    assert!(
        m.problems
            .iter()
            .any(|p| p.contains("\"hello\"") && p.contains("mkobj.mod")),
        "{:?}",
        m.problems
    );
}

#[test]
fn unreadable_version_string_is_a_problem_not_a_failure() {
    let mut k = Kit::v6_1();
    k.add_module(&Mod::new("x"));
    k.link();
    k.t.write_u64(k.modules[0] + OFF_VERSION, 0xffff_ffff_9999_0000);
    let m = walk(&k);
    assert_eq!(m.modules[0].version, None);
    assert!(m.problems[0].contains("version string"), "{:?}", m.problems);
}

/// A list entry whose name the kernel cannot have written (no NUL in `char name[56]`, or control bytes) is
/// not a module: it is left out and named in `problems`, and the rest of the list is still read.
#[test]
fn entry_with_a_name_the_kernel_cannot_have_written_is_left_out() {
    let mut k = Kit::v6_1();
    three(&mut k);
    let hello = k.modules[1];
    k.t.write(hello + OFF_NAME, &[b'h'; 56]);
    let vendor = k.modules[2];
    k.t.write(vendor + OFF_NAME, b"ven\x07dor\0");
    let m = walk(&k);
    assert_eq!(names(&m), ["ext4"]);
    let joined = m.problems.join("\n");
    assert!(joined.contains("no terminating NUL"), "{joined}");
    assert!(joined.contains("not printable ASCII"), "{joined}");
}
