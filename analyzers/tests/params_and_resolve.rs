//! Module parameters, trusted keyrings and address resolution over hostile memory (FakeTarget).

mod taint_kit;

use analyzers::crash_report::{CodeLocation, ResolvedBy};
use analyzers::fake::FakeTarget;
use analyzers::module_params::{read_params, ParamLayout, MAX_PARAMS};
use analyzers::modules::ModuleInfo;
use analyzers::resolve::{Resolution, Resolver};

const KP: u64 = 40; // sizeof(struct kernel_param) in these tests
const MODULE: u64 = 0x10_0000;
const OPS: [(&str, u64); 6] = [
    ("param_ops_int", 0x9000),
    ("param_ops_uint", 0x9100),
    ("param_ops_bool", 0x9200),
    ("param_ops_charp", 0x9300),
    ("param_array_ops", 0x9400),
    ("param_ops_string", 0x9500),
];

fn ops(name: &str) -> u64 {
    OPS.iter().find(|(n, _)| *n == name).unwrap().1
}

fn base_target() -> FakeTarget {
    let mut t = FakeTarget::new();
    t.add_struct(
        "kernel_param",
        KP,
        &[
            ("name", 0, 8),
            ("ops", 16, 8),
            ("perm", 24, 2),
            ("arg", 32, 8),
        ],
    );
    t.add_struct("module", 0x400, &[("kp", 0, 8), ("num_kp", 8, 4)]);
    t.add_struct("kparam_string", 16, &[("maxlen", 0, 4), ("string", 8, 8)]);
    t.add_struct(
        "kparam_array",
        32,
        &[
            ("max", 0, 4),
            ("elemsize", 4, 4),
            ("num", 8, 8),
            ("ops", 16, 8),
            ("elem", 24, 8),
        ],
    );
    for (n, a) in OPS {
        t.add_symbol(n, a);
    }
    t
}

fn kernel_param(name: u64, ops: u64, arg: u64) -> Vec<u8> {
    let mut b = vec![0u8; KP as usize];
    b[0..8].copy_from_slice(&name.to_le_bytes());
    b[16..24].copy_from_slice(&ops.to_le_bytes());
    b[24..26].copy_from_slice(&0o444u16.to_le_bytes());
    b[32..40].copy_from_slice(&arg.to_le_bytes());
    b
}

fn module_with(t: &mut FakeTarget, kp: u64, num: u32) {
    let mut m = vec![0u8; 0x400];
    m[0..8].copy_from_slice(&kp.to_le_bytes());
    m[8..12].copy_from_slice(&num.to_le_bytes());
    t.map(MODULE, m);
}

