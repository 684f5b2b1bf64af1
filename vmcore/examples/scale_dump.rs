//! Big machines around a real dump, for the scale benchmark (`scripts/bench.sh`): the real dump's pages,
//! VMCOREINFO, CPU registers and utsname, in a machine of N GiB of RAM whose every other page was excluded
//! (`-d 31`). Writes `OUT/<N>g.kdump` (kdump-compressed, header version 6, bitmaps of the whole machine, sparse)
//! and `OUT/<N>g.elf` (ELF with one `PT_LOAD` per run of dumped pages and per GiB of RAM, the excluded rest as
//! `p_filesz < p_memsz` tails). `vmtaint report` on them reads the same pages as on the real dump: only the
//! bitmaps, the descriptor table's position and the segment count grow.
//!
//!     cargo run --release -p vmcore --example scale_dump -- REAL_DUMP OUT_DIR 4 64 1024 16384

use std::ops::Range;
use std::path::Path;

use testcores::{
    write_elf, write_kdump_file, Codec, CpuState, ElfOptions, KdumpOptions, MemoryImage,
};
use vmcore::{Compression, ReadError, Vmcore};

/// A gap after every GiB of RAM above the real dump's: NUMA-like holes, so the ELF has a segment per GiB.
const GAP_PAGES: u64 = 512;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: scale_dump REAL_DUMP OUT_DIR GIB...".into());
    }
    let src = Vmcore::open(&args[0])?;
    let out = Path::new(&args[1]);
    std::fs::create_dir_all(out)?;
    let ps = src.page_size();
    let mut base = MemoryImage::new(ps as u32);
    // The real dump's pages and RAM as its bitmaps (or segments) say.
    let mut ram: Vec<Range<u64>> = Vec::new();
    let mut buf = vec![0u8; ps as usize];
    for pfn in 0..src.max_pfn() {
        let is_ram = match src.read_phys(pfn * ps, &mut buf) {
            Ok(()) => {
                base.pages.insert(pfn, buf.clone());
                true
            }
            Err(ReadError::Excluded { .. }) => true,
            Err(_) => false,
        };
        if is_ram {
            match ram.last_mut() {
                Some(r) if r.end == pfn => r.end += 1,
                _ => ram.push(pfn..pfn + 1),
            }
        }
    }
    for r in ram {
        base.add_ram(r);
    }
    if let Some(vi) = src.vmcoreinfo() {
        let text: String = vi
            .entries
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        base.vmcoreinfo = Some(text);
    }
    base.cpus = src
        .notes()
        .prstatus
        .iter()
        .map(|p| {
            let mut c = CpuState::new(p.pid);
            for (i, r) in p.regs.iter().enumerate().take(c.regs.len()) {
                c.regs[i] = *r;
            }
            c
        })
        .collect();
    if let Some(h) = src.kdump_header() {
        base.sysname = h.sysname.clone();
        base.nodename = h.nodename.clone();
        base.release = h.release.clone();
        base.version = h.version.clone();
        base.machine = h.machine.clone();
        base.domainname = h.domainname.clone();
        base.timestamp = (h.timestamp_sec, h.timestamp_usec);
        base.phys_base = h.phys_base;
    }
    let codec = match src.compression() {
        Compression::Zlib => Codec::Zlib,
        Compression::Snappy => Codec::Snappy,
        Compression::Zstd => Codec::Zstd,
        Compression::None => Codec::Raw,
        _ => Codec::Lzo,
    };
    let gib_pages = (1u64 << 30) / ps;
    for gib in &args[2..] {
        let gib: u64 = gib.parse()?;
        let mut img = base.clone();
        let machine_end = gib * gib_pages;
        // RAM above the real dump's, GiB by GiB, each GiB ending in a gap.
        let mut at = src.max_pfn().div_ceil(gib_pages) * gib_pages;
        if let Some(last) = img.ram.last_mut() {
            last.end = last.end.max(at - GAP_PAGES);
        }
        while at < machine_end {
            img.add_ram(at..(at + gib_pages - GAP_PAGES).min(machine_end));
            at += gib_pages;
        }
        let kdump = out.join(format!("{gib}g.kdump"));
        let mut f = std::fs::File::create(&kdump)?;
        write_kdump_file(
            &img,
            &KdumpOptions {
                codec,
                zero_page_dedup: true,
                ..Default::default()
            },
            &mut f,
        )?;
        let elf = write_elf(
            &img,
            &ElfOptions {
                excluded_tails: true,
                vmcoreinfo_note: true,
                ..Default::default()
            },
        );
        std::fs::write(out.join(format!("{gib}g.elf")), elf)?;
        eprintln!(
            "{gib} GiB: {} RAM ranges, {} dumped pages",
            img.ram.len(),
            img.pages.len()
        );
    }
    Ok(())
}
