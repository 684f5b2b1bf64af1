//! The kernel-version differences of the log (issue 10): 7.x WARN lines, 6.12+ repeated license lines,
//! the oops's D at its `Oops:` line, 19/20-column taint strings and 6.11+'s verbose `Tainted:` line, with the
//! texts those kernels print (kernel/panic.c `__warn()`, lib/dump_stack.c, kernel/module/main.c).

use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
use analyzers::timeline::{
    build, columns_in, parse_tainted_verbose, EventKind, TaintSnapshot, Timeline,
};

fn log_of(lines: &[(u64, &str)]) -> KernelLog {
    KernelLog {
        records: lines
            .iter()
            .enumerate()
            .map(|(i, &(ts_ns, text))| LogRecord {
                seq: i as u64,
                ts_ns,
                level: 4,
                facility: 0,
                caller: Some("T142".into()),
                text: text.to_string(),
            })
            .collect(),
        source: LogSource::PrintkRingbuffer,
        dropped: 0,
        problems: vec![],
    }
}

fn kinds(tl: &Timeline, kind: EventKind) -> Vec<&analyzers::timeline::TimelineEvent> {
    tl.events.iter().filter(|e| e.kind == kind).collect()
}

// P=0 W=9 O=12 E=13
const PWOE: u64 = 1 | 1 << 9 | 1 << 12 | 1 << 13;

/// A 7.2 guest: an out-of-tree module WARNs in its init, then a sysrq panic. 7.x prints the WARN as
/// `WARNING: FILE:LINE at SYMBOL [MOD], CPU#N: COMM/PID`, headers with `UID:` and 20 taint columns, and the
/// verbose `Tainted: [P]=...` line after each header.
fn seven_two_log() -> KernelLog {
    log_of(&[
        (2_100_000_000, "oot_prop: loading out-of-tree module taints kernel."),
        (2_100_100_000, "oot_prop: module license 'Proprietary' taints kernel."),
        (2_100_200_000, "Disabling lock debugging due to kernel taint"),
        (2_100_300_000, "oot_prop: module verification failed: signature and/or required key missing - tainting kernel"),
        (2_500_000_000, "------------[ cut here ]------------"),
        (2_500_100_000, "WARNING: oot_warn.c:3 at m_init+0x10/0xff0 [oot_warn], CPU#1: insmod/142"),
        (2_500_200_000, "Modules linked in: oot_warn(OE+) oot_prop(POE) virtio_blk virtio_pci virtio_ring"),
        (2_500_300_000, "CPU: 1 UID: 0 PID: 142 Comm: insmod Tainted: P           OE       7.2.13+deb14-cloud-amd64 #1 PREEMPT(lazy)  Debian 7.2.13-1"),
        (2_500_310_000, "Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE, [E]=UNSIGNED_MODULE"),
        (2_500_400_000, "RIP: 0010:m_init+0x10/0xff0 [oot_warn]"),
        (2_500_900_000, "---[ end trace 0000000000000000 ]---"),
        (9_000_000_000, "sysrq: Trigger a crash"),
        (9_000_100_000, "Kernel panic - not syncing: sysrq triggered crash"),
        (9_000_200_000, "CPU: 0 UID: 0 PID: 1 Comm: init Kdump: loaded Tainted: P        W  OE       7.2.13+deb14-cloud-amd64 #1 PREEMPT(lazy)  Debian 7.2.13-1"),
        (9_000_210_000, "Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN, [O]=OOT_MODULE, [E]=UNSIGNED_MODULE"),
    ])
}

#[test]
fn seven_two_warn_line_is_the_w_event_with_its_culprit() {
    // Without the dump's table (a log alone): the 20 columns are read off the lines themselves.
    for snapshot in [
        TaintSnapshot::upstream(PWOE),
        TaintSnapshot {
            tainted_mask: PWOE,
            // 7.x's table: the 19 upstream letters and J (fwctl) in bit 19.
            flags: "PFSRMBUDAWCIOELKXTNJ"
                .chars()
                .enumerate()
                .map(|(i, c)| (i as u32, c))
                .collect(),
        },
    ] {
        let tl = build(&seven_two_log(), &snapshot);
        let w = kinds(&tl, EventKind::Warn);
        assert_eq!(w.len(), 1, "{:?}", tl.events);
        assert_eq!(w[0].module.as_deref(), Some("oot_warn"));
        assert_eq!(w[0].letter, Some('W'));
        assert_eq!(w[0].ts_ns, Some(2_500_100_000));
        assert_eq!(w[0].tainted.as_deref(), Some("P           OE"));
        assert!(w[0].new_bit);
        // The panic's header is not taken for the W event: nothing is "first seen".
        assert!(
            kinds(&tl, EventKind::FirstSeen).is_empty(),
            "{:?}",
            tl.events
        );
        assert!(kinds(&tl, EventKind::NoEvidence).is_empty());
        // The verbose second line is not a header and sets nothing.
        assert_eq!(
            tl.events
                .iter()
                .filter(|e| e
                    .text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("Tainted: [")))
                .count(),
            0
        );
    }
}

#[test]
fn six_x_warn_line_without_file() {
    let tl = build(
        &log_of(&[(5, "WARNING: CPU: 3 PID: 9 at oot_w_fn+0x5/0x20 [oot_w]")]),
        &TaintSnapshot::upstream(1 << 9),
    );
    assert_eq!(
        kinds(&tl, EventKind::Warn)[0].module.as_deref(),
        Some("oot_w")
    );
    let tl = build(
        &log_of(&[(
            5,
            "WARNING: at kernel/foo.c:12 at foo+0x5/0x20, CPU#0: swapper/0/0",
        )]),
        &TaintSnapshot::upstream(1 << 9),
    );
    let w = kinds(&tl, EventKind::Warn);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].module, None);
}

