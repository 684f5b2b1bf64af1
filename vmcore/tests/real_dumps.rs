//! Real dumps of every Debian cloud kernel line (made by testcores/make-real-cores.sh), every scenario and
//! format, checked against independent oracles: the guest's own view before the crash, `nm`, `pahole`
//! and `readelf` on each kernel's debug vmlinux.

use std::collections::{BTreeMap, BTreeSet};

use testcores::real;
use vmcore::{Compression, Format, Vmcore};

fn expected_format(file: &str) -> (Format, Compression) {
    match file {
        "vmcore.lzo" => (Format::Kdump, Compression::Lzo),
        "vmcore.zlib" => (Format::Kdump, Compression::Zlib),
        "vmcore.flat" => (Format::KdumpFlattened, Compression::Lzo),
        "vmcore.elf" => (Format::Elf, Compression::None),
        other => panic!("unexpected dump file {other}"),
    }
}

/// What the oracles say about the debug vmlinux.
struct Oracle {
    build_id: String,
    uts_sym: u64,
    modules_sym: u64,
    list_off: u64,
    name_off: u64,
    name_len: u64,
    release_in_uts: u64,
}

fn oracle(kernel: &real::Kernel) -> Oracle {
    let vmlinux = kernel.vmlinux();
    let (release_off, _) = real::pahole_member(&vmlinux, "new_utsname", "release");
    let (uts_name_off, _) = real::pahole_member(&vmlinux, "uts_namespace", "name");
    let (name_off, name_len) = real::pahole_member(&vmlinux, "module", "name");
    Oracle {
        build_id: real::readelf_build_id(&vmlinux),
        uts_sym: real::nm_symbol(&vmlinux, "init_uts_ns"),
        modules_sym: real::nm_symbol(&vmlinux, "modules"),
        list_off: real::pahole_member(&vmlinux, "module", "list").0,
        name_off,
        name_len,
        release_in_uts: uts_name_off + release_off,
    }
}

/// VMCOREINFO, build-id, the release through kernel text and the direct map, and the module list through the
/// page-table walk, all against the oracles and the guest's own view.
fn check_dump(
    o: &Oracle,
    d: &Vmcore,
    what: &str,
    truth_release: &str,
    truth_modules: &BTreeSet<String>,
) {
    let vi = d
        .vmcoreinfo()
        .unwrap_or_else(|| panic!("{what}: no VMCOREINFO"));
    assert_eq!(
        vi.osrelease.as_deref(),
        Some(truth_release),
        "{what}: OSRELEASE"
    );
    assert_eq!(
        vi.build_id.as_deref(),
        Some(o.build_id.as_str()),
        "{what}: BUILD-ID vs readelf -n vmlinux"
    );
    let slide = vi.kernel_offset.expect("KERNELOFFSET");

    let rel_addr = o.uts_sym + slide + o.release_in_uts;
    let mut b = [0u8; 65];
    d.read_virt(rel_addr, &mut b)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(cstr(&b), truth_release, "{what}: release via kernel text");
    let t = d.translator().unwrap();
    let dm = t
        .direct_map_base()
        .unwrap_or_else(|| panic!("{what}: no direct map base"));
    let phys = d.translate(rel_addr).unwrap();
    let mut b2 = [0u8; 65];
    d.read_virt(dm + phys, &mut b2)
        .unwrap_or_else(|e| panic!("{what}: direct map: {e}"));
    assert_eq!(
        cstr(&b2),
        truth_release,
        "{what}: release via the direct map"
    );

    // The module list: nodes live in the module area, read through the page-table walk.
    let head = o.modules_sym + slide;
    let mut names = BTreeSet::new();
    let mut node = d.read_u64(head, what);
    while node != head {
        assert!(
            node >= 0xffff_ffff_c000_0000,
            "{what}: module list node {node:#x} outside the module area"
        );
        let m = node - o.list_off;
        let mut nb = vec![0u8; o.name_len as usize];
        d.read_virt(m + o.name_off, &mut nb)
            .unwrap_or_else(|e| panic!("{what}: module name at {m:#x}: {e}"));
        names.insert(cstr(&nb));
        node = d.read_u64(node, what);
        assert!(names.len() <= 4096, "{what}: module list does not end");
    }
    assert_eq!(
        &names, truth_modules,
        "{what}: module names vs the guest's /proc/modules"
    );
}

