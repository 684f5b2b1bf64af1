//! AArch64 translation on synthetic arm64 kernels (testcores::aarch64): every granule, VA size and block size,
//! both linear-map layouts, 52-bit physical addresses, PAC stripping, every container format, `/proc/vmcore`
//! copies with a wrong `p_vaddr`, and bad input (typed errors naming the value, never a panic).

use testcores::aarch64::{
    kernel_image, KernelLayout, KernelParams, Layout, PageTableBuilder, Shape,
};
use testcores::{flatten, write_elf, write_kdump, Codec, ElfOptions, KdumpOptions, MemoryImage};
use vmcore::aarch64::{Config, ConfigError, Granule, PageTableWalker};
use vmcore::{Machine, PhysicalMemory, ReadError, Translator, Vmcore, VmcoreInfo};

struct Image<'a>(&'a MemoryImage);

impl PhysicalMemory for Image<'_> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let b = self
            .0
            .read_phys(paddr, buf.len())
            .ok_or(ReadError::NotInDump { paddr })?;
        buf.copy_from_slice(&b);
        Ok(())
    }
}

const SHAPES: [(u64, u32, bool); 11] = [
    (4096, 39, false),
    (4096, 48, false),
    (4096, 52, true),
    (16384, 36, false),
    (16384, 47, false),
    (16384, 48, false),
    (16384, 52, true),
    (65536, 42, false),
    (65536, 48, false),
    (65536, 52, false),
    (65536, 52, true),
];

#[test]
fn walker_matches_the_tables_for_every_granule_va_size_and_block_size() {
    for (granule, va_bits, pa52) in SHAPES {
        let shape = Shape {
            granule,
            va_bits,
            pa52,
        };
        let mut img = MemoryImage::new(granule as u32);
        img.add_ram(0..(64 << 20) / granule);
        let mut pt = PageTableBuilder::new(&mut img, shape, 1..64).unwrap();
        let max_phys = if pa52 { 52 } else { 48 };
        let walker = PageTableWalker::new(
            pt.root(),
            Granule::from_size(granule).unwrap(),
            va_bits,
            max_phys,
        );
        assert_eq!(walker.levels, shape.levels(), "{shape:?}");
        let base = u64::MAX << va_bits;
        // Pages, then every block size the architecture allows for this shape; with pa52, output addresses
        // above 2^48 (and 2^50) so the high-bit encodings are exercised.
        let high: u64 = if pa52 { 0x000c_0000_0000_0000 } else { 0 };
        let mut cases = vec![(0, base + granule * 7, 0x10_0000 + high)];
        for level in shape.block_levels() {
            let span = shape.span(level);
            let pa = if pa52 {
                high.next_multiple_of(span)
            } else {
                span * 2
            };
            cases.push((level, base + span * 3, pa));
        }
        for (level, va, pa) in &cases {
            let size = shape.span(*level);
            pt.map(&mut img, *va, *pa, size, *level).unwrap();
            let probe = va + size / 2 + 0x18;
            let t = walker
                .translate(&Image(&img), probe)
                .unwrap_or_else(|e| panic!("{shape:?} level {level}: {e}"));
            assert_eq!(t.paddr, pa + size / 2 + 0x18, "{shape:?} level {level}");
            assert_eq!(t.page_size, size, "{shape:?} level {level}");
            assert_eq!(
                Some(t.paddr),
                pt.translate(&img, probe),
                "{shape:?} level {level}"
            );
        }
        // Unmapped neighbours are errors, not zeros.
        let e = walker
            .translate(&Image(&img), base + granule * 9)
            .unwrap_err();
        assert!(matches!(e, ReadError::Unmapped { .. }), "{shape:?}: {e}");
        // User addresses are not in the kernel tables.
        let e = walker.translate(&Image(&img), 0x1000).unwrap_err();
        assert!(e.to_string().contains("kernel half"), "{e}");
    }
}

