//! Write small seed inputs for the fuzz targets (fuzz/seeds/<target>/): one valid dump per format and codec
//! from the synthetic kernel, VMCOREINFO text, and LZO streams. Seeds are regenerated each run, never committed.
//!
//!   cargo run -p testcores --example fuzz-seeds -- fuzz/seeds

use std::path::Path;

use testcores::compress::compress_page;
use testcores::x86_64::{kernel_image, vmcoreinfo_text, KernelParams};
use testcores::{flatten, write_elf, write_kdump, Codec, ElfOptions, KdumpOptions, MemoryImage};

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".into());
    let out = Path::new(&out);
    // Small pages and few of them: fuzzing wants inputs of a few KiB that still hold every structure.
    let mut img = MemoryImage::new(512);
    img.add_ram(0..24);
    img.fill_pattern(0..12);
    img.fill_pattern(16..20);
    img.exclude(5);
    let params = KernelParams::default();
    let (_, k) = kernel_image(&params).expect("kernel image");
    img.vmcoreinfo = Some(vmcoreinfo_text(&params, &k));
    img.cpus = vec![testcores::CpuState::new(1)];
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create seed dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    };
    for (codec, name) in [
        (Codec::Raw, "raw"),
        (Codec::Zlib, "zlib"),
        (Codec::Lzo, "lzo"),
        (Codec::Snappy, "snappy"),
        (Codec::Zstd, "zstd"),
    ] {
        let v = write_kdump(
            &img,
            &KdumpOptions {
                codec,
                ..Default::default()
            },
        );
        write("kdump", &format!("v6-{name}"), &v);
        if codec == Codec::Lzo {
            write("flattened", "lzo", &flatten(&v, 700, Some(1)));
        }
    }
    write(
        "kdump",
        "v1-zlib",
        &write_kdump(
            &img,
            &KdumpOptions {
                header_version: 1,
                ..Default::default()
            },
        ),
    );
    write(
        "elf",
        "proc-vmcore",
        &write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base)),
    );
    write("elf", "qemu", &write_elf(&img, &ElfOptions::qemu()));
    write(
        "vmcoreinfo",
        "synthetic",
        vmcoreinfo_text(&params, &k).as_bytes(),
    );
    let page = img
        .page(*img.pages.keys().next().expect("a page"))
        .expect("page");
    write("lzo", "page", &compress_page(Codec::Lzo, page).0);
    write("lzo", "literal", b"\x16hello\x11\x00\x00");
    let total: u64 = walk(out);
    println!("fuzz seeds in {}: {total} bytes", out.display());
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