/// 6.12 and 7.2 print the license line for every proprietary module, also when P is already set.
#[test]
fn repeated_license_line_is_kept_but_is_not_the_origin() {
    let tl = build(
        &log_of(&[
            (1_000, "oot_prop: loading out-of-tree module taints kernel."),
            (2_000, "oot_prop: module license 'Proprietary' taints kernel."),
            (3_000, "Disabling lock debugging due to kernel taint"),
            (4_000, "oot_prop: module verification failed: signature and/or required key missing - tainting kernel"),
            (9_000, "oot_prop2: module license 'Proprietary' taints kernel."),
        ]),
        &TaintSnapshot::upstream(1 | 1 << 12 | 1 << 13),
    );
    let p: Vec<_> = tl.events.iter().filter(|e| e.letter == Some('P')).collect();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0].module.as_deref(), p[0].new_bit),
        (Some("oot_prop"), true)
    );
    assert_eq!(
        (p[1].module.as_deref(), p[1].new_bit),
        (Some("oot_prop2"), false)
    );
    assert!(p[1].reason.as_deref().unwrap().contains("already set"));
    // Both still say which module has the flag (attribution of unloaded modules uses it).
    assert_eq!(analyzers::timeline::taint_events(&tl).len(), 4);
    // A flag a header showed before its line is not new at the line either.
    let tl = build(
        &log_of(&[
            (1_000, "CPU: 0 PID: 1 Comm: sh Tainted: P                  6.12.95+deb12-cloud-amd64 #1 Debian 6.12.95-1~bpo12+1"),
            (2_000, "late: module license 'Proprietary' taints kernel."),
        ]),
        &TaintSnapshot::upstream(1),
    );
    let p: Vec<_> = tl
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Taint)
        .collect();
    assert!(!p[0].new_bit);
}

/// The oops of the real 6.1 "oops" dump: D is added by oops_end(), after the `Oops:` header's report.
#[test]
fn oops_d_event_takes_the_oops_line_time_and_keeps_the_bug_headline() {
    let tl = build(
        &log_of(&[
            (2_101_966_000, "oot_gpl: loading out-of-tree module taints kernel."),
            (2_210_989_000, "BUG: kernel NULL pointer dereference, address: 0000000000000000"),
            (2_211_229_000, "#PF: supervisor write access in kernel mode"),
            (2_211_330_000, "#PF: error_code(0x0002) - not-present page"),
            (2_211_464_000, "PGD 27ff067 P4D 27ff067 PUD 1ff27067 PMD 0 "),
            (2_211_729_000, "Oops: 0002 [#1] PREEMPT SMP NOPTI"),
            (2_211_895_000, "CPU: 0 PID: 116 Comm: insmod Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2"),
            (2_212_372_000, "RIP: 0010:oot_oops_poke+0x5/0x1000 [oot_oops]"),
        ]),
        &TaintSnapshot::upstream(1 << 12 | 1 << 13),
    );
    let o = kinds(&tl, EventKind::Oops);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].ts_ns, Some(2_211_729_000));
    assert_eq!(o[0].seq, Some(5));
    assert_eq!(
        o[0].text.as_deref(),
        Some("BUG: kernel NULL pointer dereference, address: 0000000000000000")
    );
    assert!(o[0].pending && o[0].new_bit);
    assert_eq!(o[0].module.as_deref(), Some("oot_oops"));
}

#[test]
fn taint_columns_of_every_width() {
    // 5.10: 18 columns, 6.x: 19, 7.x: 20; the release follows one blank after the last column.
    assert_eq!(
        columns_in("P           OE     5.10.0-43-cloud-amd64 #1 Debian"),
        "P           OE    "
    );
    assert_eq!(
        columns_in("P           OE      6.1.0-56-cloud-amd64 #1"),
        "P           OE     "
    );
    assert_eq!(
        columns_in("P           OE       7.2.13+deb14-cloud-amd64 #1"),
        "P           OE      "
    );
    assert_eq!(columns_in("G                 N 6.1.0 #1").len(), 19);
    assert_eq!(columns_in("P        W  OE"), "P        W  OE");
    let t = TaintSnapshot::upstream(0);
    // N (bit 18) in column 19 of a 6.x string is read, not taken for the release.
    let tl = build(
        &log_of(&[(
            1,
            "CPU: 0 PID: 1 Comm: sh Tainted: G                 N 6.1.0-56-cloud-amd64 #1",
        )]),
        &TaintSnapshot::upstream(1 << 18),
    );
    assert_eq!(kinds(&tl, EventKind::FirstSeen)[0].letter, Some('N'));
    let _ = t;
}

#[test]
fn verbose_tainted_line_of_six_eleven() {
    assert_eq!(
        parse_tainted_verbose(
            "Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN, [O]=OOT_MODULE, [E]=UNSIGNED_MODULE"
        ),
        Some(vec![
            ('P', "PROPRIETARY_MODULE".to_string()),
            ('W', "WARN".to_string()),
            ('O', "OOT_MODULE".to_string()),
            ('E', "UNSIGNED_MODULE".to_string()),
        ])
    );
    assert_eq!(
        parse_tainted_verbose("Tainted: P           OE      6.1.0"),
        None
    );
    assert_eq!(parse_tainted_verbose("Tainted: [x"), None);
}
