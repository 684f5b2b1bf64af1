//! kdump-compressed dumps of big machines: pages are found across rank-block boundaries in any order, the
//! header's 64-bit fields describe more than 2^32 pages, opening reads no bitmap, and a bitmap that marks more
//! pages than the file holds descriptors for is a typed error naming the file and offset.

use std::os::unix::fs::MetadataExt;

use testcores::{pattern_page, write_kdump, write_kdump_file, Codec, KdumpOptions, MemoryImage};
use vmcore::{ReadError, Vmcore};

const PS: u64 = 4096;
/// Pages per rank block in the reader (4096 bits); the test straddles its boundaries.
const BLOCK: u64 = 4096;

fn scattered_image() -> MemoryImage {
    let mut img = MemoryImage::new(PS as u32);
    img.add_ram(0..10 * BLOCK + 77);
    // Around every block boundary, a lone page in the middle of a block, a run over two blocks, the last page.
    let mut pfns: Vec<u64> = Vec::new();
    for b in 1..10 {
        pfns.extend([b * BLOCK - 1, b * BLOCK, b * BLOCK + 1]);
        pfns.push(b * BLOCK + 1000 + b);
    }
    pfns.extend(3 * BLOCK - 40..3 * BLOCK + 40);
    pfns.extend([0, 7, 63, 64, 65, 10 * BLOCK + 76]);
    for pfn in pfns {
        img.pages.insert(pfn, pattern_page(pfn, PS as u32));
    }
    img
}

fn read_page(d: &Vmcore, pfn: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = vec![0u8; PS as usize];
    d.read_phys(pfn * PS, &mut buf).map(|_| buf)
}

#[test]
fn pages_are_found_across_rank_blocks_in_any_order() {
    let img = scattered_image();
    for codec in [Codec::Raw, Codec::Lzo] {
        let bytes = write_kdump(
            &img,
            &KdumpOptions {
                codec,
                ..Default::default()
            },
        );
        // Highest pages first (the rank table is filled up to them at once), then every page upwards, then a
        // stride backwards: each order must give each page its own descriptor.
        let d = Vmcore::from_bytes("scattered", bytes.clone()).unwrap();
        let top: Vec<u64> = img.pages.keys().rev().take(3).copied().collect();
        let order: Vec<u64> = top
            .into_iter()
            .chain(0..img.max_pfn())
            .chain((0..img.max_pfn()).rev().step_by(97))
            .collect();
        for pfn in order {
            match (img.page(pfn), read_page(&d, pfn)) {
                (Some(want), Ok(got)) => assert!(got == want, "{codec:?}: pfn {pfn:#x} differs"),
                (None, Err(ReadError::Excluded { paddr })) => assert_eq!(paddr, pfn * PS),
                (want, got) => panic!(
                    "{codec:?}: pfn {pfn:#x}: expected {}, got {got:?}",
                    if want.is_some() {
                        "the page"
                    } else {
                        "Excluded"
                    }
                ),
            }
        }
        let pages = d.page_counts().unwrap();
        assert_eq!(pages.dumped, img.pages.len() as u64);
        assert_eq!(pages.ram, 10 * BLOCK + 77);
        assert_eq!(d.compression(), codec_of(codec));
    }
}

fn codec_of(c: Codec) -> vmcore::Compression {
    match c {
        Codec::Raw => vmcore::Compression::None,
        Codec::Lzo => vmcore::Compression::Lzo,
        other => panic!("not used here: {other:?}"),
    }
}

