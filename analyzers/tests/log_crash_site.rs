//! Crash reports and the crash-site verdict from the logs of the real 6.1 dumps (excerpts of the `oops` and
//! `mixed` scenarios' vmcore-dmesg.txt in tests/data) and from the texts other kernels print.

use analyzers::crash_report::{
    parse_frame, parse_modules_linked_in, parse_reports, FrameContext, ReportKind,
};
use analyzers::crash_site::{analyze, ModuleFacts, Owner, Relation, SiteFrom};
use analyzers::kernel_log::KernelLog;
use analyzers::text_log::read_text_log;
use analyzers::timeline::{build, TaintSnapshot};

fn data(name: &str) -> KernelLog {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let f = std::fs::File::open(&path).unwrap();
    read_text_log(std::io::BufReader::new(f), &path)
        .unwrap()
        .log
}

const O: u64 = 1 << 12;
const E: u64 = 1 << 13;

#[test]
fn oops_in_an_out_of_tree_module_is_at_the_crash_site() {
    let log = data("oops-6.1.txt");
    let reports = parse_reports(&log);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let r = &reports[0];
    assert_eq!(r.kind, ReportKind::Oops);
    assert_eq!(
        r.headline,
        "BUG: kernel NULL pointer dereference, address: 0000000000000000"
    );
    assert_eq!(
        (r.cpu, r.pid, r.comm.as_deref()),
        (Some(0), Some(116), Some("insmod"))
    );
    assert_eq!(r.tainted.as_deref(), Some("G           OE"));
    let loc = r.location.as_ref().unwrap();
    assert_eq!(
        (
            loc.symbol.as_deref(),
            loc.offset,
            loc.size,
            loc.module.as_deref()
        ),
        (
            Some("oot_oops_poke"),
            Some(5),
            Some(0x1000),
            Some("oot_oops")
        )
    );
    // 14 frames between <TASK> and </TASK>, 8 of them `?`; the user-space RIP is no frame.
    assert_eq!(r.call_trace.len(), 14);
    assert_eq!(r.call_trace.iter().filter(|f| !f.reliable).count(), 8);
    assert!(r.call_trace.iter().all(|f| f.context == FrameContext::Task));
    let first = &r.call_trace[0].location;
    assert_eq!(
        (
            first.symbol.as_deref(),
            first.offset,
            first.module.as_deref()
        ),
        (Some("oot_oops_init"), Some(0xc), Some("oot_oops"))
    );
    assert_eq!(
        r.call_trace[13].location.symbol.as_deref(),
        Some("entry_SYSCALL_64_after_hwframe")
    );
    let linked = r.modules_linked_in.as_ref().unwrap();
    assert_eq!(linked.modules.len(), 8);
    assert_eq!(
        (
            linked.modules[0].name.as_str(),
            linked.modules[0].taints.as_str(),
            linked.modules[0].state
        ),
        ("oot_oops", "OE", Some('+'))
    );
    assert_eq!(linked.modules[2].taints, "");
    assert_eq!(linked.last_unloaded, None);

    let tl = build(&log, &TaintSnapshot::upstream(O | E));
    let facts = ModuleFacts {
        loaded: None,
        last_unloaded: None,
        tainted_mask: Some(O | E),
    };
    let site = analyze(&reports, &tl.events, &facts).unwrap();
    assert_eq!(site.how, ReportKind::Oops);
    assert_eq!(site.site_from, Some(SiteFrom::Registers));
    assert_eq!(
        (site.owner, site.owner_module.as_deref()),
        (Owner::Module, Some("oot_oops"))
    );
    assert_eq!(site.verdict, Relation::AtSite);
    let rel: Vec<(&str, Relation)> = site
        .tainting_modules
        .iter()
        .map(|m| (m.name.as_str(), m.relation))
        .collect();
    assert_eq!(
        rel,
        [
            ("oot_oops", Relation::AtSite),
            ("oot_gpl", Relation::Absent)
        ]
    );
    let before: Vec<(char, Option<&str>, Option<u64>)> = site
        .flags_before
        .iter()
        .map(|f| (f.letter, f.set_by.as_deref(), f.set_ns))
        .collect();
    assert_eq!(
        before,
        [
            ('O', Some("oot_gpl"), Some(2_101_966_000)),
            ('E', Some("oot_gpl"), Some(2_102_270_000))
        ]
    );
    assert_eq!(site.flags_by_crash.len(), 1);
    assert_eq!(
        (
            site.flags_by_crash[0].letter,
            site.flags_by_crash[0].pending
        ),
        ('D', true)
    );

    let lines = render::crash::crash_site_lines(&site);
    assert_eq!(
        lines[0],
        "Crash in oot_oops_poke+0x5 [oot_oops] (module oot_oops; oops: BUG: kernel NULL pointer dereference, address: 0000000000000000)"
    );
    assert_eq!(lines[1], "Tainting module at the crash site: oot_oops(OE)");
    // oot_gpl is in the oops's own `Modules linked in:`: loaded at the crash.
    assert_eq!(
        lines[2],
        "O, E were set 0.11 s earlier by oot_gpl (loaded 00:00:02, still loaded)"
    );
    assert_eq!(
        lines[3],
        "D set by this crash; pending: not yet in tainted_mask when the dump was taken"
    );
}

