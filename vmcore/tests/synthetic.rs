//! Synthetic dumps (testcores) in every format, codec, header version and paging mode, read back byte for
//! byte; kernel address translation checked against where the builder put things.

use testcores::x86_64::{kernel_image, KernelLayout, KernelParams, PageSize, Paging};
use testcores::{flatten, write_elf, write_kdump, Codec, ElfOptions, KdumpOptions, MemoryImage};
use vmcore::{Compression, Format, ReadError, Vmcore};

fn kernel(p: KernelParams) -> (MemoryImage, KernelLayout) {
    kernel_image(&p).expect("kernel image")
}

/// Every page of the image reads back exactly; excluded RAM reads as Excluded; non-RAM as NotInDump.
fn assert_reads_back(d: &Vmcore, img: &MemoryImage, what: &str) {
    let ps = img.page_size as u64;
    let mut buf = vec![0u8; ps as usize];
    for pfn in 0..img.max_pfn() + 2 {
        let r = d.read_phys(pfn * ps, &mut buf);
        match (img.page(pfn), img.is_ram(pfn)) {
            (Some(page), _) => {
                r.unwrap_or_else(|e| panic!("{what}: pfn {pfn:#x}: {e}"));
                assert!(buf == page, "{what}: pfn {pfn:#x} differs");
            }
            (None, true) => assert_eq!(
                r,
                Err(ReadError::Excluded { paddr: pfn * ps }),
                "{what}: pfn {pfn:#x}"
            ),
            (None, false) => assert_eq!(
                r,
                Err(ReadError::NotInDump { paddr: pfn * ps }),
                "{what}: pfn {pfn:#x}"
            ),
        }
    }
    // A read spanning two pages is stitched together.
    let some: Vec<u64> = img
        .pages
        .keys()
        .copied()
        .filter(|p| img.pages.contains_key(&(p + 1)))
        .take(1)
        .collect();
    if let Some(&pfn) = some.first() {
        let mut two = vec![0u8; 64];
        d.read_phys((pfn + 1) * ps - 32, &mut two).unwrap();
        assert_eq!(
            two,
            img.read_phys((pfn + 1) * ps - 32, 64).unwrap(),
            "{what}: cross-page read"
        );
    }
}

/// Kernel text, direct map and module area all translate to what the builder wrote.
fn assert_translates(d: &Vmcore, k: &KernelLayout, release: &str, module: &str, what: &str) {
    let mut b = vec![0u8; release.len()];
    d.read_virt(k.release_vaddr, &mut b)
        .unwrap_or_else(|e| panic!("{what}: release via text: {e}"));
    assert_eq!(b, release.as_bytes(), "{what}");
    assert_eq!(
        d.translate(k.release_vaddr).unwrap(),
        k.release_paddr,
        "{what}"
    );
    let t = d.translator().unwrap();
    assert_eq!(
        t.direct_map_base(),
        Some(k.page_offset_base),
        "{what}: direct map base"
    );
    let mut b2 = vec![0u8; release.len()];
    d.read_virt(k.page_offset_base + k.release_paddr, &mut b2)
        .unwrap();
    assert_eq!(b2, release.as_bytes(), "{what}: release via the direct map");
    let mut m = vec![0u8; module.len()];
    d.read_virt(k.module_name_vaddr, &mut m)
        .unwrap_or_else(|e| panic!("{what}: module name: {e}"));
    assert_eq!(
        m,
        module.as_bytes(),
        "{what}: module area via the page-table walk"
    );
    assert!(
        matches!(
            d.read_virt(k.module_vaddr + (64 << 20), &mut m),
            Err(ReadError::Unmapped { .. })
        ),
        "{what}"
    );
}