#[test]
fn every_standard_kind_is_decoded_as_sysfs_prints_it() {
    let mut t = base_target();
    let names = [
        "p_int", "p_uint", "p_bool", "p_charp", "p_arr", "p_str", "p_odd",
    ];
    let mut blob = Vec::new();
    for n in names {
        blob.extend_from_slice(n.as_bytes());
        blob.push(0);
    }
    t.map(0x5000, blob);
    let name_at = |i: usize| 0x5000 + names[..i].iter().map(|n| n.len() as u64 + 1).sum::<u64>();
    // values
    t.map(0x6000, (-42i32).to_le_bytes().to_vec());
    t.map(0x6100, 4_000_000_000u32.to_le_bytes().to_vec());
    t.map(0x6200, vec![1]);
    t.map(0x6300, 0x6400u64.to_le_bytes().to_vec());
    t.map(0x6400, b"hello\0".to_vec());
    // array: max 6, elemsize 4, num -> 3, ops int, elem
    let mut arr = vec![0u8; 32];
    arr[0..4].copy_from_slice(&6u32.to_le_bytes());
    arr[4..8].copy_from_slice(&4u32.to_le_bytes());
    arr[8..16].copy_from_slice(&0x6600u64.to_le_bytes());
    arr[16..24].copy_from_slice(&ops("param_ops_int").to_le_bytes());
    arr[24..32].copy_from_slice(&0x6700u64.to_le_bytes());
    t.map(0x6500, arr);
    t.map(0x6600, 3u32.to_le_bytes().to_vec());
    let elems: Vec<u8> = [1i32, -2, 3, 0, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    t.map(0x6700, elems);
    // string: maxlen 16, buffer
    let mut ks = vec![0u8; 16];
    ks[0..4].copy_from_slice(&16u32.to_le_bytes());
    ks[8..16].copy_from_slice(&0x6900u64.to_le_bytes());
    t.map(0x6800, ks);
    t.map(0x6900, b"world\0\0\0\0\0\0\0\0\0\0\0".to_vec());
    let table: Vec<u8> = [
        kernel_param(name_at(0), ops("param_ops_int"), 0x6000),
        kernel_param(name_at(1), ops("param_ops_uint"), 0x6100),
        kernel_param(name_at(2), ops("param_ops_bool"), 0x6200),
        kernel_param(name_at(3), ops("param_ops_charp"), 0x6300),
        kernel_param(name_at(4), ops("param_array_ops"), 0x6500),
        kernel_param(name_at(5), ops("param_ops_string"), 0x6800),
        kernel_param(name_at(6), 0xdead_beef, 0x6000),
    ]
    .concat();
    t.map(0x4000, table);
    module_with(&mut t, 0x4000, 7);
    let l = ParamLayout::learn(&t).unwrap();
    let (p, problems) = read_params(&t, &l, MODULE);
    assert!(problems.is_empty(), "{problems:?}");
    let got: Vec<(&str, &str, Option<&str>)> = p
        .iter()
        .map(|x| (x.name.as_str(), x.kind.as_str(), x.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("p_int", "int", Some("-42")),
            ("p_uint", "uint", Some("4000000000")),
            ("p_bool", "bool", Some("Y")),
            ("p_charp", "charp", Some("hello")),
            ("p_arr", "array of int", Some("1,-2,3")),
            ("p_str", "string", Some("world")),
            ("p_odd", "unknown", None),
        ]
    );
    assert_eq!(p[6].ops, 0xdead_beef);
    assert_eq!(p[0].perm, Some(0o444));
}

#[test]
fn hostile_tables_end_in_named_problems() {
    // A huge num_kp over a table of one readable entry: capped, and stops at the first unreadable one.
    let mut t = base_target();
    t.map(0x5000, b"x\0".to_vec());
    t.map(0x6000, 5i32.to_le_bytes().to_vec());
    t.map(0x4000, kernel_param(0x5000, ops("param_ops_int"), 0x6000));
    module_with(&mut t, 0x4000, u32::MAX);
    let l = ParamLayout::learn(&t).unwrap();
    let (p, problems) = read_params(&t, &l, MODULE);
    assert_eq!(p.len(), 1);
    assert!(
        problems.iter().any(|w| w.contains(&MAX_PARAMS.to_string())),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|w| w.contains("stopped there")),
        "{problems:?}"
    );

    // NULL kp with a count.
    let mut t = base_target();
    module_with(&mut t, 0, 3);
    let (p, problems) = read_params(&t, &ParamLayout::learn(&t).unwrap(), MODULE);
    assert!(p.is_empty() && problems[0].contains("NULL"), "{problems:?}");

    // Wild name, wild value, array count above its max, charp NULL.
    let mut t = base_target();
    let mut arr = vec![0u8; 32];
    arr[0..4].copy_from_slice(&2u32.to_le_bytes());
    arr[4..8].copy_from_slice(&4u32.to_le_bytes());
    arr[8..16].copy_from_slice(&0x6600u64.to_le_bytes());
    arr[16..24].copy_from_slice(&ops("param_ops_int").to_le_bytes());
    arr[24..32].copy_from_slice(&0x6700u64.to_le_bytes());
    t.map(0x6500, arr);
    t.map(0x6600, 1_000_000u32.to_le_bytes().to_vec());
    t.map(0x6300, 0u64.to_le_bytes().to_vec());
    t.map(0x5000, b"ok\0".to_vec());
    let table: Vec<u8> = [
        kernel_param(0xffff_dead_0000_0000, ops("param_ops_int"), 0x6000),
        kernel_param(0x5000, ops("param_ops_uint"), 0xffff_dead_0000_0000),
        kernel_param(0x5000, ops("param_array_ops"), 0x6500),
        kernel_param(0x5000, ops("param_ops_charp"), 0x6300),
    ]
    .concat();
    t.map(0x4000, table);
    module_with(&mut t, 0x4000, 4);
    let (p, problems) = read_params(&t, &ParamLayout::learn(&t).unwrap(), MODULE);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(
        p[0].problem.as_deref().unwrap().contains("name at"),
        "{p:?}"
    );
    assert!(p[1].value.is_none() && p[1].problem.as_deref().unwrap().contains("unreadable"));
    assert!(
        p[2].problem.as_deref().unwrap().contains("holds 2"),
        "{:?}",
        p[2]
    );
    assert_eq!(p[3].value.as_deref(), Some("(null)"));
}

