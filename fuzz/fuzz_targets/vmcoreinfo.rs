#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let info = vmcore::VmcoreInfo::parse(&String::from_utf8_lossy(data));
    let _ = (info.symbol("prb"), info.offset("printk_info.ts_nsec"), info.number("phys_base"));
});
