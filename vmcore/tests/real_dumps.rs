//! Real dumps of the Debian 6.1 cloud kernel (made by testcores/make-real-cores.sh), every scenario and
//! format, checked against independent oracles: the guest's own view before the crash, `nm`, `pahole`
//! and `readelf` on the debug vmlinux.

use std::collections::BTreeSet;

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

#[test]
fn every_format_of_every_scenario_reads_right() {
    let vmlinux = real::vmlinux();
    let build_id = real::readelf_build_id(&vmlinux);
    let uts_sym = real::nm_symbol(&vmlinux, "init_uts_ns");
    let modules_sym = real::nm_symbol(&vmlinux, "modules");
    let (list_off, _) = real::pahole_member(&vmlinux, "module", "list");
    let (name_off, name_len) = real::pahole_member(&vmlinux, "module", "name");
    let (release_off, _) = real::pahole_member(&vmlinux, "new_utsname", "release");
    let (uts_name_off, _) = real::pahole_member(&vmlinux, "uts_namespace", "name");
    let mut checked = 0;
    for s in real::scenarios() {
        let truth_release = s.release();
        let truth_modules: BTreeSet<String> = s.modules().into_keys().collect();
        for path in s.dumps() {
            let file = path.file_name().unwrap().to_str().unwrap();
            let what = format!("{}/{file}", s.name);
            let d = Vmcore::open(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (d.format(), d.compression()),
                expected_format(file),
                "{what}"
            );
            let vi = d
                .vmcoreinfo()
                .unwrap_or_else(|| panic!("{what}: no VMCOREINFO"));
            assert_eq!(
                vi.osrelease.as_deref(),
                Some(truth_release.as_str()),
                "{what}: OSRELEASE"
            );
            assert_eq!(
                vi.build_id.as_deref(),
                Some(build_id.as_str()),
                "{what}: BUILD-ID vs readelf -n vmlinux"
            );
            let slide = vi.kernel_offset.expect("KERNELOFFSET");

            // init_uts_ns through the kernel text mapping and through the direct map.
            let uts = uts_sym + slide;
            let rel_addr = uts + uts_name_off + release_off;
            let mut b = [0u8; 65];
            d.read_virt(rel_addr, &mut b)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(cstr(&b), truth_release, "{what}: release via kernel text");
            let t = d.translator().unwrap();
            let dm = t
                .direct_map_base
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
            let head = modules_sym + slide;
            let mut names = BTreeSet::new();
            let mut node = d.read_u64(head, &what);
            while node != head {
                assert!(
                    node >= 0xffff_ffff_c000_0000,
                    "{what}: module list node {node:#x} outside the module area"
                );
                let m = node - list_off;
                let mut nb = vec![0u8; name_len as usize];
                d.read_virt(m + name_off, &mut nb)
                    .unwrap_or_else(|e| panic!("{what}: module name at {m:#x}: {e}"));
                names.insert(cstr(&nb));
                node = d.read_u64(node, &what);
                assert!(names.len() <= 4096, "{what}: module list does not end");
            }
            assert_eq!(
                names, truth_modules,
                "{what}: module names vs the guest's /proc/modules"
            );
            checked += 1;
        }
    }
    assert!(checked > 0 || std::env::var("VMTAINT_ALLOW_MISSING_REAL").is_ok());
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
