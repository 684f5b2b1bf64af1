//! The taint timeline from real 6.1 log lines (the guest dumps under target/testcores/real and the
//! strings of the kernel sources named next to each pattern).

use analyzers::kernel_log::{KernelLog, LogRecord, LogSource};
use analyzers::timeline::{build, taint_events, EventKind, TaintSnapshot, Timeline, TimelineEvent};

fn log_of(lines: &[(u64, &str)], dropped: u64) -> KernelLog {
    KernelLog {
        records: lines
            .iter()
            .enumerate()
            .map(|(i, &(ts_ns, text))| LogRecord {
                seq: dropped + i as u64,
                ts_ns,
                level: 4,
                facility: 0,
                caller: Some("T89".into()),
                text: text.to_string(),
            })
            .collect(),
        source: LogSource::PrintkRingbuffer,
        dropped,
        problems: vec![],
    }
}

fn bits(letters: &str) -> u64 {
    letters
        .chars()
        .map(|c| {
            1u64 << analyzers::timeline::UPSTREAM_LETTERS
                .iter()
                .position(|&l| l == c)
                .unwrap()
        })
        .sum()
}

fn only(tl: &Timeline, kind: EventKind) -> Vec<&TimelineEvent> {
    tl.events.iter().filter(|e| e.kind == kind).collect()
}

/// One line, one event: (line, letter, module).
fn single(line: &str, mask: u64) -> TimelineEvent {
    let tl = build(&log_of(&[(1_000, line)], 0), &TaintSnapshot::upstream(mask));
    let ev: Vec<_> = tl
        .events
        .iter()
        .filter(|e| e.kind != EventKind::NoEvidence)
        .collect();
    assert_eq!(ev.len(), 1, "{line}: {:?}", tl.events);
    ev[0].clone()
}

#[test]
fn six_one_module_load_lines() {
    // As a 6.1 guest prints them loading a proprietary out-of-tree unsigned module.
    let log = log_of(
        &[
            (5_123_456_000, "oot_prop: loading out-of-tree module taints kernel."),
            (5_123_457_000, "oot_prop: module license 'Proprietary' taints kernel."),
            (5_123_460_000, "Disabling lock debugging due to kernel taint"),
            (
                5_123_470_000,
                "oot_prop: module verification failed: signature and/or required key missing - tainting kernel",
            ),
        ],
        0,
    );
    let tl = build(&log, &TaintSnapshot::upstream(bits("POE")));
    type Row<'a> = (EventKind, Option<char>, Option<&'a str>, Option<u64>, bool);
    let got: Vec<Row> = tl
        .events
        .iter()
        .map(|e| (e.kind, e.letter, e.module.as_deref(), e.ts_ns, e.pending))
        .collect();
    assert_eq!(
        got,
        [
            (
                EventKind::Taint,
                Some('O'),
                Some("oot_prop"),
                Some(5_123_456_000),
                false
            ),
            (
                EventKind::Taint,
                Some('P'),
                Some("oot_prop"),
                Some(5_123_457_000),
                false
            ),
            (
                EventKind::Taint,
                Some('E'),
                Some("oot_prop"),
                Some(5_123_470_000),
                false
            ),
        ]
    );
    // All three are printed only for the first module that sets the flag: the event says so.
    assert!(tl.events.iter().all(|e| e
        .reason
        .as_deref()
        .unwrap()
        .contains("only when the flag is first set")));
    assert_eq!(
        taint_events(&tl),
        [
            ('O', "oot_prop".to_string()),
            ('P', "oot_prop".to_string()),
            ('E', "oot_prop".to_string())
        ]
    );
}