fn open_all_formats(img: &MemoryImage, k: &KernelLayout) -> Vec<(String, Vmcore)> {
    let mut v = Vec::new();
    let kd = write_kdump(
        img,
        &KdumpOptions {
            codec: Codec::Lzo,
            ..Default::default()
        },
    );
    v.push((
        "flattened".to_string(),
        Vmcore::from_bytes("flat", flatten(&kd, 4096, Some(1))).unwrap(),
    ));
    v.push((
        "kdump-lzo".to_string(),
        Vmcore::from_bytes("kdump", kd).unwrap(),
    ));
    // /proc/vmcore as kexec-tools writes it without `_text` in kallsyms: linear segments at page_offset 0.
    let broken = ElfOptions::proc_vmcore(0);
    v.push((
        "elf-vaddr-0".to_string(),
        Vmcore::from_bytes("elf0", write_elf(img, &broken)).unwrap(),
    ));
    let right = ElfOptions::proc_vmcore(
        k.linear_ram_vaddr
            .wrapping_sub(img.ram[0].start * img.page_size as u64),
    );
    v.push((
        "elf".to_string(),
        Vmcore::from_bytes("elf", write_elf(img, &right)).unwrap(),
    ));
    v
}

fn read_str(d: &Vmcore, vaddr: u64, len: usize) -> String {
    let mut b = vec![0u8; len];
    d.read_virt(vaddr, &mut b)
        .unwrap_or_else(|e| panic!("{vaddr:#x}: {e}"));
    String::from_utf8_lossy(&b).into_owned()
}

/// Image, linear map, module area and every vmalloc probe read back; fast paths agree with the walk.
fn assert_kernel_translates(p: &KernelParams, what: &str) {
    let (img, k) = kernel_image(p).unwrap_or_else(|e| panic!("{what}: {e}"));
    for (format, d) in open_all_formats(&img, &k) {
        let what = format!("{what} {format}");
        assert_eq!(d.machine(), Machine::Aarch64, "{what}");
        let t = d.translator().unwrap_or_else(|e| panic!("{what}: {e}"));
        let Translator::Aarch64(a) = t else {
            panic!("{what}: not the aarch64 translator")
        };
        assert_eq!(a.walker.root, k.swapper_paddr, "{what}: root");
        assert_eq!(a.config.page_offset(), k.page_offset, "{what}: PAGE_OFFSET");
        assert_eq!(
            read_str(&d, k.release_vaddr, p.release.len()),
            p.release,
            "{what}: image"
        );
        let linear_release = k.linear_ram_vaddr + (k.release_paddr - p.ram_base);
        assert_eq!(
            read_str(&d, linear_release, p.release.len()),
            p.release,
            "{what}: linear map"
        );
        assert_eq!(
            read_str(&d, k.module_name_vaddr, p.module_name.len()),
            p.module_name,
            "{what}: module"
        );
        for &(level, va, pa) in &k.vmalloc_probes {
            assert_eq!(
                d.translate(va),
                Ok(pa),
                "{what}: vmalloc probe at level {level}"
            );
        }
        // The linear fast path and the image's kimage_voffset agree with what the tables say.
        let walked = a.walker.translate(&d, linear_release).unwrap();
        assert_eq!(
            walked.paddr, k.release_paddr,
            "{what}: linear map by walking"
        );
        assert_eq!(
            a.config.kimage_to_phys(k.release_vaddr),
            k.release_paddr,
            "{what}"
        );
        let t = d
            .translator()
            .unwrap_or_else(|e| panic!("{what}: no translation: {e}"));
        let ti = t.info();
        assert_eq!(ti.arch, "aarch64");
        assert_eq!(ti.granule, p.granule, "{what}");
        assert_eq!(ti.levels, k.shape.levels(), "{what}");
        assert_eq!(ti.va_bits, k.shape.va_bits, "{what}");
        assert_eq!(ti.root, format!("{:#x}", k.swapper_paddr), "{what}");
        assert_eq!(d.machine(), Machine::Aarch64, "{what}");
        assert_eq!(t.root_source(), "swapper_pg_dir", "{what}");
    }
}