#[test]
fn sysrq_panic_with_tainting_modules_absent_from_the_trace() {
    let log = data("mixed-6.1.txt");
    let reports = parse_reports(&log);
    let kinds: Vec<ReportKind> = reports.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReportKind::Warning, ReportKind::Sysrq]);
    let w = &reports[0];
    assert_eq!(
        w.file_line.as_deref(),
        Some("/root/.cache/vmtaint/testcores/.cache/build-d4f96bac96551cf0/modules/oot_warn.c:9")
    );
    assert_eq!(
        w.location.as_ref().unwrap().module.as_deref(),
        Some("oot_warn")
    );
    assert_eq!(w.tainted.as_deref(), Some("P           OE"));
    let s = &reports[1];
    assert_eq!(
        s.headline,
        "Kernel panic - not syncing: sysrq triggered crash"
    );
    assert_eq!(s.panic_message.as_deref(), Some("sysrq triggered crash"));
    assert_eq!((s.pid, s.comm.as_deref()), (Some(1), Some("init")));
    assert_eq!(s.tainted.as_deref(), Some("P        W  OE"));
    assert_eq!(s.location, None);

    let mask = 1 | 1 << 9 | O | E;
    let tl = build(&log, &TaintSnapshot::upstream(mask));
    // The dump's own module list (the guest's /proc/modules).
    let facts = ModuleFacts {
        loaded: Some(vec![
            ("oot_warn".into(), "OE".into()),
            ("oot_gpl".into(), "OE".into()),
            ("oot_prop".into(), "POE".into()),
            ("virtio_blk".into(), "".into()),
        ]),
        last_unloaded: Some(("oot_gone".into(), "POE".into())),
        tainted_mask: Some(mask),
    };
    let site = analyze(&reports, &tl.events, &facts).unwrap();
    assert_eq!(site.how, ReportKind::Sysrq);
    assert_eq!(site.site_from, Some(SiteFrom::CallTrace));
    let l = site.site.as_ref().unwrap();
    assert_eq!(
        (l.symbol.as_deref(), l.offset),
        (Some("sysrq_handle_crash"), Some(0x16))
    );
    assert_eq!(site.owner, Owner::KernelProper);
    assert_eq!(site.verdict, Relation::Absent);
    let names: Vec<&str> = site
        .tainting_modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["oot_warn", "oot_gpl", "oot_prop", "oot_gone"]);
    assert!(site
        .tainting_modules
        .iter()
        .all(|m| m.relation == Relation::Absent));
    let gone = &site.tainting_modules[3];
    assert_eq!(
        (gone.still_loaded, gone.known_from.as_slice()),
        (Some(false), &["last_unloaded".to_string()][..])
    );
    let before: Vec<(char, Option<&str>)> = site
        .flags_before
        .iter()
        .map(|f| (f.letter, f.set_by.as_deref()))
        .collect();
    assert_eq!(
        before,
        [
            ('P', Some("oot_prop")),
            ('W', Some("oot_warn")),
            ('O', Some("oot_prop")),
            ('E', Some("oot_prop"))
        ]
    );
    assert!(
        site.flags_by_crash.is_empty(),
        "a sysrq panic sets no flag on 6.1"
    );
    let lines = render::crash::crash_site_lines(&site);
    assert_eq!(
        lines[0],
        "Crash in sysrq_handle_crash+0x16 (kernel proper; sysrq crash: Kernel panic - not syncing: sysrq triggered crash)"
    );
    assert_eq!(
        lines[1],
        "No tainting module on the call trace (oot_warn(OE), oot_gpl(OE), oot_prop(POE), oot_gone(POE) absent)"
    );
    assert_eq!(
        lines[2],
        "P, O, E were set 0.35 s earlier by oot_prop (loaded 00:00:02, still loaded)"
    );
}