/// A 16 TiB machine (2^32 pages of 4 KiB: more than the 32-bit `max_mapnr` holds) with RAM at both ends and a
/// page at each end; written sparse, it takes a few MiB of disk.
#[test]
fn sixteen_tib_uses_the_64_bit_fields_and_opens_without_reading_bitmaps() {
    let top = 1u64 << 32;
    let mut img = MemoryImage::new(PS as u32);
    img.add_ram(0..1 << 16);
    img.add_ram(top - (1 << 16)..top);
    for pfn in [1, 4095, 4096, top - 4097, top - 1] {
        img.pages.insert(pfn, pattern_page(pfn, PS as u32));
    }
    let dir = std::env::temp_dir().join(format!("vmtaint-scale-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("16t.kdump");
    let mut f = std::fs::File::create(&path).unwrap();
    let layout = write_kdump_file(
        &img,
        &KdumpOptions {
            codec: Codec::Lzo,
            ..Default::default()
        },
        &mut f,
    )
    .unwrap();
    drop(f);
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.len() > 1 << 30, "1 GiB of bitmaps: {}", meta.len());
    assert!(
        meta.blocks() * 512 < 16 << 20,
        "sparse: {} bytes on disk",
        meta.blocks() * 512
    );

    let d = Vmcore::open(&path).unwrap();
    let opened = d.bytes_read();
    assert!(
        opened < 64 << 10,
        "opening read {opened} bytes: no bitmap may be read"
    );
    let h = d.kdump_header().unwrap();
    assert_eq!(h.header_version, 6);
    assert_eq!(h.max_mapnr, top, "from max_mapnr_64");
    assert_eq!(d.max_pfn(), top);
    // Low pages: the rank table stays at its first blocks.
    for pfn in [1, 4095, 4096] {
        assert!(
            read_page(&d, pfn).unwrap() == img.pages[&pfn],
            "pfn {pfn:#x}"
        );
    }
    let low = d.bytes_read() - opened;
    assert!(low < 64 << 10, "three low pages read {low} bytes");
    assert_eq!(read_page(&d, 5), Err(ReadError::Excluded { paddr: 5 * PS }));
    assert_eq!(
        read_page(&d, 1 << 20),
        Err(ReadError::NotInDump {
            paddr: (1 << 20) * PS
        })
    );
    // The top pages: counted up to there, once.
    for pfn in [top - 1, top - 4097] {
        assert!(
            read_page(&d, pfn).unwrap() == img.pages[&pfn],
            "pfn {pfn:#x}"
        );
    }
    let counted = d.bytes_read() - opened - low;
    assert!(
        (top / 8..top / 8 + (1 << 20)).contains(&counted),
        "reading the top pages counts the 2nd bitmap below them once: {counted}"
    );
    let pages = d.page_counts().unwrap();
    assert_eq!(pages.dumped, 5);
    assert_eq!(pages.ram, 2 << 16);
    assert_eq!(layout.pages.len(), 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The 2nd bitmap claims pages whose descriptors would lie past the end of the file: opening still works (it
/// counts nothing), those pages fail with the file and the descriptor's offset, the others still read, and
/// the page counts say how short the file is.
#[test]
fn a_bitmap_claiming_more_pages_than_the_file_holds_is_a_named_error() {
    let mut img = MemoryImage::new(PS as u32);
    img.add_ram(0..4 * BLOCK);
    for pfn in [3, 5000, 9000] {
        img.pages.insert(pfn, pattern_page(pfn, PS as u32));
    }
    let (mut bytes, layout) = testcores::write_kdump_with_layout(&img, &KdumpOptions::default());
    // Mark every page of the last block dumped: thousands of descriptors the file cannot hold.
    let last_block = layout.bitmap2.start as usize + (3 * BLOCK / 8) as usize;
    bytes[last_block..last_block + (BLOCK / 8) as usize].fill(0xff);
    let file_len = bytes.len() as u64;
    let d = Vmcore::from_bytes("claims-too-much", bytes).unwrap();
    for pfn in [3, 5000, 9000] {
        assert!(read_page(&d, pfn).unwrap() == img.pages[&pfn]);
    }
    match read_page(&d, 4 * BLOCK - 1) {
        Err(ReadError::Corrupt {
            file,
            file_offset,
            detail,
            ..
        }) => {
            assert_eq!(file.to_str(), Some("claims-too-much"));
            let idx = 3 + BLOCK - 1; // three real pages before the block, then the whole block
            assert_eq!(file_offset, layout.descs.start + idx * 24);
            assert!(detail.contains("more dumped pages"), "{detail}");
        }
        other => panic!("expected a corrupt-page error, got {other:?}"),
    }
    let pages = d.page_counts().unwrap();
    assert_eq!(pages.dumped, 3 + BLOCK);
    // The file ends right after the three real pages' data: the claimed descriptor table runs past it by
    // exactly the difference.
    let table_end = layout.descs.start + (3 + BLOCK) * 24;
    assert_eq!(pages.descriptors_missing, table_end - file_len, "{pages:?}");
}
