//! Synthetic kernel images: text, rodata with decoys (other `u16` tables, a whole fake token table
//! and index, strings), the kallsyms tables in each kernel generation's layout, a BTF blob, data, and
//! holes where a filtered dump has no pages.

use super::*;

const BASE: u64 = 0xffff_ffff_8100_0000;
const STEXT: u64 = BASE;

/// Kernel memory from `BASE`, with unreadable ranges.
#[derive(Clone, Default)]
struct Image {
    bytes: Vec<u8>,
    holes: Vec<std::ops::Range<u64>>,
}

impl Image {
    fn here(&self) -> u64 {
        BASE + self.bytes.len() as u64
    }
    fn align(&mut self, a: usize) {
        while self.bytes.len() % a != 0 {
            self.bytes.push(0);
        }
    }
    fn put(&mut self, b: &[u8]) -> u64 {
        let at = self.here();
        self.bytes.extend_from_slice(b);
        at
    }
    /// Pseudo-random bytes (text).
    fn noise(&mut self, len: usize, seed: u64) {
        let mut x = seed | 1;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.bytes.push(x as u8);
        }
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), kmem::ReadError> {
        let unmapped = |detail| kmem::ReadError::Unmapped {
            vaddr: addr,
            detail,
        };
        let end = addr
            .checked_add(buf.len() as u64)
            .ok_or(unmapped("wraps around"))?;
        if self.holes.iter().any(|h| h.start < end && addr < h.end) {
            return Err(kmem::ReadError::Excluded { paddr: addr });
        }
        let off = addr.checked_sub(BASE).ok_or(unmapped("below the image"))? as usize;
        let src = self
            .bytes
            .get(off..off + buf.len())
            .ok_or(unmapped("beyond the image"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn window(&self) -> ScanWindow {
        ScanWindow {
            start: BASE,
            end: self.here(),
        }
    }
}

fn scan(img: &Image, window: ScanWindow) -> Result<FoundKallsyms, ScanError> {
    let read = |a: u64, b: &mut [u8]| img.read(a, b);
    find_kallsyms(&read, window, STEXT)
}

/// The 256 tokens: every printable character as itself, the other byte values as two-letter pairs.
fn tokens() -> Vec<Vec<u8>> {
    (0..256u32)
        .map(|i| {
            let b = i as u8;
            if b.is_ascii_graphic() {
                vec![b]
            } else {
                vec![b'a' + (i % 26) as u8, b'a' + (i / 26 % 26) as u8]
            }
        })
        .collect()
}

/// Greedy compression with the pair tokens.
fn compress(entry: &[u8], toks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < entry.len() {
        let pair = (0..256).find(|&t| toks[t].len() == 2 && entry[i..].starts_with(&toks[t]));
        match pair {
            Some(t) => {
                out.push(t as u8);
                i += 2;
            }
            None => {
                out.push(entry[i]);
                i += 1;
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// Up to 6.1 upstream: addresses, relative base, num_syms, names, markers, token table, index.
    Classic,
    /// 6.2-6.3 (and Debian's 6.1): seqs_of_names between markers and the token table.
    ClassicSeqs,
    /// 6.4+: num_syms, names, markers, seqs, token table, index, offsets, relative base.
    AfterIndex,
    /// No CONFIG_KALLSYMS_BASE_RELATIVE: kallsyms_addresses (classic order).
    Absolute,
    /// 7.x: 4-byte alignment, num_syms, names, markers, token table, index, place-relative offsets
    /// (no base), seqs_of_names.
    Modern,
}

/// (type letter + name, address): a per-CPU symbol, _text/_stext, many functions (several markers),
/// tainted_mask, and a "big" symbol of 128+ tokens (6.1+ two-byte length).
fn entries(n: usize) -> Vec<(String, u64)> {
    let mut e = vec![
        ("Afixed_percpu_data".to_string(), 0),
        ("T_text".into(), BASE),
        ("T_stext".into(), STEXT),
    ];
    for i in 0..n {
        e.push((
            format!("tfunction_number_{i}"),
            STEXT + 0x100 + 0x40 * i as u64,
        ));
    }
    let last = e.last().expect("entries").1;
    e.push(("dtainted_mask".into(), last + 0x1000));
    e.push((format!("t{}", "x".repeat(300)), last + 0x2000));
    e
}

/// Lay out the kallsyms tables at the image's end, as `layout` does; the tables expected.
fn put_kallsyms(img: &mut Image, layout: Layout, entries: &[(String, u64)]) -> KallsymsTables {
    let percpu = matches!(layout, Layout::Classic | Layout::ClassicSeqs);
    let al = if layout == Layout::Modern { 4 } else { 8 };
    let entries: Vec<&(String, u64)> = entries
        .iter()
        .filter(|(_, a)| *a >= BASE || percpu)
        .collect();
    let n = entries.len();
    let toks = tokens();
    let mut names = Vec::new();
    let mut marks = Vec::new();
    for (i, (e, _)) in entries.iter().enumerate() {
        if i % 256 == 0 {
            marks.push(names.len() as u32);
        }
        let c = compress(e.as_bytes(), &toks);
        if c.len() > 0x7f {
            names.push(0x80 | (c.len() & 0x7f) as u8);
            names.push((c.len() >> 7) as u8);
        } else {
            names.push(c.len() as u8);
        }
        names.extend(c);
    }
    let addresses = |img: &mut Image, t: &mut KallsymsTables| {
        img.align(al);
        if layout == Layout::Modern {
            let at = img.here();
            let o: Vec<u8> = entries
                .iter()
                .enumerate()
                .flat_map(|(i, &&(_, a))| (a.wrapping_sub(at + 4 * i as u64) as i32).to_le_bytes())
                .collect();
            t.offsets = Some(img.put(&o));
            return;
        }
        if layout == Layout::Absolute {
            let a: Vec<u8> = entries.iter().flat_map(|(_, a)| a.to_le_bytes()).collect();
            t.addresses = Some(img.put(&a));
            return;
        }
        let o: Vec<u8> = entries
            .iter()
            .flat_map(|&&(_, a)| {
                let off: i32 = if !percpu {
                    (a - BASE) as u32 as i32
                } else if a < BASE {
                    a as i32
                } else {
                    (BASE - 1).wrapping_sub(a) as i64 as i32
                };
                off.to_le_bytes()
            })
            .collect();
        t.offsets = Some(img.put(&o));
        img.align(8);
        t.relative_base = Some(img.put(&BASE.to_le_bytes()));
    };
    let mut t = KallsymsTables {
        stext: Some(STEXT),
        ..Default::default()
    };
    let after_index = matches!(layout, Layout::AfterIndex | Layout::Modern);
    if !after_index {
        addresses(img, &mut t);
    }
    img.align(al);
    t.num_syms = img.put(&(n as u32).to_le_bytes());
    img.align(al);
    t.names = img.put(&names);
    img.align(al);
    let m: Vec<u8> = marks.iter().flat_map(|m| m.to_le_bytes()).collect();
    t.markers = Some(img.put(&m));
    let seqs = |img: &mut Image| {
        img.align(al);
        for i in (0..n as u32).rev() {
            img.put(&i.to_be_bytes()[1..]);
        }
    };
    if matches!(layout, Layout::ClassicSeqs | Layout::AfterIndex) {
        seqs(img);
    }
    img.align(al);
    let mut table = Vec::new();
    let mut index = Vec::new();
    for tok in &toks {
        index.extend_from_slice(&(table.len() as u16).to_le_bytes());
        table.extend_from_slice(tok);
        table.push(0);
    }
    t.token_table = img.put(&table);
    img.align(al);
    t.token_index = img.put(&index);
    if after_index {
        addresses(img, &mut t);
    }
    if layout == Layout::Modern {
        seqs(img);
    }
    t
}

/// Rodata before the tables: strings, increasing u16 tables, a complete fake token table and index
/// (no names before it), a word that looks like a symbol count.
fn put_decoys(img: &mut Image) {
    img.put(b"Linux version 5.10.0-43-cloud-amd64\0Tainted: \0kallsyms_names\0");
    img.align(8);
    let steps: Vec<u8> = (0..300u16).flat_map(|i| i.to_le_bytes()).collect();
    img.put(&steps);
    img.align(8);
    let mut table = Vec::new();
    let mut index = Vec::new();
    for i in 0..256 {
        index.extend_from_slice(&(table.len() as u16).to_le_bytes());
        table.extend_from_slice(format!("tok{i}").as_bytes());
        table.push(0);
    }
    img.put(&7u64.to_le_bytes());
    img.put(&table);
    img.align(8);
    img.put(&index);
    img.align(8);
    img.put(&1000u64.to_le_bytes());
    img.put(b"\x05abcde\x03xyz");
}

/// A BTF blob with `int` and an empty `struct task_struct`.
fn btf_blob() -> Vec<u8> {
    let strings = b"\0int\0task_struct\0";
    let types: [u32; 7] = [1, 1 << 24, 4, 32, 5, 4 << 24, 8];
    let mut out = vec![0x9f, 0xeb, 1, 0];
    for w in [24u32, 0, 28, 28, strings.len() as u32] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for w in types {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(strings);
    out
}

/// A whole image: text, a hole, rodata decoys, kallsyms, a decoy BTF header, the BTF blob, data.
fn image(layout: Layout, n: usize) -> (Image, KallsymsTables, u64) {
    let mut img = Image::default();
    img.noise(96 << 10, 0x1234_5678);
    img.holes
        .push(img.here() - (32 << 10)..img.here() - (16 << 10));
    put_decoys(&mut img);
    img.noise(5000, 99);
    let t = put_kallsyms(&mut img, layout, &entries(n));
    img.noise(3000, 7);
    // A BTF-looking header with absurd sizes, then a small BTF that is not the kernel's.
    img.put(&[
        0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f,
    ]);
    img.put(&[0; 8]);
    img.align(16);
    let mut other = btf_blob();
    let at = other.len() - 12;
    other[at..at + 11].copy_from_slice(b"mm_struct\0\0");
    img.put(&other);
    img.align(16);
    let btf = img.put(&btf_blob());
    img.noise(20 << 10, 5);
    (img, t, btf)
}

fn assert_same_symbols(found: &FoundKallsyms, layout: Layout, n: usize) {
    let want: Vec<(String, u64)> = entries(n)
        .into_iter()
        .filter(|(_, a)| *a >= BASE || matches!(layout, Layout::Classic | Layout::ClassicSeqs))
        .collect();
    let k = &found.kallsyms;
    assert_eq!(k.len(), want.len(), "{layout:?}");
    for (i, (e, a)) in want.iter().enumerate() {
        let s = k.get(i).expect("entry");
        assert_eq!(&format!("{}{}", s.kind, s.name), e, "{layout:?}");
        assert_eq!(s.address, *a, "{layout:?} {e}");
    }
    assert_eq!(
        k.address("tainted_mask"),
        want.iter().find(|e| e.0 == "dtainted_mask").map(|e| e.1)
    );
}

#[test]
fn finds_every_layout_past_the_decoys() {
    for layout in [
        Layout::Classic,
        Layout::ClassicSeqs,
        Layout::AfterIndex,
        Layout::Absolute,
        Layout::Modern,
    ] {
        for n in [0, 300, 1000] {
            let (img, want, _) = image(layout, n);
            let found = scan(&img, img.window()).unwrap_or_else(|e| panic!("{layout:?} {n}: {e}"));
            assert_eq!(found.tables, want, "{layout:?} {n}");
            assert_eq!(
                found.seqs_of_names,
                matches!(
                    layout,
                    Layout::ClassicSeqs | Layout::AfterIndex | Layout::Modern
                ),
                "{layout:?} {n}"
            );
            assert_same_symbols(&found, layout, n);
            assert!(found.stats.pages_unreadable >= 4, "the hole was skipped");
        }
    }
}

#[test]
fn finds_the_kernel_btf_past_decoy_headers() {
    let (img, t, btf_at) = image(Layout::ClassicSeqs, 300);
    let read = |a: u64, b: &mut [u8]| img.read(a, b);
    let found = find_btf(&read, img.window()).expect("BTF");
    assert_eq!(found.start, btf_at);
    assert_eq!(found.len, btf_blob().len() as u64);
    assert!(found.btf.aggregate_id("task_struct").is_ok());
    assert_eq!(
        found.stats.candidates, 2,
        "the small non-kernel BTF was parsed and refused"
    );
    // Starting after the token index finds the same, reading less.
    let after = ScanWindow {
        start: t.token_index,
        end: img.here(),
    };
    let again = find_btf(&read, after).expect("BTF");
    assert_eq!(again.start, btf_at);
    assert!(again.stats.pages_read < found.stats.pages_read);
}

#[test]
fn the_wrong_stext_is_refused() {
    let (img, _, _) = image(Layout::Classic, 300);
    let read = |a: u64, b: &mut [u8]| img.read(a, b);
    let err = find_kallsyms(&read, img.window(), STEXT + 0x40).unwrap_err();
    assert!(matches!(err, ScanError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("_stext"), "{err}");
}

#[test]
fn no_tables_no_btf_typed_errors() {
    let mut img = Image::default();
    img.noise(64 << 10, 3);
    put_decoys(&mut img);
    img.bytes.resize(img.bytes.len() + (64 << 10), 0);
    let read = |a: u64, b: &mut [u8]| img.read(a, b);
    let err = find_kallsyms(&read, img.window(), STEXT).unwrap_err();
    match &err {
        ScanError::NotFound {
            stats, rejected, ..
        } => {
            assert_eq!(
                stats.candidates, 2,
                "the u16 steps and the fake token index: {err}"
            );
            assert_eq!(rejected.len(), 2);
        }
        e => panic!("{e}"),
    }
    assert!(matches!(
        find_btf(&read, img.window()),
        Err(ScanError::NotFound { .. })
    ));
    for w in [
        ScanWindow {
            start: BASE,
            end: BASE,
        },
        ScanWindow {
            start: BASE + 1,
            end: BASE,
        },
        ScanWindow {
            start: 0,
            end: MAX_WINDOW + 1,
        },
        ScanWindow {
            start: u64::MAX - 10,
            end: u64::MAX,
        },
    ] {
        assert!(
            matches!(
                scan(&img, w),
                Err(ScanError::BadWindow(_)) | Err(ScanError::NotFound { .. })
            ),
            "{w}"
        );
    }
    assert!(matches!(
        scan(
            &img,
            ScanWindow {
                start: 0,
                end: MAX_WINDOW + 1
            }
        ),
        Err(ScanError::BadWindow(_))
    ));
}

#[test]
fn many_decoys_stop_the_scan() {
    let mut img = Image::default();
    let steps: Vec<u8> = (0..256u16).flat_map(|i| (i * 2).to_le_bytes()).collect();
    for _ in 0..(MAX_CANDIDATES + 10) {
        img.put(&steps);
    }
    let read = |a: u64, b: &mut [u8]| img.read(a, b);
    let err = find_kallsyms(&read, img.window(), STEXT).unwrap_err();
    assert!(matches!(err, ScanError::TooManyCandidates { .. }), "{err}");
}

#[test]
fn truncated_or_damaged_tables_are_not_found_never_a_panic() {
    let (img, t, _) = image(Layout::ClassicSeqs, 300);
    // The names cut by an excluded page.
    let mut cut = img.clone();
    cut.holes.push(t.names + 100..t.names + 101);
    assert!(matches!(
        scan(&cut, cut.window()),
        Err(ScanError::NotFound { .. })
    ));
    // A window that stops inside the names, or inside the token index.
    for end in [t.names + 50, t.token_index] {
        let w = ScanWindow { start: BASE, end };
        assert!(scan(&img, w).is_err(), "{end:#x}");
    }
    // Bytes of every table replaced: either the same tables are still found (a byte the
    // validation cannot see, e.g. in a token's padding) or a typed error; never a panic.
    let from = (t.offsets.expect("offsets") - BASE) as usize;
    let to = (t.token_index - BASE) as usize + 512;
    for i in (from..to).step_by(97) {
        for v in [0u8, 0x80, 0xff] {
            let mut bad = img.clone();
            if bad.bytes[i] == v {
                continue;
            }
            bad.bytes[i] = v;
            if let Ok(found) = scan(&bad, bad.window()) {
                assert_eq!(found.tables, t, "byte {i:#x} = {v:#x}");
            }
        }
    }
}