#[test]
fn a_core_function_called_by_a_module_puts_the_module_on_the_trace() {
    let text = "\
[   10.000000] oot_x: loading out-of-tree module taints kernel.
[   20.000000] BUG: unable to handle page fault for address: ffffffffffffff00
[   20.000100] Oops: 0000 [#1] PREEMPT SMP NOPTI
[   20.000200] CPU: 1 PID: 77 Comm: kworker/1:1 Tainted: G           O       6.1.0-56-cloud-amd64 #1 Debian 6.1.153-1
[   20.000300] RIP: 0010:list_del+0x10/0x30
[   20.000400] Call Trace:
[   20.000500]  <IRQ>
[   20.000600]  ? oot_stale+0x1/0x2 [oot_y]
[   20.000700]  oot_x_timer+0x20/0x40 [oot_x]
[   20.000800]  </IRQ>
[   20.000900]  <TASK>
[   20.001000]  worker_thread+0x10/0x30
[   20.001100]  </TASK>
[   20.001200] Modules linked in: oot_x(O) oot_y(O) [last unloaded: oot_z(POE)]
[   20.001300] ---[ end trace 0000000000000000 ]---
[   20.001400] Kernel panic - not syncing: Fatal exception in interrupt
";
    let log = read_text_log(text.as_bytes(), "t").unwrap().log;
    let reports = parse_reports(&log);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].call_trace[0].context, FrameContext::Irq);
    assert_eq!(reports[0].call_trace[2].context, FrameContext::Task);
    let tl = build(&log, &TaintSnapshot::upstream(O));
    let site = analyze(&reports, &tl.events, &ModuleFacts::default()).unwrap();
    // The panic only finishes the oops: the oops is the crash.
    assert_eq!(site.how, ReportKind::Oops);
    assert_eq!(site.owner, Owner::KernelProper);
    assert_eq!(site.verdict, Relation::OnCallTrace);
    let rel: Vec<(&str, Relation, Option<bool>)> = site
        .tainting_modules
        .iter()
        .map(|m| (m.name.as_str(), m.relation, m.still_loaded))
        .collect();
    assert_eq!(
        rel,
        [
            ("oot_x", Relation::OnCallTrace, Some(true)),
            ("oot_y", Relation::OnCallTraceUnreliable, Some(true)),
            ("oot_z", Relation::Absent, None)
        ]
    );
    assert_eq!(site.flags_by_crash[0].letter, 'D');
    assert!(
        !site.flags_by_crash[0].pending,
        "mask unknown: not claimed pending"
    );
}