#[test]
fn each_taint_line_of_the_kernel_sources() {
    let cases: &[(&str, char, Option<&str>)] = &[
        // kernel/module/main.c check_modinfo()
        ("hello: loading out-of-tree module taints kernel.", 'O', Some("hello")),
        ("nvidia: module license 'NVIDIA' taints kernel.", 'P', Some("nvidia")),
        ("r8712u: module is from the staging directory, the quality is unknown, you have been warned.", 'C', Some("r8712u")),
        ("test_printf: loading test module taints kernel.", 'N', Some("test_printf")),
        // check_modinfo_livepatch()
        ("livepatch_sample: tainting kernel with TAINT_LIVEPATCH", 'K', Some("livepatch_sample")),
        // try_to_force_load() with the reasons it is given
        ("oot: bad vermagic: kernel tainted.", 'F', Some("oot")),
        ("oot: no versions for exported symbols: kernel tainted.", 'F', Some("oot")),
        // check_module_license_and_versions()
        ("ndiswrapper: module license taints kernel.", 'P', Some("ndiswrapper")),
        // inherit_taint()
        ("shim: module uses symbols nv_foo from proprietary module nvidia, inheriting taint.", 'P', Some("shim")),
        // load_module(), CONFIG_MODULE_SIG
        ("vboxdrv: module verification failed: signature and/or required key missing - tainting kernel", 'E', Some("vboxdrv")),
        // drivers/acpi/tables.c acpi_table_taint()
        ("ACPI: Override [DSDT-   A M I], this is unsafe: tainting kernel", 'A', None),
        // SUSE (letter in the line)
        ("lpfc: externally supported module, setting X kernel taint flag.", 'X', Some("lpfc")),
    ];
    for &(line, letter, module) in cases {
        let mask = bits(&letter.to_string());
        let e = single(line, mask);
        assert_eq!(e.kind, EventKind::Taint, "{line}");
        assert_eq!(e.letter, Some(letter), "{line}");
        assert_eq!(e.module.as_deref(), module, "{line}");
        assert!(!e.pending, "{line}");
        assert_eq!(e.text.as_deref(), Some(line));
    }
    // Look-alikes are not taint lines.
    for line in [
        "oot_gpl: loaded",
        "oot: loading module not compiled with retpoline compiler.",
        "Disabling lock debugging due to kernel taint",
        "---[ end Kernel panic - not syncing: Fatal exception ]---",
        "md: raid1 personality registered for level 1",
    ] {
        let tl = build(&log_of(&[(1, line)], 0), &TaintSnapshot::upstream(0));
        assert!(tl.events.is_empty(), "{line}: {:?}", tl.events);
    }
}

#[test]
fn rhel_tech_preview_letter_comes_from_the_dump_table() {
    let line = "TECH PREVIEW: nvme_tcp may not be fully supported.";
    // RHEL 8: bit 29 'T' in the dump's table and mask.
    let rhel8 = TaintSnapshot {
        tainted_mask: 1 << 29,
        flags: (0..19u32)
            .map(|b| (b, analyzers::timeline::UPSTREAM_LETTERS[b as usize]))
            .chain([(29, 'T')])
            .collect(),
    };
    let tl = build(&log_of(&[(1, line)], 0), &rhel8);
    assert_eq!(tl.events.len(), 1, "{:?}", tl.events);
    assert_eq!(
        (tl.events[0].letter, tl.events[0].module.as_deref()),
        (Some('T'), Some("nvme_tcp"))
    );
    assert_eq!((tl.events[0].bit, tl.events[0].pending), (Some(29), false));
    // RHEL 9: TAINT_AUX (16, 'X').
    let e = single(line, 1 << 16);
    assert_eq!(e.letter, Some('X'));
}

/// The WARN of the "mixed" real dump (6.1.0-56-cloud-amd64).
#[test]
fn warn_takes_module_and_tainted_from_its_report() {
    let log = log_of(
        &[
            (7_130_691_000, "oot_warn: deliberate warning for vmtaint"),
            (7_131_100_000, "------------[ cut here ]------------"),
            (
                7_131_400_000,
                "WARNING: CPU: 0 PID: 103 at /build/modules/oot_warn.c:9 oot_warn_init+0x11/0x1000 [oot_warn]",
            ),
            (7_131_500_000, "Modules linked in: oot_warn(OE+) oot_prop(POE) virtio_blk virtio_pci"),
            (
                7_135_747_000,
                "CPU: 0 PID: 103 Comm: insmod Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
            ),
            (7_135_800_000, "RIP: 0010:oot_warn_init+0x11/0x1000 [oot_warn]"),
            (7_140_000_000, "---[ end trace 0000000000000000 ]---"),
        ],
        0,
    );
    let tl = build(&log, &TaintSnapshot::upstream(bits("PWOE")));
    let w = only(&tl, EventKind::Warn);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].letter, Some('W'));
    assert_eq!(w[0].module.as_deref(), Some("oot_warn"));
    assert_eq!(w[0].tainted.as_deref(), Some("P           OE"));
    assert_eq!(w[0].ts_ns, Some(7_131_400_000));
    assert!(!w[0].pending);
    // P, O, E have no line here: the WARN header is the first to show them.
    let first: Vec<(Option<char>, Option<u64>)> = only(&tl, EventKind::FirstSeen)
        .iter()
        .map(|e| (e.letter, e.ts_ns))
        .collect();
    assert_eq!(
        first,
        [
            (Some('P'), Some(7_135_747_000)),
            (Some('O'), Some(7_135_747_000)),
            (Some('E'), Some(7_135_747_000))
        ]
    );
    assert!(only(&tl, EventKind::NoEvidence).is_empty());
}