// --- address resolution --------------------------------------------------------------------------------

const CORE: u64 = 0xffff_ffff_c000_1000;
const INIT: u64 = 0xffff_ffff_c000_9000;
const KALLSYMS: u64 = 0x20_0000;
const SYMTAB: u64 = 0x21_0000;
const STRTAB: u64 = 0x22_0000;

fn sym(name_off: u32, value: u64, size: u64) -> Vec<u8> {
    let mut b = vec![0u8; 24];
    b[0..4].copy_from_slice(&name_off.to_le_bytes());
    b[4] = 0x12; // GLOBAL FUNC
    b[6..8].copy_from_slice(&1u16.to_le_bytes());
    b[8..16].copy_from_slice(&value.to_le_bytes());
    b[16..24].copy_from_slice(&size.to_le_bytes());
    b
}

/// One module `oot_oops` with core at CORE (0x2000 bytes), a cleared init layout, and a symbol table with
/// `oot_oops_poke` at CORE+0x10 (0x20 bytes) and `helper` at CORE+0x100.
fn module_target(num_symtab: u32) -> (FakeTarget, Vec<ModuleInfo>) {
    let mut t = FakeTarget::new();
    t.add_struct(
        "module",
        0x400,
        &[
            ("core_layout.base", 0x100, 8),
            ("core_layout.size", 0x108, 4),
            ("init_layout.base", 0x140, 8),
            ("init_layout.size", 0x148, 4),
            ("kallsyms", 0x180, 8),
        ],
    );
    t.add_struct(
        "mod_kallsyms",
        32,
        &[("symtab", 0, 8), ("num_symtab", 8, 4), ("strtab", 16, 8)],
    );
    let mut m = vec![0u8; 0x400];
    m[0x100..0x108].copy_from_slice(&CORE.to_le_bytes());
    m[0x108..0x10c].copy_from_slice(&0x2000u32.to_le_bytes());
    m[0x180..0x188].copy_from_slice(&KALLSYMS.to_le_bytes());
    t.map(MODULE, m);
    let mut k = vec![0u8; 32];
    k[0..8].copy_from_slice(&SYMTAB.to_le_bytes());
    k[8..12].copy_from_slice(&num_symtab.to_le_bytes());
    k[16..24].copy_from_slice(&STRTAB.to_le_bytes());
    t.map(KALLSYMS, k);
    t.map(
        SYMTAB,
        [
            vec![0u8; 24],
            sym(1, CORE + 0x10, 0x20),
            sym(15, CORE + 0x100, 0),
        ]
        .concat(),
    );
    t.map(STRTAB, b"\0oot_oops_poke\0helper\0".to_vec());
    let module = ModuleInfo {
        name: "oot_oops".into(),
        state: "LIVE".into(),
        taints: "OE".into(),
        signed: Some(false),
        base: Some(CORE),
        size: Some(0x2000),
        version: None,
        srcversion: None,
        address: MODULE,
        parameters: None,
        taint_mask: 0x3000,
    };
    (t, vec![module])
}

#[test]
fn module_addresses_resolve_through_the_modules_own_symbol_table() {
    let (t, mods) = module_target(3);
    let mut r = Resolver::new(&t, &mods, Some("oot_gone".into()));
    assert_eq!(
        r.resolve(CORE + 0x15),
        Resolution::Module {
            module: "oot_oops".into(),
            symbol: Some("oot_oops_poke".into()),
            offset: 5,
            size: Some(0x20),
            init: false
        }
    );
    // After a sized symbol, the nearest below (unsized) one.
    match r.resolve(CORE + 0x180) {
        Resolution::Module { symbol, offset, .. } => {
            assert_eq!((symbol.as_deref(), offset), (Some("helper"), 0x80))
        }
        other => panic!("{other:?}"),
    }
    // The freed init range (cleared to 0): in no loaded module, neighbours and last unloaded named.
    match r.resolve(INIT) {
        Resolution::Unowned(u) => {
            assert_eq!(
                u.nearest_below,
                Some(("oot_oops".into(), INIT - CORE - 0x2000))
            );
            assert_eq!(u.nearest_above, None);
            assert_eq!(u.last_unloaded.as_deref(), Some("oot_gone"));
        }
        other => panic!("{other:?}"),
    }
    // A kernel address with no symbol source: unknown, not guessed.
    assert_eq!(r.resolve(0xffff_ffff_8100_0000), Resolution::Unknown);
    assert!(r.problems.is_empty(), "{:?}", r.problems);

    let mut loc = CodeLocation {
        symbol: None,
        offset: None,
        size: None,
        module: None,
        address: Some(CORE + 0x12),
        resolved_by: None,
    };
    assert!(r.fill(&mut loc).is_none());
    assert_eq!(loc.symbol.as_deref(), Some("oot_oops_poke"));
    assert_eq!(loc.module.as_deref(), Some("oot_oops"));
    assert_eq!(loc.resolved_by, Some(ResolvedBy::ModuleSymtab));
}

