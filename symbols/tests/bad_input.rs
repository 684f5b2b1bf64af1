//! Bad input: typed errors, never a panic.

mod common;

use common::Spec;
use symbols::{Error, Vmlinux};

fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    f
}

/// Runs every query; each must return (Ok or a typed error) without panicking.
fn exercise(v: &Vmlinux) -> Vec<Result<(), Error>> {
    vec![
        v.symbol("tainted_mask").map(drop),
        v.layout("module").map(drop),
        v.layout("tnt").map(drop),
        v.enumeration("module_state").map(drop),
        v.enumerator("MODULE_STATE_GOING").map(drop),
        v.variable_type("tnts").map(drop),
        v.variable_type("last_unloaded_module").map(drop),
        v.linux_banner().map(drop),
    ]
}

#[test]
fn truncated_at_many_points() {
    let full = common::build(Spec {
        version: 5,
        compress: false,
        no_dwarf: false,
    });
    let mut typed_errors = 0;
    let cuts: Vec<usize> = (0..40)
        .map(|i| full.len() * i / 40)
        .chain([1, 4, 16, 63, 64, full.len() - 1])
        .collect();
    for cut in cuts {
        let f = write(&full[..cut]);
        match Vmlinux::open(f.path()) {
            Ok(v) => {
                for r in exercise(&v) {
                    if let Err(e) = r {
                        typed_errors += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
            Err(e) => {
                typed_errors += 1;
                assert!(
                    matches!(
                        e,
                        Error::Truncated { .. } | Error::NotElf { .. } | Error::Malformed { .. }
                    ),
                    "cut {cut}: {e:?}"
                );
            }
        }
    }
    assert!(typed_errors > 40, "cuts should fail: {typed_errors}");
    // The section header table sits at the end of the file: a cut loses it and says so.
    let f = write(&full[..full.len() - 10]);
    assert!(matches!(
        Vmlinux::open(f.path()),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn stripped_vmlinux_names_the_debug_package() {
    let f = common::write_temp(Spec {
        version: 5,
        compress: false,
        no_dwarf: true,
    });
    let v = Vmlinux::open(f.path()).unwrap();
    // Symbols still work.
    assert_eq!(
        v.symbol("tainted_mask").unwrap().address,
        common::ADDR_TAINTED_MASK
    );
    match v.layout("module") {
        Err(e @ Error::NoDebugInfo { .. }) => {
            let text = e.to_string();
            assert!(text.contains("no DWARF"), "{text}");
            // The release comes from linux_banner in the file.
            assert!(text.contains("linux-image-9.9.9-synthetic-dbg"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_elf_and_empty_and_missing() {
    let f = write(b"this is not an ELF file at all, just text\n");
    assert!(matches!(Vmlinux::open(f.path()), Err(Error::NotElf { .. })));
    let f = write(b"");
    assert!(matches!(Vmlinux::open(f.path()), Err(Error::NotElf { .. })));
    let f = write(b"\x7fELF\x02\x01");
    assert!(matches!(
        Vmlinux::open(f.path()),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Vmlinux::open("/nonexistent/vmlinux"),
        Err(Error::Io { .. })
    ));
}

#[test]
fn malformed_dwarf_bytes() {
    let full = common::build(Spec {
        version: 5,
        compress: false,
        no_dwarf: false,
    });
    // Find .debug_info and .debug_abbrev through object and scribble over them.
    use object::{Object, ObjectSection};
    let obj = object::File::parse(&*full).unwrap();
    let mut patched = 0;
    for name in [".debug_info", ".debug_abbrev", ".debug_str"] {
        let (off, len) = obj.section_by_name(name).unwrap().file_range().unwrap();
        for pattern in [0xffu8, 0x00, 0x80] {
            let mut bad = full.clone();
            // Keep the unit length intact for .debug_info so the damage is inside the unit.
            let start = off as usize + if name == ".debug_info" { 12 } else { 0 };
            for b in &mut bad[start..(off + len) as usize] {
                *b = pattern;
            }
            let f = write(&bad);
            let v = Vmlinux::open(f.path()).unwrap();
            let results = exercise(&v);
            assert!(
                results.iter().any(|r| r.is_err()),
                "{name} filled with {pattern:#x}"
            );
            patched += 1;
        }
    }
    // Every byte of .debug_info flipped in turn (a coarse fuzz): no panics.
    let (off, len) = obj
        .section_by_name(".debug_info")
        .unwrap()
        .file_range()
        .unwrap();
    for i in (0..len as usize).step_by(7) {
        let mut bad = full.clone();
        bad[off as usize + i] ^= 0xa5;
        let f = write(&bad);
        if let Ok(v) = Vmlinux::open(f.path()) {
            let _ = exercise(&v);
        }
    }
    assert_eq!(patched, 9);
}

#[test]
fn bogus_compressed_size_is_rejected() {
    let mut full = common::build(Spec {
        version: 5,
        compress: true,
        no_dwarf: false,
    });
    use object::{Object, ObjectSection};
    let obj = object::File::parse(&*full).unwrap();
    let (off, _) = obj
        .section_by_name(".debug_info")
        .unwrap()
        .file_range()
        .unwrap();
    // ch_size = 2^62
    full[off as usize + 8..off as usize + 16].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let f = write(&full);
    let v = Vmlinux::open(f.path()).unwrap();
    assert!(matches!(v.layout("module"), Err(Error::Malformed { .. })));
}
