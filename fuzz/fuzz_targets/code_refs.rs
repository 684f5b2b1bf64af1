#![no_main]
// Any bytes as arm64 code at any address (the first 8 bytes): the decoder returns references, at most one
// per whole instruction (two for a register pair), each at an instruction of the code, never a panic.
use symbols::code_refs::{data_refs, MAX_INSNS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let address = u64::from_le_bytes(data[..8].try_into().unwrap());
    let code = &data[8..];
    let refs = data_refs(code, address);
    let insns = (code.len() / 4).min(MAX_INSNS);
    assert!(refs.len() <= 2 * insns);
    for r in &refs {
        let off = r.at.wrapping_sub(address);
        assert!(off % 4 == 0 && off / 4 < insns as u64);
    }
});