#[test]
fn debian_6_1_cloud_arm64_shape_in_every_format() {
    assert_kernel_translates(&KernelParams::default(), "4K/48 blocks");
    let pages = KernelParams {
        image_level: 0,
        linear_level: 0,
        ram_mib: 64,
        ..Default::default()
    };
    assert_kernel_translates(&pages, "4K/48 pages");
}

#[test]
fn granules_va_sizes_and_layouts() {
    let cases = [
        // 4 KiB, 39-bit, 3 levels, the pre-5.4 layout and no TCR_EL1_T1SZ (4.x kernels).
        KernelParams {
            va_bits: 39,
            va_bits_actual: None,
            layout: Layout::LinearAbove,
            kaslr_offset: 0x400_0000,
            linear_level: 2,
            pac_mask: 0,
            ..Default::default()
        },
        // 16 KiB, 47-bit, 3 levels, 32 MiB blocks.
        KernelParams {
            granule: 16384,
            va_bits: 47,
            va_bits_actual: Some(47),
            kaslr_offset: 0x1_0000_0000,
            image_level: 1,
            linear_level: 1,
            pac_mask: 0xff80_8000_0000_0000,
            ..Default::default()
        },
        // 16 KiB, 36-bit, 2 levels.
        KernelParams {
            granule: 16384,
            va_bits: 36,
            va_bits_actual: Some(36),
            kaslr_offset: 0,
            image_level: 0,
            linear_level: 1,
            ram_mib: 256,
            pac_mask: 0,
            ..Default::default()
        },
        // 64 KiB, 42-bit, 2 levels, 512 MiB blocks.
        KernelParams {
            granule: 65536,
            va_bits: 42,
            va_bits_actual: Some(42),
            kaslr_offset: 0x1000_0000,
            image_level: 0,
            linear_level: 1,
            pac_mask: 0,
            ..Default::default()
        },
        // 64 KiB, 48-bit, 3 levels.
        KernelParams {
            granule: 65536,
            va_bits: 48,
            va_bits_actual: Some(48),
            kaslr_offset: 0x2000_0000,
            image_level: 0,
            linear_level: 1,
            ..Default::default()
        },
        // 64 KiB, VA_BITS=52 on a CPU without LVA (48-bit): tables for 52 bits, TTBR1 offset, PHYS_OFFSET moved.
        KernelParams {
            granule: 65536,
            va_bits: 52,
            va_bits_actual: Some(48),
            max_physmem_bits: 52,
            kaslr_offset: 0x2000_0000,
            image_level: 0,
            linear_level: 1,
            ..Default::default()
        },
        // 16 KiB, VA_BITS=52 without LPA2: the kernel folds a level and runs 47-bit.
        KernelParams {
            granule: 16384,
            va_bits: 52,
            va_bits_actual: Some(47),
            max_physmem_bits: 52,
            kaslr_offset: 0x1_0000_0000,
            image_level: 0,
            linear_level: 1,
            ..Default::default()
        },
        // 4 KiB, VA_BITS=52 with LPA2: 5 levels, LPA2 descriptors.
        KernelParams {
            va_bits: 52,
            va_bits_actual: Some(52),
            max_physmem_bits: 52,
            pac_mask: 0xff70_0000_0000_0000,
            ..Default::default()
        },
        // The older bare `VA_BITS=` key.
        KernelParams {
            bare_va_bits_key: true,
            ..Default::default()
        },
    ];
    for (i, p) in cases.iter().enumerate() {
        assert_kernel_translates(
            p,
            &format!(
                "case {i} ({}/{}/{:?})",
                p.granule, p.va_bits, p.va_bits_actual
            ),
        );
    }
}

