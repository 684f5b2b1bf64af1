//! Layouts the real 6.1 kernel lacks, from synthetic DWARF 4 and 5 (and compressed sections).

mod common;

use common::{Spec, ADDR_LAST_UNLOADED, ADDR_TAINTED_MASK, ADDR_TNTS, BANNER, BUILD_ID};
use symbols::{AggregateKind, BaseEncoding, BitField, Error, SymbolKind, TypeDesc, Vmlinux};

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            version: 4,
            compress: false,
            no_dwarf: false,
        },
        Spec {
            version: 5,
            compress: false,
            no_dwarf: false,
        },
        Spec {
            version: 5,
            compress: true,
            no_dwarf: false,
        },
    ]
}

fn each(f: impl Fn(&Vmlinux, u16)) {
    for spec in specs() {
        let file = common::write_temp(spec);
        let v = Vmlinux::open(file.path()).expect("open synthetic vmlinux");
        f(&v, spec.version);
    }
}

#[test]
fn module_with_core_layout_and_no_sig_ok() {
    each(|v, version| {
        let m = v.layout("module").unwrap();
        assert_eq!(m.kind, AggregateKind::Struct);
        assert_eq!(m.size, 120, "DWARF {version}");
        assert_eq!(m.member("state").unwrap().offset, 0);
        assert!(matches!(
            m.member("state").unwrap().ty,
            TypeDesc::Enum { size: 4, .. }
        ));
        assert_eq!(m.member("list").unwrap().offset, 8);
        let core = m.member("core_layout").unwrap();
        assert_eq!((core.offset, core.size), (80, 16));
        assert_eq!(core.type_name, "struct module_layout");
        // Dotted path through a named member.
        let size = m.member("core_layout.size").unwrap();
        assert_eq!((size.offset, size.size), (88, 4));
        assert!(!m.has_member("mem"));
        assert!(!m.has_member("sig_ok"));
        let err = m.member("sig_ok").unwrap_err();
        assert_eq!(err.member, "sig_ok");
        // unsigned int taints (older kernels), not unsigned long.
        let taints = m.member("taints").unwrap();
        assert_eq!((taints.offset, taints.size), (96, 4));
        assert!(
            matches!(&taints.ty, TypeDesc::Base(b) if b.encoding == BaseEncoding::Unsigned && b.size == 4)
        );
        let name = m.member("name").unwrap();
        assert_eq!(
            name.ty.as_array().map(|(e, n)| (e.is_char(), n)),
            Some((true, Some(56)))
        );
        assert_eq!(name.type_name, "char[56]");
    });
}

#[test]
fn anonymous_members_are_flattened_with_cumulative_offsets() {
    each(|v, version| {
        let m = v.layout("module").unwrap();
        // union at 104 { struct { a:3; b:5 }; long c; }
        let c = m.member("c").unwrap();
        assert_eq!((c.offset, c.size), (104, 8), "DWARF {version}");
        let a = m.member("a").unwrap();
        assert_eq!(a.offset, 104);
        assert_eq!(
            a.bits,
            Some(BitField {
                first_bit: 0,
                bit_size: 3
            }),
            "DWARF {version}"
        );
        let b = m.member("b").unwrap();
        assert_eq!((b.offset, b.size), (104, 4));
        assert_eq!(
            b.bits,
            Some(BitField {
                first_bit: 3,
                bit_size: 5
            }),
            "DWARF {version}"
        );
        // The anonymous union itself is one direct member without a name.
        assert_eq!(m.members.iter().filter(|x| x.name.is_none()).count(), 1);
    });
}

#[test]
fn bit_field_in_dwarf4_and_dwarf5_styles() {
    each(|v, version| {
        let m = v.layout("module").unwrap();
        let f = m.member("flags").unwrap();
        assert_eq!(f.offset, 112, "DWARF {version}");
        assert_eq!(f.size, 4);
        assert_eq!(
            f.bits,
            Some(BitField {
                first_bit: 2,
                bit_size: 4
            }),
            "DWARF {version}"
        );
    });
}

#[test]
fn bare_char_array_last_unloaded_module() {
    each(|v, _| {
        let ty = v.variable_type("last_unloaded_module").unwrap();
        let (elem, count) = ty.as_array().expect("array");
        assert!(elem.is_char());
        assert_eq!(count, Some(57));
        assert_eq!(ty.size(), Some(57));
        assert_eq!(ty.to_string(), "char[57]");
        let sym = v.symbol("last_unloaded_module").unwrap();
        assert_eq!(sym.address, ADDR_LAST_UNLOADED);
        assert!(sym.local);
        assert_eq!(sym.file.as_deref(), Some("module.c"));
        assert_eq!(sym.kind, SymbolKind::Object);
    });
}