/// Every x86-64 kernel's dumps (the arm64 ones, whose linear map and walk differ, are in real_arm64.rs).
fn x86_64_scenarios() -> Vec<real::Scenario> {
    real::scenarios_of("x86_64")
}

#[test]
fn every_format_of_every_scenario_reads_right() {
    let scenarios = x86_64_scenarios();
    let oracles: BTreeMap<String, Oracle> = real::kernels_of("x86_64")
        .iter()
        .map(|k| (k.release.clone(), oracle(k)))
        .collect();
    real::check_each(scenarios, real::Scenario::id, |s| {
        let o = &oracles[&s.kernel.release];
        let truth_release = s.release();
        assert_eq!(
            truth_release,
            s.kernel.release,
            "{}: the guest ran its kernel",
            s.id()
        );
        let manifest = s.manifest();
        for (key, want) in [
            ("kernel_release", &s.kernel.release),
            ("arch", &s.kernel.arch),
        ] {
            assert!(
                manifest.contains(&format!("\"{key}\": \"{want}\"")),
                "{}: manifest.json {key} is not {want}",
                s.id()
            );
        }
        let mut truth_modules: BTreeSet<String> = s.modules().into_keys().collect();
        // The guest's view was saved before the insmod whose init oopses and triggers the dump: that module
        // is on the list (COMING) at crash time but not in the saved /proc/modules.
        truth_modules.extend(s.module_coming_at_crash().map(String::from));
        for path in s.dumps() {
            let file = path.file_name().unwrap().to_str().unwrap();
            let what = format!("{}/{file}", s.id());
            let d = Vmcore::open(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (d.format(), d.compression()),
                expected_format(file),
                "{what}"
            );
            check_dump(o, &d, &what, &truth_release, &truth_modules);
        }
    });
}

/// QEMU's `dump-guest-memory` of the same guest state: ELF with physical addresses only, and the flattened
/// kdump-zlib stream (which drgn 0.3.0 cannot open).
#[test]
fn qemu_dump_guest_memory_outputs_read_right() {
    // arm64's virt machine has no second serial port for the QMP handshake: no QEMU dumps there.
    let mixed: Vec<real::Scenario> = x86_64_scenarios()
        .into_iter()
        .filter(|s| s.name == "mixed")
        .collect();
    real::check_each(mixed, real::Scenario::id, |s| {
        let o = oracle(&s.kernel);
        let truth_modules: BTreeSet<String> = s.modules().into_keys().collect();
        for (file, format, compression) in [
            ("qemu.elf", Format::Elf, Compression::None),
            ("qemu-kdump.flat", Format::KdumpFlattened, Compression::Zlib),
        ] {
            let what = format!("{}/{file}", s.id());
            let d = Vmcore::open(s.dir.join(file)).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (d.format(), d.compression()),
                (format, compression),
                "{what}"
            );
            if format == Format::Elf {
                // With paging off QEMU writes p_vaddr = p_paddr (not kernel addresses): the direct map must
                // come from the page tables, not from these.
                assert!(
                    d.elf_segments()
                        .unwrap()
                        .iter()
                        .all(|seg| seg.vaddr == seg.paddr),
                    "{what}: identity p_vaddr"
                );
                assert!(!d.notes().qemu_cpus.is_empty(), "{what}: QEMU CPU notes");
            }
            check_dump(&o, &d, &what, &s.release(), &truth_modules);
        }
    });
}

trait ReadU64 {
    fn read_u64(&self, addr: u64, what: &str) -> u64;
}

impl ReadU64 for Vmcore {
    fn read_u64(&self, addr: u64, what: &str) -> u64 {
        let mut b = [0u8; 8];
        self.read_virt(addr, &mut b)
            .unwrap_or_else(|e| panic!("{what}: read {addr:#x}: {e}"));
        u64::from_le_bytes(b)
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
