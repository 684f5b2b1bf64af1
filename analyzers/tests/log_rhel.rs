//! Distribution taint bits from the log (synthetic: no RHEL kernel runs here), with the texts RHEL 6-9
//! print: `Tainted:` strings with `-` columns for reserved bits, `TECH PREVIEW:` lines for the
//! tech-preview/auxiliary bit, `(U)` in module lists, the 2.6.32 `Pid: N, comm: C` header and 3.10's
//! `IP:`/`RIP: 0010:[<addr>]` lines.

use analyzers::log_report::report_from_log;
use analyzers::text_log::read_text_log;
use analyzers::timeline::{columns_in, EventKind};

fn report(text: &str) -> analyzers::report::Report {
    report_from_log(&read_text_log(text.as_bytes(), "rhel").unwrap())
}

#[test]
fn rhel7_tech_preview_bit_29_and_dash_columns() {
    let r = report(
        "\
[    0.000000] Linux version 3.10.0-1160.el7.x86_64 (mockbuild@x86-vm-26.build.eng.bos.redhat.com) (gcc version 4.8.5 20150623 (Red Hat 4.8.5-44) (GCC) ) #1 SMP Tue Aug 18 14:50:17 EDT 2020
[   12.000000] TECH PREVIEW: NVMe over FC may not be fully supported.
[   12.000001] Please review provided documentation for limitations.
[   20.000000] vendor: loading out-of-tree module taints kernel.
[   20.000100] vendor: module license 'Proprietary' taints kernel.
[   20.000200] Disabling lock debugging due to kernel taint
[   20.000300] vendor: module verification failed: signature and/or required key missing - tainting kernel
[   30.000000] BUG: unable to handle kernel NULL pointer dereference at 0000000000000008
[   30.000100] IP: [<ffffffffc0123456>] vendor_fn+0x16/0x30 [vendor]
[   30.000200] PGD 0
[   30.000300] Oops: 0002 [#1] SMP
[   30.000400] Modules linked in: vendor(POE) ext4 mbcache jbd2
[   30.000500] CPU: 1 PID: 2335 Comm: insmod Kdump: loaded Tainted: P           OE  ------------ T 3.10.0-1160.el7.x86_64 #1
[   30.000600] task: ffff8800b9b5e180 ti: ffff8800b8e5c000 task.ti: ffff8800b8e5c000
[   30.000700] RIP: 0010:[<ffffffffc0123456>]  [<ffffffffc0123456>] vendor_fn+0x16/0x30 [vendor]
[   30.000800] Call Trace:
[   30.000900]  [<ffffffffc0123500>] vendor_init+0x20/0x40 [vendor]
[   30.001000]  [<ffffffff8100210a>] do_one_initcall+0xba/0x240
",
    );
    // P O E and bit 29 (T: tech preview on RHEL 6-8); the reserved `-` columns are not flags.
    assert_eq!(r.tainted_mask, Some(1 | 1 << 12 | 1 << 13 | 1 << 29));
    let t = r.flags.iter().find(|f| f.bit == 29).unwrap();
    assert_eq!((t.letter, t.name.as_str()), ('T', "TECH_PREVIEW"));
    let tp: Vec<_> = r.timeline.iter().filter(|e| e.bit == Some(29)).collect();
    assert_eq!(tp.len(), 1);
    assert_eq!(tp[0].kind, EventKind::Taint);
    assert_eq!(tp[0].ts_ns, Some(12_000_000_000));
    assert!(tp[0].text.as_deref().unwrap().contains("NVMe over FC"));
    assert!(tp[0].new_bit);
    let c = r.crash_site.as_ref().unwrap();
    let site = c.site.as_ref().unwrap();
    assert_eq!(
        (site.symbol.as_deref(), site.address),
        (Some("vendor_fn"), Some(0xffffffffc0123456))
    );
    assert_eq!(c.owner_module.as_deref(), Some("vendor"));
    let rep = &r.crash_reports[c.report];
    assert_eq!(rep.call_trace.len(), 2);
    assert_eq!(rep.call_trace[0].location.module.as_deref(), Some("vendor"));
    assert_eq!(
        r.log_only.as_ref().unwrap().release.as_deref(),
        Some("3.10.0-1160.el7.x86_64")
    );
}

#[test]
fn rhel8_and_rhel9_strings_and_the_aux_bit() {
    assert_eq!(
        columns_in("G           OE    --------- -  - 4.18.0-553.el8_10.x86_64 #1"),
        "G           OE    --------- -  -"
    );
    // RHEL 9 (5.14) marks tech preview with TAINT_AUX, bit 16, letter X.
    let r = report(
        "\
[    0.000000] Linux version 5.14.0-427.13.1.el9_4.x86_64 (mockbuild@x86-64-01.build.eng.rdu2.redhat.com) #1 SMP PREEMPT_DYNAMIC
[    5.000000] TECH PREVIEW: kTLS may not be fully supported.
[    9.000000] CPU: 0 PID: 1 Comm: systemd Kdump: loaded Tainted: G               X   -------  ---  5.14.0-427.13.1.el9_4.x86_64 #1
[    9.000100] Kernel panic - not syncing: sysrq triggered crash
",
    );
    assert_eq!(r.tainted_mask, Some(1 << 16));
    let x: Vec<_> = r.timeline.iter().filter(|e| e.bit == Some(16)).collect();
    assert_eq!(x.len(), 1, "{:?}", r.timeline);
    assert_eq!((x[0].letter, x[0].ts_ns), (Some('X'), Some(5_000_000_000)));
    // Without its line, the bit is first seen in the header, and says where else to look.
    let r = report(
        "[    9.000000] CPU: 0 PID: 1 Comm: systemd Tainted: G               X   -------  ---  5.14.0-427.13.1.el9_4.x86_64 #1\n",
    );
    let ne = r
        .timeline
        .iter()
        .find(|e| e.kind == EventKind::FirstSeen)
        .unwrap();
    assert_eq!(ne.bit, Some(16));
    assert!(
        ne.reason.as_deref().unwrap().contains("TECH PREVIEW"),
        "{:?}",
        ne.reason
    );
}

#[test]
fn rhel6_header_and_unsigned_u_modules() {
    let r = report(
        "\
[  100.000000] BUG: unable to handle kernel NULL pointer dereference at (null)
[  100.000100] IP: [<ffffffffa0123456>] vendor_fn+0x16/0x30 [vendor]
[  100.000200] Oops: 0002 [#1] SMP
[  100.000300] Modules linked in: vendor(P)(U) ext4 jbd2 [last unloaded: scsi_wait_scan]
[  100.000400] Pid: 2335, comm: insmod Tainted: P           ---------------- T 2.6.32-754.el6.x86_64 #1 Red Hat KVM
",
    );
    let rep = &r.crash_reports[0];
    assert_eq!((rep.pid, rep.comm.as_deref()), (Some(2335), Some("insmod")));
    let m = &rep.modules_linked_in.as_ref().unwrap().modules[0];
    assert_eq!((m.name.as_str(), m.taints.as_str()), ("vendor", "PU"));
    assert_eq!(
        r.last_unloaded_module.as_ref().unwrap().name,
        "scsi_wait_scan"
    );
    // 2.6.32: taints of the unloaded module are not kept.
    assert_eq!(r.last_unloaded_module.as_ref().unwrap().taints, None);
    // P, and the T column after the `-` run.
    let mask = r.tainted_mask.unwrap();
    assert_eq!(mask & 1, 1);
    assert_eq!(mask.count_ones(), 2, "{mask:#x}");
}