#[test]
fn physical_addresses_above_2_pow_48() {
    // RAM at 0xc_0000_0000_0000 (bits 50 and 51 set): LPA2 (4K) and LPA (64K) descriptors carry them.
    for (granule, image_level, kaslr) in [
        (4096u64, 1, 0x1_2340_0000u64 & !0x3f_ffff),
        (65536, 0, 0x2000_0000),
    ] {
        let p = KernelParams {
            granule,
            va_bits: 52,
            va_bits_actual: Some(52),
            max_physmem_bits: 52,
            ram_base: 0x000c_0000_0000_0000,
            ram_mib: 1024,
            pac_mask: 0xff70_0000_0000_0000,
            image_level,
            linear_level: 1,
            kaslr_offset: kaslr,
            ..Default::default()
        };
        let (img, k) = kernel_image(&p).unwrap();
        let d = Vmcore::from_bytes("high", write_elf(&img, &ElfOptions::proc_vmcore(0))).unwrap();
        if let Err(e) = d.translator() {
            panic!("{granule}: {e}");
        }
        assert_eq!(
            read_str(&d, k.release_vaddr, p.release.len()),
            p.release,
            "{granule}"
        );
        assert_eq!(
            read_str(&d, k.module_name_vaddr, 8),
            "oot_prop",
            "{granule}"
        );
        for &(level, va, pa) in &k.vmalloc_probes {
            assert_eq!(d.translate(va), Ok(pa), "{granule}: level {level}");
        }
    }
}

#[test]
fn pointer_authentication_codes_are_stripped() {
    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let d = Vmcore::from_bytes("pac", write_kdump(&img, &KdumpOptions::default())).unwrap();
    let ret = k.text_vaddr + 0x1234;
    // A signed return address: PAC bits in 63:56 and 54:48, bit 55 kept.
    let signed = (ret & !0xff7f_0000_0000_0000) | 0x2a15_0000_0000_0000;
    assert_ne!(signed, ret);
    assert_eq!(d.strip_code_pointer(signed), ret);
    assert_eq!(d.translator().unwrap().strip_code_pointer(signed), ret);
    assert_eq!(
        d.strip_code_pointer(ret),
        ret,
        "unsigned pointers pass unchanged"
    );
    // Without PAC (KERNELPACMASK=0) nothing changes.
    let (img, _) = kernel_image(&KernelParams {
        pac_mask: 0,
        ..Default::default()
    })
    .unwrap();
    let d = Vmcore::from_bytes("nopac", write_kdump(&img, &KdumpOptions::default())).unwrap();
    assert_eq!(d.strip_code_pointer(signed), signed);
    assert!(d.translator().unwrap().info().pac_mask.is_none());
}

