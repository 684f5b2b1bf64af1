//! Real arm64 dumps (Debian's cloud-arm64 kernel under qemu-system-aarch64, testcores/make-real-cores.sh),
//! every scenario and format: AArch64 translation checked against independent views: `nm` and `pahole` on the
//! arm64 debug vmlinux, the guest's `uname -r` and `/proc/modules`, the tables themselves (linear fast path vs
//! the walk), and kexec-tools' own `p_vaddr` in `/proc/vmcore`'s linear-map segments.

use testcores::real::{self, Kernel};
use vmcore::{Machine, Translator, Vmcore};

fn arm64_kernel() -> Kernel {
    real::kernels()
        .into_iter()
        .find(|k| k.arch == "aarch64")
        .expect("the script's KERNELS table has an arm64 line")
}

fn cstr(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned()
}

#[test]
fn arm64_translation_agrees_with_the_vmlinux_the_guest_and_kexec() {
    let k = arm64_kernel();
    let vmlinux = k.vmlinux();
    let uts = real::nm_symbol(&vmlinux, "init_uts_ns");
    let modules_sym = real::nm_symbol(&vmlinux, "modules");
    let (release_off, _) = real::pahole_member(&vmlinux, "new_utsname", "release");
    let (uts_name_off, _) = real::pahole_member(&vmlinux, "uts_namespace", "name");
    let (list_off, _) = real::pahole_member(&vmlinux, "module", "list");
    let (name_off, _) = real::pahole_member(&vmlinux, "module", "name");
    for sc in k.scenarios() {
        let release = sc.release();
        let mut truth_modules: Vec<String> = sc
            .truth("modules")
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        // Loading when it oopsed: after /proc/modules was read.
        truth_modules.extend(sc.module_coming_at_crash().map(String::from));
        truth_modules.sort();
        for dump in sc.dumps() {
            let what = format!(
                "{}/{}",
                sc.id(),
                dump.file_name().unwrap().to_string_lossy()
            );
            let d = Vmcore::open(&dump).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(d.machine(), Machine::Aarch64, "{what}");
            let Ok(Translator::Aarch64(t)) = d.translator() else {
                panic!("{what}: no aarch64 translator: {:?}", d.translator().err())
            };
            let slide = d.vmcoreinfo().unwrap().kernel_offset.expect("KERNELOFFSET");
            // The release through the kernel image (the tables), then through the linear map (no tables).
            let rel_va = uts + slide + uts_name_off + release_off;
            let mut b = [0u8; 65];
            d.read_virt(rel_va, &mut b)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(cstr(&b), release, "{what}: release via the image");
            let phys = d.translate(rel_va).unwrap();
            assert_eq!(
                phys,
                t.config.kimage_to_phys(rel_va),
                "{what}: walk vs kimage_voffset"
            );
            let linear = t.config.page_offset() + (phys - t.config.phys_offset);
            let mut b2 = [0u8; 65];
            d.read_virt(linear, &mut b2).unwrap();
            assert_eq!(cstr(&b2), release, "{what}: release via the linear map");
            let walked = t
                .walker
                .translate(&d, linear)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(walked.paddr, phys, "{what}: linear fast path vs the tables");
            // The module list: nodes in the module area (vmalloc, walked), names as /proc/modules has them.
            let head = modules_sym + slide;
            let mut names = Vec::new();
            let mut next = [0u8; 8];
            d.read_virt(head, &mut next).unwrap();
            let mut node = u64::from_le_bytes(next);
            while node != head {
                assert!(names.len() < 1000, "{what}: the module list does not end");
                let module = node - list_off;
                let mut name = [0u8; 56];
                d.read_virt(module + name_off, &mut name)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                names.push(cstr(&name));
                d.read_virt(node, &mut next).unwrap();
                node = u64::from_le_bytes(next);
            }
            names.sort();
            assert_eq!(names, truth_modules, "{what}: modules");
            // kexec-tools (shown `_text`) wrote linear-map p_vaddr for RAM: they agree with PAGE_OFFSET and
            // PHYS_OFFSET from VMCOREINFO.
            if let Some(segs) = d.elf_segments() {
                let mut linear_segments = 0;
                for s in segs {
                    if let Some(p) = t.config.linear_to_phys(s.vaddr) {
                        assert_eq!(p, s.paddr, "{what}: segment at {:#x}", s.paddr);
                        linear_segments += 1;
                    }
                }
                assert!(linear_segments > 0, "{what}: no linear-map segment");
            }
        }
    }
}
