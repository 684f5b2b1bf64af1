//! The kernel log read from each real dump of every kernel line, with nothing but the dump's own VMCOREINFO,
//! renders exactly like `makedumpfile --dump-dmesg` did for the same dump inside the capture kernel
//! (vmcore-dmesg.txt; the manifest names the makedumpfile version).

use analyzers::kernel_log::{read_log, LogSource};
use engine::target::{DumpTarget, VmcoreInfoOnly};
use testcores::real;
use vmcore::Vmcore;

/// `(1, 7, 8)` from the manifest's makedumpfile version, whichever way it is written:
/// `makedumpfile: version 1.7.8 (released ...)` or Debian's `makedumpfile 1:1.7.2-1 (Debian arm64)`.
fn makedumpfile_version(manifest: &str) -> (u32, u32, u32) {
    let v: serde_json::Value = serde_json::from_str(manifest).expect("manifest.json");
    let text = v["makedumpfile_version"]
        .as_str()
        .expect("makedumpfile_version");
    let version = text
        .split_whitespace()
        .map(|w| w.rsplit(':').next().unwrap_or(w)) // Debian epoch `1:`
        .map(|w| w.split('-').next().unwrap_or(w)) // Debian revision `-1`
        .find(|w| w.split('.').count() == 3 && w.split('.').all(|p| p.parse::<u32>().is_ok()))
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    let n: Vec<u32> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    (n[0], n[1], n[2])
}

#[test]
fn log_equals_makedumpfile_dump_dmesg_on_every_real_dump() {
    let compared = std::sync::atomic::AtomicUsize::new(0);
    let all = real::all_scenarios();
    let n = all.len();
    real::check_each(all, real::Scenario::id, |s| {
        let want = std::fs::read(s.dir.join("vmcore-dmesg.txt")).expect("vmcore-dmesg.txt");
        let want = String::from_utf8_lossy(&want);
        // makedumpfile 1.7.5+ adds the printk caller column (`[     T89] `) when the kernel records it.
        let with_caller = makedumpfile_version(&s.manifest()) >= (1, 7, 5);
        for path in s.dumps() {
            let what = format!("{}/{}", s.id(), path.file_name().unwrap().to_string_lossy());
            let dump = Vmcore::open(&path).unwrap();
            let syms = VmcoreInfoOnly(dump.vmcoreinfo().expect("VMCOREINFO"));
            let t = DumpTarget {
                dump: &dump,
                symbols: &syms,
            };
            let log = read_log(&t).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(log.source, LogSource::PrintkRingbuffer, "{what}");
            assert!(log.problems.is_empty(), "{what}: {:?}", log.problems);
            let got = if with_caller {
                log.render_with_caller()
            } else {
                log.render()
            };
            if got != want {
                let first = got.lines().zip(want.lines()).position(|(a, b)| a != b);
                panic!(
                    "{what}: differs from vmcore-dmesg.txt at line {first:?} ({} vs {} lines)",
                    got.lines().count(),
                    want.lines().count()
                );
            }
            assert!(
                got.lines().count() > 100,
                "{what}: a booted kernel logs more than that"
            );
            compared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert_eq!(compared.into_inner(), n * real::KDUMP_FILES.len());
}
