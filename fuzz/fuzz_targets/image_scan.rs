#![no_main]
// Any bytes as a kernel image at 0xffffffff81000000 (pages past the end unreadable): both scans return
// their tables or a typed error, in bounded time, never a panic. The first 8 bytes choose `_stext`'s
// offset in the image.
use symbols::image_scan::{find_btf, find_kallsyms, ScanWindow};

const BASE: u64 = 0xffff_ffff_8100_0000;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let stext = BASE + u64::from(u16::from_le_bytes([data[0], data[1]]));
    let memory = &data[8..];
    let read = |addr: u64, buf: &mut [u8]| -> Result<(), kmem::ReadError> {
        let unmapped = kmem::ReadError::Unmapped {
            vaddr: addr,
            detail: "outside the fuzzed image",
        };
        let start = addr.checked_sub(BASE).ok_or(unmapped.clone())? as usize;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| memory.get(start..end))
            .ok_or(unmapped)?;
        buf.copy_from_slice(src);
        Ok(())
    };
    let window = ScanWindow {
        start: BASE,
        end: BASE + memory.len() as u64 + 1,
    };
    if let Ok(found) = find_kallsyms(&read, window, stext) {
        let _ = found.kallsyms.iter().count();
    }
    if let Ok(found) = find_btf(&read, window) {
        let _ = found.btf.layout("task_struct");
    }
});