#[test]
fn frames_and_module_lists_of_other_kernels() {
    // Before 4.x: `[<addr>] func+off/size`; arm64 frames; build ids after the module.
    let f = parse_frame(" [<ffffffff8107d3a0>] ? warn_slowpath_common+0x7f/0xc0").unwrap();
    assert_eq!(f.location.address, Some(0xffffffff8107d3a0));
    assert!(!f.reliable);
    let f =
        parse_frame("  oot_fn+0x1c/0x30 [oot 0123456789abcdef0123456789abcdef01234567]").unwrap();
    assert_eq!(f.location.module.as_deref(), Some("oot"));
    assert!(parse_frame(" RSP: 0018:ffffd3ce005b3b68 EFLAGS: 00000246").is_none());
    assert!(parse_frame(" Code: Unable to access opcode bytes at 0xffffffffc03e1fdb.").is_none());
    // RHEL 6 marks unsigned modules (U).
    let m = parse_modules_linked_in(
        "Modules linked in: vendor(U) ext4 jbd2 [last unloaded: scsi_wait_scan]",
    )
    .unwrap();
    assert_eq!(
        (m.modules[0].name.as_str(), m.modules[0].taints.as_str()),
        ("vendor", "U")
    );
    assert_eq!(m.last_unloaded.as_ref().unwrap().name, "scsi_wait_scan");
    assert_eq!(m.last_unloaded.as_ref().unwrap().taints, "");
}

#[test]
fn arm64_oops_and_seven_two_warning_and_hung_task() {
    let text = "\
[  100.000000] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000
[  100.000100] Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
[  100.000200] Modules linked in: oot_oops(OE+)
[  100.000300] CPU: 0 PID: 120 Comm: insmod Tainted: G           OE      6.1.0-56-cloud-arm64 #1 Debian 6.1.153-1
[  100.000400] pc : oot_oops_poke+0x8/0x1000 [oot_oops]
[  100.000500] lr : oot_oops_init+0x14/0x1000 [oot_oops]
[  100.000600] Call trace:
[  100.000700]  oot_oops_poke+0x8/0x1000 [oot_oops]
[  100.000800]  do_one_initcall+0x4c/0x2c0
[  200.000000] WARNING: oot_warn.c:3 at m_init+0x10/0xff0 [oot_warn], CPU#1: insmod/142
[  300.000000] INFO: task kworker/0:1:33 blocked for more than 120 seconds.
[  300.000100] Call Trace:
[  300.000200]  <TASK>
[  300.000300]  __schedule+0x2f0/0x8e0
[  300.000400]  schedule+0x5a/0xd0
[  300.000500]  oot_wait+0x20/0x40 [oot_w]
";
    let log = read_text_log(text.as_bytes(), "t").unwrap().log;
    let r = parse_reports(&log);
    let kinds: Vec<ReportKind> = r.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [ReportKind::Oops, ReportKind::Warning, ReportKind::HungTask]
    );
    assert_eq!(
        r[0].location.as_ref().unwrap().symbol.as_deref(),
        Some("oot_oops_poke")
    );
    assert_eq!(
        r[0].link_register.as_ref().unwrap().symbol.as_deref(),
        Some("oot_oops_init")
    );
    assert_eq!(r[0].call_trace.len(), 2);
    assert_eq!(
        (r[1].cpu, r[1].pid, r[1].comm.as_deref()),
        (Some(1), Some(142), Some("insmod"))
    );
    assert_eq!(r[1].file_line.as_deref(), Some("oot_warn.c:3"));
    assert_eq!(
        r[1].location.as_ref().unwrap().module.as_deref(),
        Some("oot_warn")
    );
    assert_eq!(
        (r[2].comm.as_deref(), r[2].pid),
        (Some("kworker/0:1"), Some(33))
    );
    // The hung task is the last non-WARNING report: its site is the first frame outside the scheduler.
    let tl = build(&log, &TaintSnapshot::upstream(O | E));
    let site = analyze(&r, &tl.events, &ModuleFacts::default()).unwrap();
    assert_eq!(site.how, ReportKind::HungTask);
    assert_eq!(site.owner_module.as_deref(), Some("oot_w"));
    // Nothing in this log says oot_w carries taint (not guessed); oot_oops(OE), listed earlier, is not on
    // the hung task's trace.
    assert_eq!(site.verdict, Relation::Absent);
    let names: Vec<&str> = site
        .tainting_modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["oot_oops"]);
}