/// VMCOREINFO of the default kernel with `key`'s line replaced (or removed when `value` is None).
fn with_key(text: &str, key: &str, value: Option<&str>) -> String {
    text.lines()
        .filter_map(|l| match l.split_once('=') {
            Some((k, _)) if k == key => value.map(|v| format!("{k}={v}")),
            _ => Some(l.to_string()),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn wild_vmcoreinfo_numbers_are_typed_errors_naming_the_value() {
    let (_, k) = kernel_image(&KernelParams::default()).unwrap();
    let base = k.vmcoreinfo.clone();
    let cfg = |text: &str, dump_ps: Option<u64>| {
        Config::from_vmcoreinfo(&VmcoreInfo::parse(text), dump_ps)
    };
    assert!(cfg(&base, Some(4096)).is_ok());
    let cases: Vec<(&str, Option<&str>, Option<u64>, ConfigError)> = vec![
        ("NUMBER(VA_BITS)", Some("99"), None, ConfigError::VaBits(99)),
        ("NUMBER(VA_BITS)", Some("12"), None, ConfigError::VaBits(12)),
        (
            "NUMBER(VA_BITS)",
            None,
            None,
            ConfigError::Missing("NUMBER(VA_BITS)"),
        ),
        (
            "NUMBER(TCR_EL1_T1SZ)",
            Some("0x40"),
            None,
            ConfigError::T1sz {
                t1sz: 0x40,
                va_bits: 48,
            },
        ),
        (
            "NUMBER(TCR_EL1_T1SZ)",
            Some("0x8"),
            None,
            ConfigError::T1sz {
                t1sz: 0x8,
                va_bits: 48,
            },
        ),
        (
            "NUMBER(TCR_EL1_T1SZ)",
            Some("0xffffffffffffffff"),
            None,
            ConfigError::T1sz {
                t1sz: u64::MAX,
                va_bits: 48,
            },
        ),
        ("PAGESIZE", Some("8192"), None, ConfigError::PageSize(8192)),
        (
            "PAGESIZE",
            Some("4096"),
            Some(65536),
            ConfigError::GranuleContradicted {
                vmcoreinfo: 4096,
                dump: 65536,
            },
        ),
        (
            "NUMBER(MAX_PHYSMEM_BITS)",
            Some("64"),
            None,
            ConfigError::MaxPhysmemBits(64),
        ),
        (
            "NUMBER(KERNELPACMASK)",
            Some("0xffffffffffffffff"),
            None,
            ConfigError::PacMask {
                mask: u64::MAX,
                va_bits: 48,
            },
        ),
        (
            "NUMBER(kimage_voffset)",
            Some("0xzz"),
            None,
            ConfigError::NotANumber {
                key: "NUMBER(kimage_voffset)",
                value: "0xzz".into(),
            },
        ),
        (
            "NUMBER(PHYS_OFFSET)",
            None,
            None,
            ConfigError::Missing("NUMBER(PHYS_OFFSET)"),
        ),
        (
            "SYMBOL(swapper_pg_dir)",
            Some("1000"),
            None,
            ConfigError::SwapperNotKernel {
                vaddr: 0x1000,
                va_bits: 48,
            },
        ),
    ];
    for (key, value, dump_ps, want) in cases {
        let got = cfg(&with_key(&base, key, value), dump_ps).unwrap_err();
        assert_eq!(got, want, "{key}={value:?}");
        let msg = got.to_string();
        if let Some(v) = value {
            assert!(msg.contains(v.trim_start_matches("0x")), "{msg}");
        }
    }
    // kimage_voffset that puts the root beyond physical memory.
    let bad = with_key(&base, "NUMBER(kimage_voffset)", Some("0x10"));
    let e = vmcore::aarch64::Translator::new(cfg(&bad, None).unwrap()).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::KimageVoffset {
                kimage_voffset: 0x10,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("kimage_voffset=0x10"), "{e}");
}

#[test]
fn bad_dumps_say_why_through_the_vmcore_api() {
    let p = KernelParams::default();
    let (img, k) = kernel_image(&p).unwrap();
    // kimage_voffset off by one page: the root is readable but the tables map swapper_pg_dir elsewhere.
    let mut shifted = img.clone();
    shifted.vmcoreinfo = Some(with_key(
        &k.vmcoreinfo,
        "NUMBER(kimage_voffset)",
        Some(&format!("{:#x}", k.kimage_voffset - 4096)),
    ));
    let d = Vmcore::from_bytes("shifted", write_kdump(&shifted, &KdumpOptions::default())).unwrap();
    let e = d.translator().unwrap_err().to_string();
    assert!(e.contains("shifted") && e.contains("kimage_voffset"), "{e}");
    // Reads then fail with that reason instead of garbage.
    let r = d.read_virt(k.release_vaddr, &mut [0u8; 8]).unwrap_err();
    assert!(r.to_string().contains("kimage_voffset"), "{r}");
    // kimage_voffset pointing the root at RAM that is not in the dump.
    let mut outside = img.clone();
    outside.vmcoreinfo = Some(with_key(
        &k.vmcoreinfo,
        "NUMBER(kimage_voffset)",
        Some(&format!("{:#x}", k.kimage_voffset + (1 << 30))),
    ));
    let d = Vmcore::from_bytes("outside", write_kdump(&outside, &KdumpOptions::default())).unwrap();
    let e = d.translator().unwrap_err().to_string();
    assert!(e.contains("unreadable") || e.contains("beyond"), "{e}");
    // A 64 KiB dump whose VMCOREINFO claims 4 KiB pages.
    let (img64, k64) = kernel_image(&KernelParams {
        granule: 65536,
        kaslr_offset: 0x2000_0000,
        image_level: 0,
        linear_level: 1,
        ..Default::default()
    })
    .unwrap();
    let mut lying = img64.clone();
    lying.vmcoreinfo = Some(with_key(&k64.vmcoreinfo, "PAGESIZE", Some("4096")));
    let d = Vmcore::from_bytes("lying", write_kdump(&lying, &KdumpOptions::default())).unwrap();
    let e = d.translator().unwrap_err().to_string();
    assert!(e.contains("PAGESIZE=4096") && e.contains("65536"), "{e}");
}

#[test]
fn damaged_tables_are_errors_not_hangs_or_garbage() {
    let (mut img, k) = kernel_image(&KernelParams::default()).unwrap();
    let root = k.swapper_paddr;
    let walker = PageTableWalker::new(root, Granule::K4, 48, 48);
    // An address with a PUD slot of its own, under the image's PGD entry.
    let va = k.text_vaddr + (64 << 30);
    let pgd_entry = u64::from_le_bytes(
        img.read_phys(root + ((va >> 39) & 511) * 8, 8)
            .unwrap()
            .try_into()
            .unwrap(),
    );
    assert_eq!(pgd_entry & 3, 3, "the image's PGD slot holds a table");
    let pud_at = (pgd_entry & 0x0000_ffff_ffff_f000) + ((va >> 30) & 511) * 8;
    // A table entry pointing back at the root: a loop.
    img.write_u64(pud_at, root | 3).unwrap();
    let e = walker.translate(&Image(&img), va).unwrap_err();
    assert!(e.to_string().contains("points back"), "{e}");
    // A table entry pointing outside the dump.
    img.write_u64(pud_at, 0x7_0000_0000 | 3).unwrap();
    let e = walker.translate(&Image(&img), va).unwrap_err();
    assert!(matches!(e, ReadError::PageTable { .. }), "{e}");
    assert!(e.to_string().contains("0x700000"), "{e}");
    // An output address beyond MAX_PHYSMEM_BITS (40 here).
    img.write_u64(pud_at, (1 << 44) | 3).unwrap();
    let narrow = PageTableWalker::new(root, Granule::K4, 48, 40);
    let e = narrow.translate(&Image(&img), va).unwrap_err();
    assert!(e.to_string().contains("MAX_PHYSMEM_BITS"), "{e}");
    // A block descriptor in the PGD (4 KiB pages with 48-bit PA allow none there).
    let va2 = k.text_vaddr + (1u64 << 46);
    img.write_u64(root + ((va2 >> 39) & 511) * 8, 0x4000_0000 | 1)
        .unwrap();
    let e = walker.translate(&Image(&img), va2).unwrap_err();
    assert!(e.to_string().contains("PGD"), "{e}");
    // A PTE of the reserved type 0b01.
    let (level, probe, _) = k.vmalloc_probes[0];
    assert_eq!(level, 0);
    let mut pt_walk = root;
    for l in (1..4).rev() {
        let at = pt_walk + ((probe >> (12 + 9 * l)) & 511) * 8;
        let e = u64::from_le_bytes(img.read_phys(at, 8).unwrap().try_into().unwrap());
        pt_walk = e & 0x0000_ffff_ffff_f000;
    }
    let pte_at = pt_walk + ((probe >> 12) & 511) * 8;
    img.write_u64(pte_at, 0x4000_0000 | 1).unwrap();
    let e = walker.translate(&Image(&img), probe).unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
}

#[test]
fn unsupported_architecture_is_refused_in_one_line() {
    let (mut img, k) = kernel_image(&KernelParams::default()).unwrap();
    img.machine = "ppc64le".into();
    for (what, bytes) in [
        ("elf", write_elf(&img, &ElfOptions::proc_vmcore(0))),
        ("kdump", write_kdump(&img, &KdumpOptions::default())),
    ] {
        let d = Vmcore::from_bytes(what, bytes).unwrap();
        let e = d.translator().unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, vmcore::Error::UnsupportedArchitecture { .. }),
            "{what}: {msg}"
        );
        assert!(
            msg.contains("unsupported architecture") && !msg.contains('\n'),
            "{what}: {msg}"
        );
        assert!(d.ensure_supported().is_err(), "{what}");
        assert!(d.read_virt(k.release_vaddr, &mut [0u8; 4]).is_err());
        // The machine is still named.
        assert!(
            d.machine().name().contains("ppc64"),
            "{what}: {:?}",
            d.machine()
        );
    }
}
