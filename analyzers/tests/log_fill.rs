//! A wrapped ring's start filled from a text log beside the dump: when it is safe, and when it is not.

use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
use analyzers::log_fill::{older_records, FillOutcome};

fn rec(seq: u64, us: u64, text: &str) -> LogRecord {
    LogRecord {
        seq,
        ts_ns: us * 1000,
        level: 6,
        facility: 0,
        caller: None,
        text: text.into(),
    }
}

/// A ring that lost its first 500 records and starts at 7.000000 s.
fn wrapped_ring() -> KernelLog {
    KernelLog {
        records: vec![
            rec(500, 7_000_000, "vmtaint: flood line 752"),
            rec(501, 7_000_100, "vmtaint: flood line 753"),
            rec(502, 8_000_000, "sysrq: Trigger a crash"),
        ],
        source: LogSource::PrintkRingbuffer,
        dropped: 500,
        problems: vec![],
    }
}

const TAINT: &str = "oot_prop: module license 'Proprietary' taints kernel.";

#[test]
fn older_lines_of_the_same_boot_fill_the_start() {
    let file = format!(
        "[    0.000000] Linux version 6.1.0\n\
         [    6.500000] {TAINT}\n\
         [    6.600000] vmtaint: flood line 0\n\
         [    7.000000] vmtaint: flood line 752\n\
         [    7.000100] vmtaint: flood line 753\n"
    );
    let f = older_records(&wrapped_ring(), file.as_bytes(), "kern.log").unwrap();
    assert_eq!(f.outcome, FillOutcome::Filled);
    assert_eq!(f.overlap, 2);
    // Only what the analyzers read (the boot line, the taint line), not the flood.
    let texts: Vec<&str> = f.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["Linux version 6.1.0", TAINT]);
    assert_eq!(f.records[1].ts_ns, 6_500_000_000);
    // Sequence numbers come before the ring's first, in file order.
    assert!(f.records[0].seq < f.records[1].seq && f.records[1].seq < 500);
    assert_eq!(f.summary().records, 2);
}

#[test]
fn a_file_sharing_no_line_with_the_ring_is_not_used() {
    // Older lines, but nothing proves they are this boot's (a kern.log of the boot before, say).
    let file = format!("[    6.500000] {TAINT}\n[    6.900000] something else\n");
    let f = older_records(&wrapped_ring(), file.as_bytes(), "kern.log").unwrap();
    assert_eq!(f.outcome, FillOutcome::NoOverlap);
    assert!(f.records.is_empty());
}

#[test]
fn wall_clock_times_do_not_compare_with_the_ring() {
    let file = format!(
        "Nov 30 08:00:01 host kernel: {TAINT}\nNov 30 08:00:02 host kernel: vmtaint: flood line 752\n"
    );
    let f = older_records(&wrapped_ring(), file.as_bytes(), "messages").unwrap();
    assert_eq!(f.outcome, FillOutcome::OtherClock);
    assert!(f.records.is_empty());
}

#[test]
fn a_file_newer_than_the_ring_has_nothing_older() {
    let file = "[    7.000100] vmtaint: flood line 753\n[    8.000000] sysrq: Trigger a crash\n";
    let f = older_records(&wrapped_ring(), file.as_bytes(), "dmesg.txt").unwrap();
    assert_eq!(f.outcome, FillOutcome::NothingOlder);
    assert_eq!(f.overlap, 2);
    assert!(f.records.is_empty());
}

#[test]
fn a_ring_that_lost_nothing_needs_no_file() {
    let mut ring = wrapped_ring();
    ring.dropped = 0;
    for (i, r) in ring.records.iter_mut().enumerate() {
        r.seq = i as u64;
    }
    let f = older_records(&ring, "not even read".as_bytes(), "kern.log").unwrap();
    assert_eq!(f.outcome, FillOutcome::NotWrapped);
}

#[test]
fn an_earlier_boot_in_the_same_file_is_never_taken() {
    // kern.log keeps boots one after another: time goes back to 0 at each.
    let file = format!(
        "[    5.000000] old_boot: module license 'Proprietary' taints kernel.\n\
         [ 9999.000000] old boot's last line\n\
         [    6.500000] {TAINT}\n\
         [    7.000000] vmtaint: flood line 752\n"
    );
    let f = older_records(&wrapped_ring(), file.as_bytes(), "kern.log").unwrap();
    assert_eq!(f.outcome, FillOutcome::Filled);
    let texts: Vec<&str> = f.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, [TAINT]);
}

#[test]
fn lines_after_the_first_shared_one_are_the_rings() {
    // printk order across CPUs may step back a little: still the same boot, and from the first shared line
    // on the ring is the authority (nothing after it is taken as older).
    let file = format!(
        "[    6.000000] Linux version 6.1.0\n[    7.000000] vmtaint: flood line 752\n[    6.999999] {TAINT}\n[    7.000100] vmtaint: flood line 753\n"
    );
    let f = older_records(&wrapped_ring(), file.as_bytes(), "kern.log").unwrap();
    assert_eq!(f.outcome, FillOutcome::Filled);
    let texts: Vec<&str> = f.records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["Linux version 6.1.0"]);
    assert_eq!(f.overlap, 2);
}
