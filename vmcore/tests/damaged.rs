//! Damaged dumps: every kind of damage ends in a typed error that names the file, the offset and what was
//! expected; truncation at any offset never panics; damaged pages fail alone, the rest of the dump still reads.

use testcores::x86_64::{kernel_image, KernelParams};
use testcores::{
    damage, flatten, write_elf, write_kdump, Codec, ElfOptions, KdumpOptions, MemoryImage,
};
use vmcore::{ReadError, Vmcore};

fn image() -> MemoryImage {
    kernel_image(&KernelParams::default()).unwrap().0
}

fn kdump(codec: Codec) -> Vec<u8> {
    write_kdump(
        &image(),
        &KdumpOptions {
            codec,
            ..Default::default()
        },
    )
}

/// Open must fail; the message names the file and the offset, and says what was expected.
fn open_fails(name: &str, bytes: Vec<u8>, expect_in_msg: &[&str]) {
    match Vmcore::from_bytes(name, bytes) {
        Ok(_) => panic!("{name}: opened a damaged dump"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(name),
                "{name}: error does not name the file: {msg}"
            );
            for s in expect_in_msg {
                assert!(msg.contains(s), "{name}: error lacks {s:?}: {msg}");
            }
        }
    }
}

/// Use everything a command would: the summary accessors, physical and virtual reads. Must not panic.
fn exercise(d: &Vmcore) {
    let pages = d.page_counts().unwrap_or_default();
    let _ = (
        d.missing_bytes(),
        d.flattened(),
        d.segments_direct_map_base(),
    );
    let _ = d.translator().map(|t| t.info());
    let mut b = vec![0u8; 4096];
    for pfn in 0..pages.ram.min(20_000) {
        let _ = d.read_phys(pfn * 4096, &mut b);
    }
    let _ = d.read_virt(0xffff_ffff_8100_0000, &mut b);
    let _ = d.read_virt(0xffff_ffff_c000_0000, &mut b);
}

#[test]
fn header_damage_is_a_named_error() {
    let good = kdump(Codec::Zlib);
    open_fails(
        "magic",
        damage::wrong_magic(&good).unwrap(),
        &["not a crash dump"],
    );
    for bs in [0, 100, 3000, 1 << 30, -4096] {
        open_fails(
            &format!("block_size={bs}"),
            damage::kdump_block_size(&good, bs).unwrap(),
            &["offset 0x1ac", "block_size"],
        );
    }
    for s in [-1, 1 << 20] {
        open_fails(
            &format!("sub_hdr_size={s}"),
            damage::kdump_sub_hdr_size(&good, s).unwrap(),
            &["offset 0x1b0", "sub_hdr_size"],
        );
    }
    for b in [0, 3, u32::MAX, 1 << 20] {
        open_fails(
            &format!("bitmap_blocks={b}"),
            damage::kdump_bitmap_blocks(&good, b).unwrap(),
            &["offset 0x1b4", "bitmap_blocks"],
        );
    }
    open_fails(
        "max_mapnr",
        damage::kdump_max_mapnr(&good, 1 << 40).unwrap(),
        &["max_mapnr"],
    );
    open_fails(
        "note region",
        damage::kdump_note_region(&good, 1 << 40, 4096).unwrap(),
        &["ELF notes"],
    );
    open_fails(
        "vmcoreinfo region",
        damage::kdump_vmcoreinfo_region(&good, 0x10, 1 << 40).unwrap(),
        &["VMCOREINFO"],
    );

    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let elf = write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base));
    open_fails(
        "elf magic",
        damage::wrong_magic(&elf).unwrap(),
        &["not a crash dump"],
    );
    open_fails(
        "e_phoff",
        damage::elf_phoff(&elf, 1 << 50).unwrap(),
        &["offset 0x20", "program headers"],
    );
    open_fails(
        "e_phnum",
        damage::elf_phnum(&elf, 0).unwrap(),
        &["program headers"],
    );
    open_fails(
        "p_offset",
        damage::elf_load_offset(&elf, 0, 1 << 50).unwrap(),
        &["p_offset"],
    );
    open_fails(
        "p_filesz",
        damage::elf_load_filesz(&elf, 0, u64::MAX).unwrap(),
        &["p_filesz"],
    );
    open_fails(
        "note size",
        damage::elf_note_segment_size(&elf, 1 << 40).unwrap(),
        &["PT_NOTE"],
    );
    open_fails(
        "note descsz",
        damage::elf_note_descsz(&elf, 0, u32::MAX).unwrap(),
        &["note"],
    );
    open_fails(
        "note namesz",
        damage::elf_note_namesz(&elf, 0, u32::MAX - 2).unwrap(),
        &["note"],
    );

    let flat = flatten(&good, 4096, None);
    open_fails(
        "flat size",
        damage::flat_record_size(&flat, 2, 1 << 50).unwrap(),
        &["record size"],
    );
    open_fails(
        "flat size neg",
        damage::flat_record_size(&flat, 2, -5).unwrap(),
        &["record size"],
    );
    open_fails(
        "flat offset",
        damage::flat_record_offset(&flat, 1, -7).unwrap(),
        &["record offset"],
    );
}

