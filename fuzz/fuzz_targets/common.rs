// Shared by the dump targets: open the bytes as a dump, then exercise everything a user command would.
pub fn exercise(data: &[u8]) {
    let Ok(dump) = vmcore::Vmcore::from_bytes("fuzz-input", data.to_vec()) else { return };
    let info = engine::DumpInfo::of(&dump);
    let mut buf = [0u8; 64];
    // Pages at the start, around the end of RAM, and at addresses taken from the input itself.
    let mut addrs = vec![0u64, 4096, 4090, info.ram_pages.saturating_sub(1).wrapping_mul(dump.page_size())];
    addrs.extend(data.chunks_exact(8).take(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()) % (1 << 32)));
    for a in addrs {
        let _ = dump.read_phys(a, &mut buf);
        let _ = dump.read_virt(0xffff_ffff_8100_0000u64.wrapping_add(a), &mut buf);
        let _ = dump.read_virt(0xffff_ffff_c000_0000u64.wrapping_add(a), &mut buf);
    }
}
