//! Architectures on the command line: an arm64 dump says how it is translated; a dump of an architecture
//! vmtaint cannot translate is refused in one line (`report` exits 2, `scan` records an error) instead of an
//! empty report.

mod common;

use common::vmtaint;
use testcores::aarch64::{kernel_image, KernelParams};
use testcores::{write_elf, write_kdump, ElfOptions, KdumpOptions};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vmtaint-arch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn arm64_info_shows_the_translation() {
    let dir = temp_dir("arm64");
    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let path = dir.join("vmcore.arm64");
    std::fs::write(&path, write_kdump(&img, &KdumpOptions::default())).unwrap();
    let p = path.to_str().unwrap();
    let (code, out, err) = vmtaint(&["info", p]);
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("translation"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("aarch64, 48-bit VA, 4 KiB pages, 4 levels from swapper_pg_dir"),
        "{row}"
    );
    assert!(
        row.contains(&format!("{:#x}", k.swapper_paddr))
            && row.contains("PAC mask 0xff7f000000000000"),
        "{row}"
    );
    let (code, out, err) = vmtaint(&["info", "--json", p]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["machine"], "aarch64");
    assert_eq!(v["address_translation"]["arch"], "aarch64");
    assert_eq!(v["address_translation"]["granule"], 4096);
    assert_eq!(v["address_translation"]["linear_map"], "0xffff000000000000");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unsupported_architecture_is_refused_in_one_line() {
    let dir = temp_dir("ppc");
    let (mut img, _) = kernel_image(&KernelParams::default()).unwrap();
    img.machine = "ppc64le".into();
    let elf = dir.join("vmcore.elf");
    let kdump = dir.join("vmcore.kdump");
    std::fs::write(&elf, write_elf(&img, &ElfOptions::proc_vmcore(0))).unwrap();
    std::fs::write(&kdump, write_kdump(&img, &KdumpOptions::default())).unwrap();
    for path in [&elf, &kdump] {
        let p = path.to_str().unwrap();
        let (code, out, err) = vmtaint(&["report", p]);
        assert_eq!(code, 2, "{p}: {out}{err}");
        assert!(out.is_empty(), "{p}: printed a report: {out}");
        assert_eq!(err.lines().count(), 1, "{p}: {err}");
        assert!(err.contains("unsupported architecture ppc64"), "{p}: {err}");
        let (code, out, err) = vmtaint(&["info", p]);
        assert_eq!(code, 0, "{p}: {err}");
        assert!(
            out.contains("ppc64") && out.contains("unsupported architecture"),
            "{p}: {out}"
        );
    }
    let (code, out, err) = vmtaint(&["scan", "--no-progress", dir.to_str().unwrap()]);
    let errors = out
        .lines()
        .filter(|l| l.contains("unsupported architecture"))
        .count();
    assert_eq!(errors, 2, "scan exit {code}: {out}{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