/// The oops of the "oops" real dump: kdump ran before add_taint(TAINT_DIE), so D is pending.
#[test]
fn oops_is_one_event_with_rip_module_and_pending_d() {
    let lines = [
        (6_527_937_000, "oot_gpl: loading out-of-tree module taints kernel."),
        (6_528_360_000, "oot_gpl: module verification failed: signature and/or required key missing - tainting kernel"),
        (7_183_869_000, "BUG: kernel NULL pointer dereference, address: 0000000000000000"),
        (7_184_365_000, "#PF: supervisor write access in kernel mode"),
        (7_184_602_000, "#PF: error_code(0x0002) - not-present page"),
        (7_184_945_000, "PGD 13deb067 P4D 13deb067 PUD 13d96067 PMD 0 "),
        (7_185_563_000, "Oops: 0002 [#1] PREEMPT SMP NOPTI"),
        (
            7_194_115_000,
            "CPU: 0 PID: 117 Comm: insmod Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
        ),
        (7_198_344_000, "Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"),
        (7_198_927_000, "RIP: 0010:oot_oops_poke+0x5/0x1000 [oot_oops]"),
        (7_212_810_000, " oot_oops_init+0xc/0x1000 [oot_oops]"),
        (7_239_359_000, "RIP: 0033:0x47fbe9"),
    ];
    let tl = build(&log_of(&lines, 0), &TaintSnapshot::upstream(bits("OE")));
    let o = only(&tl, EventKind::Oops);
    assert_eq!(o.len(), 1, "{:?}", tl.events);
    assert_eq!(o[0].letter, Some('D'));
    assert_eq!(o[0].module.as_deref(), Some("oot_oops"));
    assert_eq!(o[0].tainted.as_deref(), Some("G           OE"));
    assert_eq!(
        o[0].text.as_deref(),
        Some("BUG: kernel NULL pointer dereference, address: 0000000000000000")
    );
    assert!(o[0].pending, "D is not in the final mask");
    assert!(only(&tl, EventKind::NoEvidence).is_empty());
    // With D in the final mask (a later add_taint), it is not pending.
    let tl = build(&log_of(&lines, 0), &TaintSnapshot::upstream(bits("DOE")));
    assert!(!only(&tl, EventKind::Oops)[0].pending);
}

#[test]
fn die_header_without_cause_is_its_own_oops() {
    let tl = build(
        &log_of(
            &[
                (1, "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI"),
                (2, "CPU: 1 PID: 5 Comm: kworker/1:0 Not tainted 6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
                (3, "RIP: 0010:list_del+0x10/0x30"),
                (10, "kernel BUG at mm/slub.c:412!"),
                (11, "invalid opcode: 0000 [#2] PREEMPT SMP NOPTI"),
                (12, "CPU: 1 PID: 5 Comm: kworker/1:0 Tainted: G      D            6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
                (13, "RIP: 0010:kfree+0x1/0x30 [oot_slab]"),
            ],
            0,
        ),
        &TaintSnapshot::upstream(bits("D")),
    );
    let o = only(&tl, EventKind::Oops);
    assert_eq!(o.len(), 2, "{:?}", tl.events);
    assert_eq!(
        (o[0].tainted.as_deref(), o[0].module.as_deref()),
        (Some("Not tainted"), None)
    );
    assert_eq!(o[1].text.as_deref(), Some("kernel BUG at mm/slub.c:412!"));
    assert_eq!(
        (o[1].tainted.as_deref(), o[1].module.as_deref()),
        (Some("G      D"), Some("oot_slab"))
    );
}

#[test]
fn soft_lockup_and_bad_page_reports() {
    let tl = build(
        &log_of(
            &[
                (1, "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:89]"),
                (2, "CPU: 0 PID: 89 Comm: insmod Tainted: P           OE      6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
                (3, "BUG: Bad page state in process insmod  pfn:1a2b3"),
                (4, "CPU: 0 PID: 89 Comm: insmod Tainted: P           OEL     6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1"),
                (5, "BUG kmalloc-64 (Tainted: P    B      OEL    ): Poison overwritten"),
            ],
            0,
        ),
        &TaintSnapshot::upstream(bits("PBOEL")),
    );
    let l = only(&tl, EventKind::SoftLockup);
    assert_eq!(
        (l.len(), l[0].letter, l[0].tainted.as_deref()),
        (1, Some('L'), Some("P           OE"))
    );
    let b = only(&tl, EventKind::BadPage);
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].letter, b[0].tainted.as_deref()),
        (Some('B'), Some("P           OEL"))
    );
    assert_eq!(b[1].tainted.as_deref(), Some("P    B      OEL"));
}