#[test]
fn tnts_array_of_struct_tnt_skips_declarations() {
    each(|v, version| {
        // Unit 1 declares `extern struct tnt tnts[]` with an incomplete struct; the definition
        // in unit 2 has the length and the layout.
        let ty = v.variable_type("tnts").unwrap();
        let (elem, count) = ty.as_array().expect("array");
        assert_eq!(count, Some(19), "DWARF {version}");
        let tnt = elem.as_layout().expect("struct tnt expanded");
        assert_eq!(tnt.name.as_deref(), Some("tnt"));
        assert_eq!(tnt.size, 3);
        let names: Vec<_> = tnt
            .members
            .iter()
            .map(|m| (m.name.clone().unwrap(), m.offset, m.size))
            .collect();
        assert_eq!(
            names,
            vec![
                ("bit".into(), 0, 1),
                ("true".into(), 1, 1),
                ("false".into(), 2, 1)
            ]
        );
        // `u8` typedef resolved to unsigned char, the declared name kept.
        assert_eq!(tnt.members[0].type_name, "u8");
        assert!(
            matches!(&tnt.members[0].ty, TypeDesc::Base(b) if b.encoding == BaseEncoding::UnsignedChar)
        );
        assert_eq!(v.symbol("tnts").unwrap().address, ADDR_TNTS);
        // struct tnt: the declaration in unit 1 is skipped, the definition found.
        assert_eq!(v.layout("tnt").unwrap().size, 3);
    });
}

#[test]
fn base_variable_and_pointer_targets() {
    each(|v, _| {
        let ty = v.variable_type("tainted_mask").unwrap();
        assert!(matches!(&*ty, TypeDesc::Base(b) if b.size == 8 && b.name == "long unsigned int"));
        assert_eq!(v.symbol("tainted_mask").unwrap().address, ADDR_TAINTED_MASK);
        let lh = v.layout("list_head").unwrap();
        let next = lh.member("next").unwrap();
        match &next.ty {
            TypeDesc::Pointer { size: 8, target } => {
                assert_eq!(
                    **target,
                    TypeDesc::Opaque {
                        kind: AggregateKind::Struct,
                        name: Some("list_head".into())
                    }
                )
            }
            other => panic!("next is {other:?}"),
        }
        assert_eq!(next.type_name, "struct list_head *");
    });
}

#[test]
fn enumerations() {
    each(|v, _| {
        let e = v.enumeration("module_state").unwrap();
        assert_eq!(e.size, 4);
        assert_eq!(
            e.values,
            vec![
                ("MODULE_STATE_LIVE".to_string(), 0),
                ("MODULE_STATE_COMING".to_string(), 1),
                ("MODULE_STATE_GOING".to_string(), 2),
                ("MODULE_STATE_UNFORMED".to_string(), 3)
            ]
        );
        assert_eq!(e.name_of(2), Some("MODULE_STATE_GOING"));
        assert_eq!(
            v.enumeration("signed_things").unwrap().value("MINUS_ONE"),
            Some(-1)
        );
    });
}

#[test]
fn enumerators_by_name_alone() {
    each(|v, _| {
        for _ in 0..2 {
            // The second round answers from the cache.
            assert_eq!(v.enumerator("MODULE_STATE_GOING").unwrap(), 2);
            assert_eq!(v.enumerator("MODULE_STATE_LIVE").unwrap(), 0);
            assert_eq!(v.enumerator("MINUS_ONE").unwrap(), -1);
            assert_eq!(v.enumerator("ANON_SEVEN").unwrap(), 7);
            match v.enumerator("MODULE_STATE_NONE") {
                Err(Error::NotFound { what, name, .. }) => {
                    assert_eq!((what, name.as_str()), ("enumerator", "MODULE_STATE_NONE"));
                }
                other => panic!("{other:?}"),
            }
            // An enum's name is no enumerator.
            assert!(v.enumerator("module_state").is_err());
        }
    });
}

#[test]
fn not_found_is_typed() {
    each(|v, _| {
        match v.layout("module_memory") {
            Err(Error::NotFound { what, name, .. }) => {
                assert_eq!(what, "struct or union");
                assert_eq!(name, "module_memory");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(v.enumeration("nope"), Err(Error::NotFound { .. })));
        assert!(matches!(
            v.variable_type("nope"),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            v.symbol("nope"),
            Err(Error::NotFound { what: "symbol", .. })
        ));
        // An enum name is not a struct.
        assert!(matches!(
            v.layout("module_state"),
            Err(Error::NotFound { .. })
        ));
    });
}

#[test]
fn banner_and_build_id() {
    each(|v, _| {
        assert_eq!(v.linux_banner().unwrap(), &BANNER[..BANNER.len() - 1]);
        let id = v.build_id().unwrap();
        assert_eq!(id.0, BUILD_ID);
        v.check_build_id(&id.to_hex().to_uppercase()).unwrap();
        match v.check_build_id("00112233445566778899aabbccddeeff00112233") {
            Err(Error::BuildIdMismatch {
                file,
                vmlinux_id,
                dump_id,
            }) => {
                assert_eq!(file, v.path());
                assert_eq!(vmlinux_id, id.to_hex());
                assert_eq!(dump_id, "00112233445566778899aabbccddeeff00112233");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            v.check_build_id("xyz"),
            Err(Error::BadBuildId { .. })
        ));
    });
}

#[test]
fn results_are_cached_and_shared() {
    let file = common::write_temp(Spec {
        version: 5,
        compress: false,
        no_dwarf: false,
    });
    let v = Vmlinux::open(file.path()).unwrap();
    let a = v.layout("module").unwrap();
    let b = v.layout("module").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    // Usable from several threads.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(v.layout("tnt").unwrap().size, 3));
        }
    });
}
