#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut out = [0u8; 4096];
    if let Ok(n) = vmcore::lzo::decompress(data, &mut out) {
        assert!(n <= out.len());
    }
});