#[test]
fn hostile_module_symbol_tables_are_problems_not_guesses() {
    // A num_symtab far beyond any module: refused, the module still owns the address.
    let (t, mods) = module_target(u32::MAX);
    let mut r = Resolver::new(&t, &mods, None);
    match r.resolve(CORE + 0x15) {
        Resolution::Module { module, symbol, .. } => {
            assert_eq!((module.as_str(), symbol), ("oot_oops", None))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        r.problems.iter().any(|p| p.contains("num_symtab")),
        "{:?}",
        r.problems
    );
    // A table that runs into unmapped memory: named, not a panic.
    let (t, mods) = module_target(1000);
    let mut r = Resolver::new(&t, &mods, None);
    assert!(matches!(
        r.resolve(CORE + 0x15),
        Resolution::Module { symbol: None, .. }
    ));
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("symbol table unreadable")));
}

// --- keyrings --------------------------------------------------------------------------------------------

use analyzers::keyrings::read_keyrings;

const KEY_SIZE: u64 = 0x100;

/// struct key: serial @4, type @0x10, description @0x20, expiry @0x28, keys.root @0x40,
/// keys.nr_leaves_on_tree @0x48; key_type.name @0; node slots @16; shortcut next_node @16.
fn keyring_target() -> FakeTarget {
    let mut t = FakeTarget::new();
    t.add_struct(
        "key",
        KEY_SIZE,
        &[
            ("serial", 4, 4),
            ("type", 0x10, 8),
            ("description", 0x20, 8),
            ("expiry", 0x28, 8),
            ("keys", 0x40, 16),
        ],
    );
    t.add_struct(
        "assoc_array",
        16,
        &[("root", 0, 8), ("nr_leaves_on_tree", 8, 8)],
    );
    t.add_struct("key_type", 64, &[("name", 0, 8)]);
    t.map(0x7000, 0x7100u64.to_le_bytes().to_vec()); // key_type asymmetric
    t.map(0x7100, b"asymmetric\0".to_vec());
    t.map(0x7200, 0x7300u64.to_le_bytes().to_vec()); // key_type keyring
    t.map(0x7300, b"keyring\0".to_vec());
    t.add_symbol("builtin_trusted_keys", 0x8000);
    t.map(0x8000, 0x1_0000u64.to_le_bytes().to_vec());
    t
}

fn key(
    t: &mut FakeTarget,
    at: u64,
    serial: u32,
    ty: u64,
    desc: &str,
    expiry: u64,
    (root, n): (u64, u64),
) {
    let mut k = vec![0u8; KEY_SIZE as usize];
    k[4..8].copy_from_slice(&serial.to_le_bytes());
    k[0x10..0x18].copy_from_slice(&ty.to_le_bytes());
    k[0x20..0x28].copy_from_slice(&(at + 0x80).to_le_bytes());
    k[0x28..0x30].copy_from_slice(&expiry.to_le_bytes());
    k[0x40..0x48].copy_from_slice(&root.to_le_bytes());
    k[0x48..0x50].copy_from_slice(&n.to_le_bytes());
    k[0x80..0x80 + desc.len()].copy_from_slice(desc.as_bytes());
    t.map(at, k);
}

fn node(t: &mut FakeTarget, at: u64, slots: &[u64]) {
    let mut b = vec![0u8; 16 + 16 * 8 + 8];
    for (i, s) in slots.iter().enumerate() {
        b[16 + i * 8..24 + i * 8].copy_from_slice(&s.to_le_bytes());
    }
    t.map(at, b);
}

