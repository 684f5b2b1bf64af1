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
    // aarch64: a 4 KiB / 39-bit table set in memory starting at physical 0 (root at 0x1000), mapping
    // swapper_pg_dir's own page and one more; as a walker header + memory, and as VMCOREINFO + memory.
    let shape = testcores::aarch64::Shape {
        granule: 4096,
        va_bits: 39,
        pa52: false,
    };
    let mut tables = MemoryImage::new(4096);
    tables.add_ram(0..8);
    let mut pt =
        testcores::aarch64::PageTableBuilder::new(&mut tables, shape, 1..6).expect("tables");
    let swapper = 0xffff_ffc0_0800_1000u64;
    pt.map(&mut tables, swapper, 0x1000, 0x1000, 0)
        .expect("map");
    pt.map(&mut tables, swapper + 0x1000, 0x7000, 0x1000, 0)
        .expect("map");
    let mem: Vec<u8> = (0..8u64)
        .flat_map(|pfn| {
            tables
                .read_phys(pfn * 4096, 4096)
                .unwrap_or_else(|| vec![0; 4096])
        })
        .collect();
    let mut walker_seed = vec![0u8, 3, 16, 0x00, 0x02, 0, 0, 0];
    walker_seed.extend_from_slice(&mem);
    write("aarch64", "walker-4k-39", &walker_seed);
    let text = format!(
        "PAGESIZE=4096\nNUMBER(VA_BITS)=39\nNUMBER(kimage_voffset)={:#x}\nNUMBER(PHYS_OFFSET)=0x0\n\
         NUMBER(TCR_EL1_T1SZ)=0x19\nNUMBER(KERNELPACMASK)=0xff7fff8000000000\nNUMBER(MAX_PHYSMEM_BITS)=48\n\
         SYMBOL(swapper_pg_dir)={swapper:x}\n",
        swapper - 0x1000
    );
    let mut text_seed = vec![0x80u8];
    text_seed.extend_from_slice(text.as_bytes());
    text_seed.push(0);
    text_seed.extend_from_slice(&mem);
    write("aarch64", "vmcoreinfo-4k-39", &text_seed);
    // code_refs: the address, then arm64 code: print_modules' walk of `modules` and nmi_panic's atomics on
    // `panic_cpu`, as Debian's 6.1.0-56-cloud-arm64 has them (adrp/add/ldr with pre-index, ldrb, casal,
    // ldxr/stlxr, branches).
    let code_seed: Vec<u8> = 0xffff_8000_08ba_04c4u64
        .to_le_bytes()
        .into_iter()
        .chain(
            [
                0x900068f4u32,
                0x91170294,
                0xd0001435,
                0x911e42b5,
                0xf8450e93,
                0xd1002273,
                0x91002260,
                0xeb14001f,
                0x540001e0,
                0xb9400260,
                0x71000c1f,
                0x54000120,
                0x97d6c805,
                0x91006261,
                0xf9400673,
                0x17fffff0,
                0xb0007502,
                0x911b6042,
                0x91006041,
                0x39406040,
                0x340000a0,
                0xb000bd03,
                0x91154063,
                0x91038060,
                0x88e4fc02,
                0xf9800091,
                0x885f7c83,
                0x8801fc82,
                0xa9409463,
                0xd65f03c0,
            ]
            .iter()
            .flat_map(|w| w.to_le_bytes()),
        )
        .collect();
    write("code_refs", "print-modules-nmi-panic", &code_seed);
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
