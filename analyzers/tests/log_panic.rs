//! The panic analyzer on the crash shapes of the real 6.1 guest dumps: sysrq panic, oops with kdump before
//! any panic line, panic after an oops, and `panic_cpu`.

use analyzers::fake::FakeTarget;
use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
use analyzers::panic::{analyze, PanicInfo};

fn log_of(lines: &[(u64, &str)]) -> KernelLog {
    KernelLog {
        records: lines
            .iter()
            .enumerate()
            .map(|(i, &(ts_ns, text))| LogRecord {
                seq: i as u64,
                ts_ns,
                level: 0,
                facility: 0,
                caller: None,
                text: text.to_string(),
            })
            .collect(),
        source: LogSource::PrintkRingbuffer,
        dropped: 0,
        problems: vec![],
    }
}

const EARLIER_WARN_HEADER: &str =
    "CPU: 1 PID: 103 Comm: insmod Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2";

#[test]
fn sysrq_panic_takes_the_header_printed_after_it() {
    let log = log_of(&[
        (7_131_400_000, "WARNING: CPU: 1 PID: 103 at oot_warn.c:9 oot_warn_init+0x11/0x1000 [oot_warn]"),
        (7_135_747_000, EARLIER_WARN_HEADER),
        (8_104_894_000, "sysrq: Trigger a crash"),
        (8_105_269_000, "Kernel panic - not syncing: sysrq triggered crash"),
        (
            8_105_584_000,
            "CPU: 0 PID: 1 Comm: init Kdump: loaded Tainted: P        W  OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
        ),
    ]);
    let p = analyze(&FakeTarget::new(), Some(&log));
    assert_eq!(
        p,
        PanicInfo {
            message: Some("sysrq triggered crash".into()),
            cpu: Some(0),
            pid: Some(1),
            comm: Some("init".into()),
            ts_ns: Some(8_105_269_000),
        }
    );
}

#[test]
fn oops_without_panic_line_is_the_crash() {
    // x86-64: oops_end() -> crash_kexec() before panic(): no "Kernel panic" line in the dump.
    let log = log_of(&[
        (7_131_400_000, "WARNING: CPU: 1 PID: 103 at oot_warn.c:9 oot_warn_init+0x11/0x1000 [oot_warn]"),
        (7_135_747_000, EARLIER_WARN_HEADER),
        (7_183_869_000, "BUG: kernel NULL pointer dereference, address: 0000000000000000"),
        (7_185_563_000, "Oops: 0002 [#1] PREEMPT SMP NOPTI"),
        (
            7_194_115_000,
            "CPU: 0 PID: 117 Comm: insmod Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
        ),
        (7_198_927_000, "RIP: 0010:oot_oops_poke+0x5/0x1000 [oot_oops]"),
    ]);
    let p = analyze(&FakeTarget::new(), Some(&log));
    assert_eq!(
        p.message.as_deref(),
        Some("BUG: kernel NULL pointer dereference, address: 0000000000000000")
    );
    assert_eq!(
        (p.cpu, p.pid, p.comm.as_deref()),
        (Some(0), Some(117), Some("insmod"))
    );
    assert_eq!(p.ts_ns, Some(7_183_869_000));
}

#[test]
fn panic_after_oops_uses_the_oops_header() {
    // panic("Fatal exception") after an oops prints no second header (TAINT_DIE is set).
    let log = log_of(&[
        (1, "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI"),
        (2, "CPU: 3 PID: 4242 Comm: my daemon Not tainted 6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
        (3, "RIP: 0010:list_del+0x10/0x30"),
        (4, "Kernel panic - not syncing: Fatal exception"),
        (5, "Kernel Offset: 0x1c000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"),
        (6, "---[ end Kernel panic - not syncing: Fatal exception ]---"),
    ]);
    let p = analyze(&FakeTarget::new(), Some(&log));
    assert_eq!(p.message.as_deref(), Some("Fatal exception"));
    assert_eq!(
        (p.cpu, p.pid, p.comm.as_deref(), p.ts_ns),
        (Some(3), Some(4242), Some("my daemon"), Some(4))
    );
}

#[test]
fn panic_cpu_variable_wins_and_minus_one_means_unset() {
    let log = log_of(&[
        (4, "Kernel panic - not syncing: sysrq triggered crash"),
        (5, "CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1"),
    ]);
    let mut t = FakeTarget::new();
    t.map(0xffff_ffff_8b00_0000, 2u32.to_le_bytes().to_vec());
    t.add_symbol("panic_cpu", 0xffff_ffff_8b00_0000);
    assert_eq!(analyze(&t, Some(&log)).cpu, Some(2));
    assert_eq!(
        analyze(&t, None),
        PanicInfo {
            cpu: Some(2),
            ..PanicInfo::default()
        }
    );
    t.write_u32(0xffff_ffff_8b00_0000, u32::MAX); // PANIC_CPU_INVALID
    assert_eq!(
        analyze(&t, Some(&log)).cpu,
        Some(0),
        "falls back to the header"
    );
}

#[test]
fn nothing_crashed_in_the_log() {
    let log = log_of(&[(1, "Linux version 6.1.0"), (2, EARLIER_WARN_HEADER)]);
    assert_eq!(
        analyze(&FakeTarget::new(), Some(&log)),
        PanicInfo::default()
    );
    let v = serde_json::to_value(PanicInfo::default()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["comm", "cpu", "message", "pid", "ts_ns"]);
}
