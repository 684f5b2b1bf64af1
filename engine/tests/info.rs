//! `DumpInfo` (what `vmtaint info` prints) assembled from vmcore's accessors, on synthetic dumps whose every
//! fact is known: kdump and ELF, flattened, incomplete, kcore, AArch64, a translation that fails, an
//! architecture vmtaint does not translate. The real dumps' info is checked by cli/tests (`info_real`).

use engine::DumpInfo;
use testcores::{flatten, write_elf, write_kdump, ElfOptions, KdumpOptions};
use vmcore::{Format, Vmcore};

#[test]
fn kdump_and_elf_summaries_name_the_kernel_time_and_pages() {
    let (img, k) = testcores::x86_64::kernel_image(&Default::default()).unwrap();
    let kdump = write_kdump(&img, &KdumpOptions::default());
    let d = Vmcore::from_bytes("k", kdump.clone()).unwrap();
    let i = DumpInfo::of(&d);
    assert_eq!(i.format, Format::Kdump);
    assert_eq!(i.release.as_deref(), Some("6.1.0-56-cloud-amd64"));
    assert_eq!(i.kaslr_offset, Some(k.kaslr_offset));
    assert_eq!(i.crash_time, Some(1_700_000_000));
    assert_eq!(i.crash_time_utc.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(i.ram_pages, i.dumped_pages + i.excluded_pages);
    assert!(i.dumped_pages > 0 && i.header_version.is_some() && i.has_vmcoreinfo);
    assert_eq!(i.translation, "init_top_pgt");
    assert!(
        i.address_translation.is_some() && i.warnings.is_empty(),
        "{i:?}"
    );
    assert!(!i.incomplete && i.flattened_records.is_none());

    let flat = Vmcore::from_bytes("f", flatten(&kdump, 3000, Some(3))).unwrap();
    let fi = DumpInfo::of(&flat);
    assert_eq!(fi.format, Format::KdumpFlattened);
    assert!(fi.flattened_records.is_some_and(|r| r > 0));
    assert_eq!(
        (fi.ram_pages, fi.dumped_pages),
        (i.ram_pages, i.dumped_pages)
    );

    let elf = write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base));
    let e = DumpInfo::of(&Vmcore::from_bytes("e", elf.clone()).unwrap());
    assert_eq!(e.format, Format::Elf);
    assert_eq!(e.machine.as_deref(), Some("x86_64"));
    assert_eq!(
        e.direct_map_base,
        Some(format!("{:#x}", k.page_offset_base))
    );
    assert!(e.dump_level.is_none() && !e.incomplete, "{e:?}");

    // An ELF copy cut short: the missing bytes are a warning and the summary says incomplete.
    let cut = DumpInfo::of(&Vmcore::from_bytes("cut", elf[..elf.len() - 4096].to_vec()).unwrap());
    assert!(cut.incomplete);
    assert!(
        cut.warnings.iter().any(|w| w.contains("4096 bytes short")),
        "{:?}",
        cut.warnings
    );
}

#[test]
fn an_incomplete_kdump_and_a_cut_stream_say_so() {
    let (img, _) = testcores::x86_64::kernel_image(&Default::default()).unwrap();
    let bytes = write_kdump(
        &img,
        &KdumpOptions {
            incomplete: Some(20),
            ..Default::default()
        },
    );
    let i = DumpInfo::of(&Vmcore::from_bytes("incomplete", bytes).unwrap());
    assert!(i.incomplete);
    assert!(i.warnings.iter().any(|w| w.contains("incomplete")), "{i:?}");

    let whole = flatten(&write_kdump(&img, &KdumpOptions::default()), 4096, None);
    // The end marker is the stream's last 16 bytes.
    let cut = Vmcore::from_bytes("cut-stream", whole[..whole.len() - 16].to_vec()).unwrap();
    let c = DumpInfo::of(&cut);
    assert!(c.incomplete, "{c:?}");
    assert!(
        c.warnings.iter().any(|w| w.contains("no end marker")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn kcore_is_summarized_by_its_segments_without_warnings() {
    use testcores::kcore::{write_kcore, KcoreOptions, KcoreSegment};
    let p = testcores::x86_64::KernelParams::default();
    let (img, k) = testcores::x86_64::kernel_image(&p).unwrap();
    let ps = img.page_size as u64;
    let release_page = k.release_paddr & !(ps - 1);
    let segments = vec![KcoreSegment {
        vaddr: k.page_offset_base + release_page,
        paddr: Some(release_page),
        bytes: img.read_phys(release_page, ps as usize).unwrap(),
    }];
    let opts = KcoreOptions {
        vmcoreinfo: Some(testcores::x86_64::vmcoreinfo_text(&p, &k)),
        old_style_paddr: false,
    };
    let d = Vmcore::from_bytes("kcore", write_kcore(&segments, &opts)).unwrap();
    let i = DumpInfo::of(&d);
    assert_eq!(i.format, Format::Kcore);
    assert_eq!(i.translation, "kcore segments (virtual addresses)");
    assert_eq!(
        i.direct_map_base,
        Some(format!("{:#x}", k.page_offset_base))
    );
    assert!(i.address_translation.is_none());
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn aarch64_translation_and_its_failures_are_described() {
    use testcores::aarch64::{kernel_image, KernelParams};
    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let d = Vmcore::from_bytes("arm", write_kdump(&img, &KdumpOptions::default())).unwrap();
    let i = DumpInfo::of(&d);
    assert_eq!(i.machine.as_deref(), Some("aarch64"));
    assert_eq!(i.translation, "swapper_pg_dir");
    let t = i.address_translation.expect("a translation");
    assert_eq!(
        (t.arch, t.root),
        ("aarch64", format!("{:#x}", k.swapper_paddr))
    );

    // kimage_voffset off by one page: no translation, and the reason is a warning, not an error.
    let mut shifted = img.clone();
    let text = k
        .vmcoreinfo
        .lines()
        .map(|l| match l.split_once('=') {
            Some(("NUMBER(kimage_voffset)", _)) => {
                format!("NUMBER(kimage_voffset)={:#x}", k.kimage_voffset - 4096)
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    shifted.vmcoreinfo = Some(text + "\n");
    let d = Vmcore::from_bytes("shifted", write_kdump(&shifted, &KdumpOptions::default())).unwrap();
    let i = DumpInfo::of(&d);
    assert_eq!(i.translation, "unavailable");
    assert!(i.address_translation.is_none());
    assert!(
        i.warnings.iter().any(|w| w.contains("kimage_voffset")),
        "{:?}",
        i.warnings
    );
}

#[test]
fn an_untranslated_architecture_is_still_described() {
    let (mut img, _) = testcores::aarch64::kernel_image(&Default::default()).unwrap();
    img.machine = "ppc64le".into();
    for (what, bytes) in [
        ("elf", write_elf(&img, &ElfOptions::proc_vmcore(0))),
        ("kdump", write_kdump(&img, &KdumpOptions::default())),
    ] {
        let i = DumpInfo::of(&Vmcore::from_bytes(what, bytes).unwrap());
        assert_eq!(i.translation, "unavailable", "{what}");
        assert!(i.address_translation.is_none(), "{what}");
        assert!(
            i.machine.as_deref().is_some_and(|m| m.contains("ppc64")),
            "{what}: {:?}",
            i.machine
        );
        assert!(
            i.warnings
                .iter()
                .any(|w| w.contains("unsupported architecture")),
            "{what}: {:?}",
            i.warnings
        );
    }
}
