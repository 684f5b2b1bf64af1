#![no_main]
// Any bytes as kernel memory holding the kallsyms tables at fixed places: the first 64 bytes choose the
// table addresses (as VMCOREINFO would), the rest is memory from address 0.
use symbols::kallsyms::{Kallsyms, KallsymsTables};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 64 {
        return;
    }
    let word = |i: usize| u64::from(u16::from_le_bytes([data[2 * i], data[2 * i + 1]]));
    let tables = KallsymsTables {
        names: word(0),
        num_syms: word(1),
        token_table: word(2),
        token_index: word(3),
        offsets: (word(4) != 0).then(|| word(4)),
        relative_base: (word(5) != 0).then(|| word(5)),
        addresses: (word(6) != 0).then(|| word(6)),
        markers: None,
        stext: Some(u64::from_le_bytes(data[16..24].try_into().unwrap())),
    };
    let memory = &data[64..];
    let read = |addr: u64, buf: &mut [u8]| -> Result<(), kmem::ReadError> {
        let src = usize::try_from(addr)
            .ok()
            .and_then(|start| memory.get(start..start.checked_add(buf.len())?))
            .ok_or(kmem::ReadError::Unmapped {
                vaddr: addr,
                detail: "beyond the fuzz input",
            })?;
        buf.copy_from_slice(src);
        Ok(())
    };
    if let Ok(k) = Kallsyms::read(&tables, &read) {
        let _ = k.iter().count();
        let _ = k.address("_stext");
    }
});