#[test]
fn panic_and_sysrq_are_events_without_letters() {
    let tl = build(
        &log_of(
            &[
                (4_187_064_000, "sysrq: Trigger a crash"),
                (4_187_396_000, "Kernel panic - not syncing: sysrq triggered crash"),
                (
                    4_187_794_000,
                    "CPU: 0 PID: 1 Comm: init Kdump: loaded Tainted: P           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2",
                ),
            ],
            0,
        ),
        &TaintSnapshot::upstream(0),
    );
    let kinds: Vec<(EventKind, Option<char>)> =
        tl.events.iter().map(|e| (e.kind, e.letter)).collect();
    assert_eq!(kinds, [(EventKind::Sysrq, None), (EventKind::Panic, None)]);
    assert_eq!(tl.events[1].tainted.as_deref(), Some("P           OE"));
}

#[test]
fn flags_without_lines_are_first_seen_or_no_evidence() {
    let lines = [
        (1_000, "oot: loading out-of-tree module taints kernel."),
        (
            2_000,
            "CPU: 0 PID: 9 Comm: sh Tainted: G        W  O        6.1.0 #1",
        ),
    ];
    // W first shows in the header; U (user) never shows; O has its line.
    let tl = build(&log_of(&lines, 0), &TaintSnapshot::upstream(bits("UWO")));
    let fs = only(&tl, EventKind::FirstSeen);
    assert_eq!(fs.len(), 1);
    assert_eq!(
        (fs[0].letter, fs[0].ts_ns, fs[0].tainted.as_deref()),
        (Some('W'), Some(2_000), Some("G        W  O"))
    );
    let ne = only(&tl, EventKind::NoEvidence);
    assert_eq!(ne.len(), 1);
    assert_eq!(
        (ne[0].letter, ne[0].ts_ns, ne[0].seq),
        (Some('U'), None, None)
    );
    // U never has a line: the reason says where it comes from.
    assert!(
        ne[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("TAINT_USER is set from userspace"),
        "{:?}",
        ne[0].reason
    );
    assert_eq!(
        tl.events.last().unwrap().kind,
        EventKind::NoEvidence,
        "no_evidence entries come last"
    );
    // The same with a wrapped log: the evidence may have been lost.
    let tl = build(&log_of(&lines, 1200), &TaintSnapshot::upstream(bits("UWO")));
    let ne = only(&tl, EventKind::NoEvidence);
    assert!(
        ne[0].reason.as_deref().unwrap().starts_with("log wrapped"),
        "{:?}",
        ne[0].reason
    );
}

#[test]
fn json_keys_are_the_contract() {
    let e = single(
        "hello: loading out-of-tree module taints kernel.",
        bits("O"),
    );
    let v = serde_json::to_value(&e).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bit",
            "from_file",
            "kind",
            "letter",
            "module",
            "new_bit",
            "pending",
            "reason",
            "seq",
            "tainted",
            "text",
            "ts_ns"
        ]
    );
    assert_eq!(v["kind"], "taint");
    assert_eq!(v["letter"], "O");
    assert_eq!(v["bit"], 12);
    assert_eq!(v["ts_ns"], 1000);
    let tl = build(&log_of(&[], 0), &TaintSnapshot::upstream(bits("U")));
    let v = serde_json::to_value(&tl).unwrap();
    assert_eq!(v["events"][0]["kind"], "no_evidence");
    assert!(v["events"][0]["ts_ns"].is_null());
}