#[test]
fn kdump_every_codec_and_header_version() {
    let (mut img, k) = kernel(KernelParams::default());
    for pfn in [0x120u64, 0x121, 0x300] {
        img.exclude(pfn);
    }
    img.fill_pattern(0x400..0x420);
    for codec in [
        Codec::Raw,
        Codec::Zlib,
        Codec::Lzo,
        Codec::Snappy,
        Codec::Zstd,
    ] {
        for version in 1..=6 {
            for dedup in [false, true] {
                let what = format!("kdump {codec:?} v{version} dedup={dedup}");
                let bytes = write_kdump(
                    &img,
                    &KdumpOptions {
                        header_version: version,
                        codec,
                        zero_page_dedup: dedup,
                        incomplete: None,
                    },
                );
                let d = Vmcore::from_bytes(&what, bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(d.format(), Format::Kdump);
                let expect = match codec {
                    Codec::Raw => Compression::None,
                    Codec::Zlib => Compression::Zlib,
                    Codec::Lzo => Compression::Lzo,
                    Codec::Snappy => Compression::Snappy,
                    Codec::Zstd => Compression::Zstd,
                };
                assert_eq!(d.compression(), expect, "{what}");
                assert_eq!(d.kdump_header().unwrap().header_version, version);
                assert_reads_back(&d, &img, &what);
                if version >= 3 {
                    let vi = d.vmcoreinfo().expect("v3+ carries VMCOREINFO");
                    assert_eq!(vi.osrelease.as_deref(), Some("6.1.0-56-cloud-amd64"));
                    assert_translates(&d, &k, "6.1.0-56-cloud-amd64", "oot_prop", &what);
                    assert_eq!(vi.kernel_offset, Some(k.kaslr_offset));
                    assert_eq!(vi.crashtime, Some(1_700_000_000));
                } else {
                    assert!(d.vmcoreinfo().is_none(), "{what}");
                    assert!(
                        d.translator().is_err(),
                        "{what}: no VMCOREINFO, no CR3: translation must say so"
                    );
                }
                if version >= 4 {
                    assert_eq!(d.notes().prstatus.len(), 2, "{what}: PRSTATUS per CPU");
                }
            }
        }
    }
}

#[test]
fn elf_proc_vmcore_qemu_tails_and_pn_xnum() {
    let (mut img, k) = kernel(KernelParams::default());
    img.exclude(0x130);
    // The last page of the first RAM run [1, 0x9f), excluded: a p_filesz < p_memsz tail when asked.
    img.fill_pattern(0x90..0x9f);
    let last = 0x9e;
    img.exclude(last);
    let variants = [
        ("proc_vmcore", ElfOptions::proc_vmcore(k.page_offset_base)),
        ("qemu", ElfOptions::qemu()),
        (
            "tails",
            ElfOptions {
                excluded_tails: true,
                ..ElfOptions::proc_vmcore(k.page_offset_base)
            },
        ),
        (
            "pn_xnum",
            ElfOptions {
                force_pn_xnum: true,
                ..ElfOptions::proc_vmcore(k.page_offset_base)
            },
        ),
    ];
    for (name, opts) in variants {
        let d = Vmcore::from_bytes(name, write_elf(&img, &opts))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.format(), Format::Elf);
        let ps = img.page_size as u64;
        let mut buf = vec![0u8; ps as usize];
        for (&pfn, page) in &img.pages {
            d.read_phys(pfn * ps, &mut buf)
                .unwrap_or_else(|e| panic!("{name}: pfn {pfn:#x}: {e}"));
            assert!(&buf == page, "{name}: pfn {pfn:#x}");
        }
        let tail = d.read_phys(last * ps, &mut buf);
        if opts.excluded_tails {
            assert_eq!(
                tail,
                Err(ReadError::Excluded { paddr: last * ps }),
                "{name}"
            );
        } else {
            assert!(tail.is_err(), "{name}");
        }
        assert_translates(&d, &k, "6.1.0-56-cloud-amd64", "oot_prop", name);
    }
    // QEMU without VMCOREINFO: translation from the QEMU note's CR3 still reads the module area.
    let opts = ElfOptions {
        vmcoreinfo_note: false,
        ..ElfOptions::qemu()
    };
    let d = Vmcore::from_bytes("qemu-no-vmcoreinfo", write_elf(&img, &opts)).unwrap();
    assert!(d.vmcoreinfo().is_none());
    assert_eq!(d.translator().unwrap().root_source(), "QEMU CR3");
    assert_translates(
        &d,
        &k,
        "6.1.0-56-cloud-amd64",
        "oot_prop",
        "qemu-no-vmcoreinfo",
    );
    // ELF without VMCOREINFO or QEMU notes: a clear error, not a guess.
    let bare = ElfOptions {
        vmcoreinfo_note: false,
        qemu_notes: false,
        ..Default::default()
    };
    let d = Vmcore::from_bytes("bare", write_elf(&img, &bare)).unwrap();
    let e = d.translator().unwrap_err().to_string();
    assert!(e.contains("bare") && e.contains("no VMCOREINFO"), "{e}");
}