#[test]
fn page_damage_fails_that_page_only() {
    for codec in [Codec::Zlib, Codec::Lzo, Codec::Snappy, Codec::Zstd] {
        let good = kdump(codec);
        let (bad, pfn) = damage::kdump_corrupt_compressed_page(&good).unwrap();
        let name = format!("corrupt {codec:?}");
        let d = Vmcore::from_bytes(&name, bad).unwrap();
        let mut b = vec![0u8; 4096];
        match d.read_phys(pfn * 4096, &mut b) {
            Err(ReadError::Corrupt {
                file,
                file_offset,
                detail,
                ..
            }) => {
                assert_eq!(file.to_str(), Some(name.as_str()));
                assert!(file_offset > 0 && detail.contains("expected"), "{detail}");
            }
            other => panic!("{name}: {other:?}"),
        }
        exercise(&d);
        let img = image();
        let other = img.pages.keys().copied().find(|&p| p != pfn).unwrap();
        d.read_phys(other * 4096, &mut b).unwrap();
        assert_eq!(&b, img.page(other).unwrap());
    }
    let good = kdump(Codec::Zlib);
    for (i, (off, size, flags)) in [
        (1i64 << 50, None, None),
        (-1, None, None),
        (0, Some(0u32), None),
        (0, Some(1 << 20), None),
        (0, None, Some(0x6u32)),
    ]
    .into_iter()
    .enumerate()
    {
        let pfn = damage::kdump_desc_pfn(&good, 3).unwrap();
        let bad = match (size, flags) {
            (Some(s), _) => damage::kdump_page_desc_size(&good, 3, s).unwrap(),
            (_, Some(f)) => damage::kdump_page_desc_flags(&good, 3, f).unwrap(),
            _ => damage::kdump_page_desc_offset(&good, 3, off).unwrap(),
        };
        let d = Vmcore::from_bytes(format!("desc{i}"), bad).unwrap();
        let mut b = vec![0u8; 4096];
        let e = d.read_phys(pfn * 4096, &mut b).unwrap_err();
        assert!(matches!(e, ReadError::Corrupt { .. }), "desc{i}: {e:?}");
        exercise(&d);
    }
}

#[test]
fn truncation_at_any_offset_never_panics() {
    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let kd = write_kdump(
        &img,
        &KdumpOptions {
            codec: Codec::Lzo,
            ..Default::default()
        },
    );
    let elf = write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base));
    let flat = flatten(&kd, 4096, Some(5));
    for (name, good) in [("kdump", &kd), ("elf", &elf), ("flat", &flat)] {
        let len = good.len();
        // Every offset in the headers, then a stride through the rest.
        let cuts = (0..len.min(12_288)).chain((12_288..len).step_by(997));
        let mut errors = 0;
        for at in cuts {
            match Vmcore::from_bytes(format!("{name}@{at}"), damage::truncate(good, at)) {
                Err(e) => {
                    errors += 1;
                    let m = e.to_string();
                    assert!(m.starts_with(&format!("{name}@{at}")), "{m}");
                }
                Ok(d) => exercise(&d),
            }
        }
        assert!(errors > 0, "{name}: no truncation was refused");
    }
}

#[test]
fn an_empty_or_tiny_file_is_an_error() {
    for n in 0..8 {
        open_fails(&format!("tiny{n}"), vec![0x7f; n], &[]);
    }
    let dir = std::env::temp_dir().join(format!("vmtaint-empty-{}", std::process::id()));
    std::fs::write(&dir, b"").unwrap();
    let e = Vmcore::open(&dir)
        .err()
        .expect("empty file refused")
        .to_string();
    assert!(
        e.contains("truncated") && e.contains(&dir.display().to_string()),
        "{e}"
    );
    std::fs::remove_file(&dir).unwrap();
}

/// Found by the elf fuzz target: PT_LOADs that each claim about 2^63 bytes past the end of the file add up
/// to more than a u64 holds. The dump opens as cut short (the count saturates), without a panic.
#[test]
fn segments_claiming_more_than_2_64_missing_bytes_in_all_saturate() {
    let (img, k) = kernel_image(&KernelParams::default()).unwrap();
    let mut elf = write_elf(&img, &ElfOptions::proc_vmcore(k.page_offset_base));
    for load in 0..3 {
        elf = damage::elf_load_memsz(&elf, load, 1 << 63).unwrap();
        elf = damage::elf_load_filesz(&elf, load, 1 << 63).unwrap();
    }
    let d = Vmcore::from_bytes("huge segments", elf).unwrap();
    assert_eq!(d.missing_bytes(), u64::MAX);
    exercise(&d);
}
