#![no_main]
// Every analyzer over hostile kernel memory: a well-formed Debian 6.1 kernel (the analyzers' test kit: taint
// table, three modules on the list (one with parameters), last_unloaded_module, signature state, a trusted
// keyring) whose memory the input then
// overwrites in place: looped and wild list pointers, garbage strings, huge counts. The report must come back
// (with problems), render as text and serialize, without a panic, a hang or unbounded memory.

#[allow(dead_code)]
#[path = "../../analyzers/tests/taint_kit/mod.rs"]
mod taint_kit;

use taint_kit::{bits, Kit, Mod};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut k = Kit::v6_1();
    k.mask(bits("POEW"));
    let prop = k.add_module(&Mod::new("oot_prop").taints(bits("POE")).unsigned());
    k.add_module(&Mod::new("virtio_blk"));
    k.add_module(&Mod::new("oot_warn").taints(bits("OE")).unsigned());
    k.link();
    k.params_and_keyring(prop);
    k.last_unloaded_struct("oot_gone", "(POE)");
    // Each edit: region selector, 16-bit offset, length, then that many bytes.
    let mut rest = data;
    while rest.len() >= 4 {
        let (region, offset, len) = (
            rest[0] as usize,
            u16::from_le_bytes([rest[1], rest[2]]) as usize,
            rest[3] as usize,
        );
        let bytes = &rest[4..][..len.min(rest.len() - 4)];
        k.t.overwrite(region, offset, bytes);
        rest = &rest[4 + bytes.len()..];
    }
    let report = analyzers::report::analyze(&k.t);
    let _ = render::text::report(&report, true);
});