#[test]
fn five_level_paging_sme_and_page_sizes() {
    for (paging, sme, dm) in [
        (Paging::FiveLevel, 0, PageSize::Size2M),
        (Paging::FourLevel, 1u64 << 47, PageSize::Size1G),
        (Paging::FiveLevel, 1u64 << 47, PageSize::Size4K),
    ] {
        let what = format!("{paging:?} sme={sme:#x} {dm:?}");
        let (img, k) = kernel(KernelParams {
            paging,
            sme_mask: sme,
            direct_map_page: dm,
            ..Default::default()
        });
        let d = Vmcore::from_bytes(&what, write_kdump(&img, &KdumpOptions::default())).unwrap();
        assert_translates(&d, &k, "6.1.0-56-cloud-amd64", "oot_prop", &what);
        let qemu = write_elf(
            &img,
            &ElfOptions {
                vmcoreinfo_note: false,
                ..ElfOptions::qemu()
            },
        );
        let d = Vmcore::from_bytes(&what, qemu).unwrap();
        // CR3 carries the SME bit; it must be stripped, and LA57 taken from CR4.
        let mut m = vec![0u8; 8];
        d.read_virt(k.module_name_vaddr, &mut m)
            .unwrap_or_else(|e| panic!("{what} via CR3: {e}"));
        assert_eq!(&m, b"oot_prop");
    }
}

#[test]
fn flattened_in_place_equals_the_plain_file() {
    let (img, k) = kernel(KernelParams::default());
    let plain = write_kdump(
        &img,
        &KdumpOptions {
            codec: Codec::Lzo,
            ..Default::default()
        },
    );
    for (chunk, seed) in [(4096usize, None), (1000, Some(7u64)), (65536, Some(1))] {
        let what = format!("flattened chunk={chunk} seed={seed:?}");
        let d = Vmcore::from_bytes(&what, flatten(&plain, chunk, seed))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(d.format(), Format::KdumpFlattened);
        assert_reads_back(&d, &img, &what);
        assert_translates(&d, &k, "6.1.0-56-cloud-amd64", "oot_prop", &what);
        let stream = d.flattened().expect("a flattened stream");
        assert!(stream.records > 0 && stream.terminated, "{what}");
    }
    let elf = write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base));
    let d = Vmcore::from_bytes("flat-elf", flatten(&elf, 3000, Some(3))).unwrap();
    assert_eq!(d.format(), Format::ElfFlattened);
}

#[test]
fn incomplete_dump_opens_and_says_which_pages_were_never_written() {
    let (img, _) = kernel(KernelParams::default());
    let bytes = write_kdump(
        &img,
        &KdumpOptions {
            incomplete: Some(20),
            ..Default::default()
        },
    );
    let d = Vmcore::from_bytes("incomplete", bytes).unwrap();
    assert!(d.kdump_header().unwrap().incomplete());
    let ps = img.page_size as u64;
    let mut buf = vec![0u8; ps as usize];
    let (mut ok, mut unwritten) = (0, 0);
    for &pfn in img.pages.keys() {
        match d.read_phys(pfn * ps, &mut buf) {
            Ok(()) => {
                assert_eq!(&buf, img.page(pfn).unwrap());
                ok += 1;
            }
            Err(ReadError::NotWritten { .. }) => unwritten += 1,
            Err(e) => panic!("pfn {pfn:#x}: {e}"),
        }
    }
    assert_eq!(ok, 20);
    assert_eq!(ok + unwritten, img.pages.len());
}