#[test]
fn keyring_walk_follows_nodes_and_shortcuts() {
    let mut t = keyring_target();
    // root -> node A (leaf k1, shortcut S -> node B (leaf k2, keyring-leaf k3))
    key(
        &mut t,
        0x1_0000,
        1,
        0x7200,
        ".builtin_trusted_keys",
        0,
        (0x2_0001, 3),
    );
    node(&mut t, 0x2_0000, &[0x3_0000, 0x2_1003]);
    let mut sc = vec![0u8; 32];
    sc[16..24].copy_from_slice(&0x2_2001u64.to_le_bytes());
    t.map(0x2_1000, sc);
    node(&mut t, 0x2_2000, &[0, 0x3_1000, 0x3_2000 | 2]);
    key(
        &mut t,
        0x3_0000,
        10,
        0x7000,
        "Debian Secure Boot CA: 6ccece7e",
        0,
        (0, 0),
    );
    key(
        &mut t,
        0x3_1000,
        11,
        0x7000,
        "Debian Secure Boot Signer 2022 - linux: 14011249",
        1_900_000_000,
        (0, 0),
    );
    key(&mut t, 0x3_2000, 12, 0x7200, "sub", 0, (0, 0));
    let k = read_keyrings(&t);
    assert!(k.problems.is_empty(), "{:?}", k.problems);
    let r = &k.keyrings[0];
    assert_eq!(r.name, ".builtin_trusted_keys");
    assert_eq!(r.description.as_deref(), Some(".builtin_trusted_keys"));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let got: Vec<(Option<u32>, Option<&str>, Option<i64>)> = r
        .keys
        .iter()
        .map(|k| (k.serial, k.key_type.as_deref(), k.expiry))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(10), Some("asymmetric"), None),
            (Some(11), Some("asymmetric"), Some(1_900_000_000)),
            (Some(12), Some("keyring"), None),
        ]
    );
}

#[test]
fn looping_and_wild_keyring_arrays_end_in_named_problems() {
    // A node whose slot points back at itself.
    let mut t = keyring_target();
    key(
        &mut t,
        0x1_0000,
        1,
        0x7200,
        ".builtin_trusted_keys",
        0,
        (0x2_0001, 1),
    );
    node(&mut t, 0x2_0000, &[0x3_0000, 0x2_0001]);
    key(&mut t, 0x3_0000, 10, 0x7000, "k", 0, (0, 0));
    let r = &read_keyrings(&t).keyrings[0];
    assert_eq!(r.keys.len(), 1);
    assert!(
        r.problems.iter().any(|p| p.contains("loops")),
        "{:?}",
        r.problems
    );

    // A wild node pointer and a wild leaf.
    let mut t = keyring_target();
    key(
        &mut t,
        0x1_0000,
        1,
        0x7200,
        ".builtin_trusted_keys",
        0,
        (0x2_0001, 2),
    );
    node(&mut t, 0x2_0000, &[0xdead_0000, 0xbeef_0001]);
    let r = &read_keyrings(&t).keyrings[0];
    assert!(
        r.problems.iter().any(|p| p.contains("array node")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems.iter().any(|p| p.contains("0xdead0000")),
        "{:?}",
        r.problems
    );

    // A keyring variable that points nowhere.
    let mut t = keyring_target();
    t.write_u64(0x8000, 0xffff_dead_0000_0000);
    let k = read_keyrings(&t);
    assert!(!k.keyrings[0].problems.is_empty());
}

#[test]
fn the_kits_kernel_reports_parameters_and_keys_and_survives_overwrites() {
    use taint_kit::{bits, Kit, Mod};
    let build = || {
        let mut k = Kit::v6_1();
        k.mask(bits("POE"));
        let prop = k.add_module(&Mod::new("oot_prop").taints(bits("POE")).unsigned());
        k.link();
        k.params_and_keyring(prop);
        k
    };
    let r = analyzers::report::analyze(&build().t);
    let p: Vec<(&str, Option<&str>)> = r.modules[0]
        .parameters
        .as_ref()
        .expect("parameters")
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_deref()))
        .collect();
    assert_eq!(
        p,
        vec![
            ("debug", Some("7")),
            ("mode", Some("hello")),
            ("ids", Some("1,2"))
        ]
    );
    assert_eq!(r.keyrings.len(), 1);
    assert_eq!(r.keyrings[0].keys.len(), 2);
    assert!(
        !r.problems.iter().any(|p| p.analyzer == "keyrings"),
        "{:?}",
        r.problems
    );
    // Every region overwritten with 0xff, then with a self-pointer pattern: problems, never a panic or hang.
    let regions = build().t.region_count();
    for i in 0..regions {
        for pattern in [
            vec![0xffu8; 64],
            0xffff_ffff_c000_0001u64.to_le_bytes().repeat(8),
        ] {
            let mut k = build();
            k.t.overwrite(i, 0, &pattern);
            let _ = analyzers::report::analyze(&k.t);
        }
    }
}
