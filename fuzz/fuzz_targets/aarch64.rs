#![no_main]
// Fuzz the AArch64 walker and its VMCOREINFO checks. The input is a small header choosing the granule, VA size,
// physical-address size and root, then physical memory (starting at address 0) holding the tables; a second
// mode reads the input as VMCOREINFO text followed by memory and goes through Config + Translator::checked.
use vmcore::aarch64::{Config, Granule, PageTableWalker, Translator};
use vmcore::{PhysicalMemory, ReadError, VmcoreInfo};

struct Mem<'a>(&'a [u8]);

impl PhysicalMemory for Mem<'_> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let start = usize::try_from(paddr).map_err(|_| ReadError::NotInDump { paddr })?;
        let end = start.checked_add(buf.len()).ok_or(ReadError::NotInDump { paddr })?;
        buf.copy_from_slice(self.0.get(start..end).ok_or(ReadError::NotInDump { paddr })?);
        Ok(())
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let granule = [Granule::K4, Granule::K16, Granule::K64][usize::from(data[0] % 3)];
    if data[0] & 0x80 != 0 {
        // VMCOREINFO text up to the first NUL, memory after it.
        let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
        let text = String::from_utf8_lossy(&data[1..split]);
        let mem = Mem(data.get(split + 1..).unwrap_or(&[]));
        if let Ok(cfg) = Config::from_vmcoreinfo(&VmcoreInfo::parse(&text), Some(granule.size())) {
            if let Ok(t) = Translator::checked(cfg, &mem) {
                for c in data.chunks_exact(8).take(16) {
                    let va = u64::from_le_bytes(c.try_into().unwrap());
                    let _ = t.translate(&mem, va);
                    let _ = t.strip_pac(va);
                }
            }
        }
        return;
    }
    let va_bits = 36 + u32::from(data[1] % 17);
    let max_phys = 32 + u32::from(data[2] % 21);
    let root = u64::from(u16::from_le_bytes([data[3], data[4]])) * 8;
    let mem = Mem(&data[8..]);
    let walker = PageTableWalker::new(root, granule, va_bits, max_phys);
    for c in data.chunks_exact(8).take(32) {
        let va = u64::from_le_bytes(c.try_into().unwrap()) | (u64::MAX << va_bits);
        if let Ok(t) = walker.translate(&mem, va) {
            assert!(t.paddr >> max_phys == 0, "output beyond MAX_PHYSMEM_BITS");
        }
    }
});