/// A `/proc/kcore`-style core of the same kernel: read by virtual address through its segments (text, the
/// direct map, a module region without a physical address), no page tables and no physical view.
#[test]
fn kcore_is_read_by_virtual_address_through_its_segments() {
    use testcores::kcore::{write_kcore, KcoreOptions, KcoreSegment};
    use testcores::x86_64::vmcoreinfo_text;
    let p = KernelParams::default();
    let (img, k) = kernel(p.clone());
    let ps = img.page_size as u64;
    let page = |paddr: u64| {
        img.read_phys(paddr, ps as usize)
            .expect("page in the image")
    };
    let text: Vec<u8> = (0..k.text_len / ps)
        .flat_map(|i| {
            img.read_phys(k.text_paddr + i * ps, ps as usize)
                .unwrap_or_else(|| vec![0; ps as usize])
        })
        .collect();
    let release_page = k.release_paddr & !(ps - 1);
    let segments = vec![
        KcoreSegment {
            vaddr: k.text_vaddr,
            paddr: Some(k.text_paddr),
            bytes: text,
        },
        KcoreSegment {
            vaddr: k.page_offset_base + release_page,
            paddr: Some(release_page),
            bytes: page(release_page),
        },
        KcoreSegment {
            vaddr: k.module_vaddr,
            paddr: None,
            bytes: page(k.module_paddr),
        },
    ];
    for old_style in [false, true] {
        let what = if old_style {
            "p_paddr 0 (pre-4.16)"
        } else {
            "p_paddr -1"
        };
        let opts = KcoreOptions {
            vmcoreinfo: Some(vmcoreinfo_text(&p, &k)),
            old_style_paddr: old_style,
        };
        let d = Vmcore::from_bytes("kcore", write_kcore(&segments, &opts))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(d.format(), Format::Kcore, "{what}");
        assert_eq!(d.format().name(), "kcore");
        let vi = d.vmcoreinfo().expect("VMCOREINFO note");
        assert_eq!(vi.osrelease.as_deref(), Some("6.1.0-56-cloud-amd64"));
        let mut b = vec![0u8; 20];
        d.read_virt(k.release_vaddr, &mut b).unwrap();
        assert_eq!(&b, b"6.1.0-56-cloud-amd64", "{what}: via the text segment");
        d.read_virt(k.page_offset_base + k.release_paddr, &mut b)
            .unwrap();
        assert_eq!(
            &b, b"6.1.0-56-cloud-amd64",
            "{what}: via the direct map segment"
        );
        let mut m = vec![0u8; 8];
        d.read_virt(k.module_name_vaddr, &mut m).unwrap();
        assert_eq!(&m, b"oot_prop", "{what}: via the module segment");
        // Outside every segment: unmapped, named; physical reads have no meaning in a virtual core.
        assert!(
            matches!(
                d.read_virt(k.module_vaddr + (64 << 20), &mut m),
                Err(ReadError::Unmapped { .. })
            ),
            "{what}"
        );
        assert!(
            matches!(
                d.read_phys(k.release_paddr, &mut m),
                Err(ReadError::NoTranslation { .. })
            ),
            "{what}"
        );
        // A read crossing from one segment into unmapped space fails at the first missing byte.
        let end = k.module_vaddr + ps - 4;
        assert!(
            matches!(d.read_virt(end, &mut m), Err(ReadError::Unmapped { vaddr, .. }) if vaddr == k.module_vaddr + ps),
            "{what}"
        );
        // Read through its segments: no page-table translator is built or needed.
        assert!(d.translator().is_err(), "{what}");
        if !old_style {
            assert_eq!(d.translate(k.release_vaddr).unwrap(), k.release_paddr);
            assert!(d.translate(k.module_name_vaddr).is_err());
        }
    }
}
