//! `report --live` without kernel memory: a fake root laid out like `/` (proc, sys, dev/kmsg as a file of
//! `/dev/kmsg` records) gives the reduced report, which names what only memory holds; and this machine's own
//! running kernel, whose report must agree with its `/proc`.

use std::fs;
use std::path::{Path, PathBuf};

use analyzers::timeline::EventKind;
use engine::{live_report, DebuginfoOptions, LiveError, LiveHost};

/// A fresh directory under the temp dir.
fn fake_root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtaint-live-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

const KMSG: &str = "6,0,0,-;Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n \
SUBSYSTEM=cpu\n\
4,812,5140900,-,caller=T89;oot_prop: loading out-of-tree module taints kernel.\n\
4,813,5141000,-,caller=T89;oot_prop: module license 'Proprietary' taints kernel.\n\
5,814,5141100,-,caller=T89;Disabling lock debugging due to kernel taint\n\
4,815,5150000,-,caller=T89;oot_prop: module verification failed: signature and/or required key missing - tainting kernel\n";

fn mixed_root(name: &str) -> PathBuf {
    let r = fake_root(name);
    put(&r, "proc/sys/kernel/tainted", "12289\n"); // P O E
    put(&r, "proc/sys/kernel/osrelease", "6.1.0-56-cloud-amd64\n");
    put(
        &r,
        "proc/modules",
        "oot_prop 16384 0 - Live 0xffffffffc0350000 (POE)\nvirtio_blk 24576 2 - Live 0x0000000000000000\n",
    );
    put(&r, "sys/module/oot_prop/taint", "POE\n");
    put(
        &r,
        "sys/module/oot_prop/srcversion",
        "0123456789ABCDEF0123456\n",
    );
    put(&r, "sys/module/virtio_blk/taint", "\n");
    put(&r, "sys/module/module/parameters/sig_enforce", "N\n");
    put(
        &r,
        "sys/kernel/security/lockdown",
        "[none] integrity confidentiality\n",
    );
    put(&r, "dev/kmsg", KMSG);
    r
}

#[test]
fn without_kcore_the_reduced_report_comes_from_proc_sys_and_kmsg() {
    let root = mixed_root("mixed");
    let live = live_report(&LiveHost::at(&root), &DebuginfoOptions::default()).unwrap();
    let why = live.reduced.as_deref().expect("no proc/kcore: reduced");
    assert!(why.contains("CONFIG_PROC_KCORE"), "{why}");
    let r = &live.full.report;
    assert_eq!(r.tainted_mask, Some(12289));
    let letters: String = r.flags.iter().map(|f| f.letter).collect();
    assert_eq!(letters, "POE");
    assert_eq!(r.modules.len(), 2);
    assert_eq!(
        (
            r.modules[0].name.as_str(),
            r.modules[0].taints.as_str(),
            r.modules[0].state.as_str()
        ),
        ("oot_prop", "POE", "LIVE")
    );
    assert_eq!(r.modules[0].base, Some(0xffff_ffff_c035_0000));
    assert_eq!(
        r.modules[0].srcversion.as_deref(),
        Some("0123456789ABCDEF0123456")
    );
    assert_eq!(r.modules[1].taints, "");
    assert_eq!(
        r.modules[1].base, None,
        "a hidden address is unknown, not 0"
    );
    assert_eq!(r.signatures.sig_enforce, Some(false));
    assert_eq!(r.signatures.lockdown.as_deref(), Some("LOCKDOWN_NONE"));
    assert_eq!(r.last_unloaded_module, None);
    assert!(
        r.problems.iter().any(|p| p.analyzer == "unloaded"
            && p.message.contains("last_unloaded_module")
            && p.message.contains("/proc/kcore")),
        "{:?}",
        r.problems
    );
    let log = r.kernel_log.as_ref().expect("log from dev/kmsg");
    assert_eq!((log.records, log.dropped), (5, 0));
    // The same timeline analyzer as for dumps: each flag at its line, with the module.
    for (letter, seq) in [('O', 812), ('P', 813), ('E', 815)] {
        let e = r
            .timeline
            .iter()
            .find(|e| e.kind == EventKind::Taint && e.letter == Some(letter))
            .unwrap_or_else(|| panic!("{letter}: {:?}", r.timeline));
        assert_eq!((e.seq, e.module.as_deref()), (Some(seq), Some("oot_prop")));
    }
    let s = &live.full.source;
    assert_eq!(s.kind, "procfs");
    assert_eq!(s.tried[0].source, "kcore");
    assert_eq!(live.full.dump.format, "live-procfs");
    assert_eq!(
        live.full.dump.release.as_deref(),
        Some("6.1.0-56-cloud-amd64")
    );
    let json = serde_json::to_value(&live.full).unwrap();
    assert_eq!(json["kernel_log"]["source"], "dev_kmsg");
    fs::remove_dir_all(root).unwrap();
}

/// A certification failure on a live node with `tainted=65536`: bit 16 is the auxiliary (distribution) bit,
/// and nothing in the log explains it.
#[test]
fn bit_16_alone_is_the_auxiliary_bit_and_the_log_does_not_explain_it() {
    let root = mixed_root("aux");
    put(&root, "proc/sys/kernel/tainted", "65536\n");
    put(&root, "proc/modules", "");
    let live = live_report(&LiveHost::at(&root), &DebuginfoOptions::default()).unwrap();
    let r = &live.full.report;
    assert_eq!(r.tainted_mask, Some(65536));
    assert_eq!(r.flags.len(), 1);
    assert_eq!((r.flags[0].bit, r.flags[0].letter), (16, 'X'));
    assert!(
        r.flags[0].name.to_lowercase().contains("aux"),
        "{:?}",
        r.flags[0]
    );
    let no_evidence = r
        .timeline
        .iter()
        .find(|e| e.kind == EventKind::NoEvidence && e.bit == Some(16))
        .unwrap_or_else(|| panic!("{:?}", r.timeline));
    assert_eq!(no_evidence.letter, Some('X'));
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_kernel_it_cannot_read_at_all_is_an_error_that_says_why() {
    let root = fake_root("empty");
    fs::create_dir_all(root.join("proc")).unwrap();
    let e = live_report(&LiveHost::at(&root), &DebuginfoOptions::default()).unwrap_err();
    let LiveError::Unreadable(why) = &e else {
        panic!("{e}")
    };
    assert!(
        why.contains("proc/kcore") && why.contains("proc/sys/kernel/tainted"),
        "{why}"
    );
    put(&root, "proc/sys/kernel/tainted", "garbage\n");
    let e = live_report(&LiveHost::at(&root), &DebuginfoOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not a number"), "{e}");
    fs::remove_dir_all(root).unwrap();
}

/// This machine's running kernel: the mask equals /proc/sys/kernel/tainted and the modules /proc/modules,
/// through /proc/kcore when this kernel has one, else through the reduced report (which must say why).
#[test]
fn this_machines_kernel_agrees_with_its_own_proc() {
    let live = live_report(&LiveHost::system(), &DebuginfoOptions::default())
        .expect("the running kernel is readable (procfs mounted)");
    let truth: u64 = fs::read_to_string("/proc/sys/kernel/tainted")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(live.full.report.tainted_mask, Some(truth));
    let mut want: Vec<String> = fs::read_to_string("/proc/modules")
        .map(|t| {
            t.lines()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut got: Vec<String> = live
        .full
        .report
        .modules
        .iter()
        .map(|m| m.name.clone())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let kcore = Path::new("/proc/kcore").exists();
    match &live.reduced {
        Some(why) => {
            assert!(
                !kcore || why.contains("permission") || why.contains("lockdown"),
                "{why}"
            );
            assert_eq!(live.full.source.kind, "procfs");
        }
        None => {
            assert!(kcore);
            assert_eq!(live.full.dump.format, "kcore");
        }
    }
    assert!(
        live.full.report.kernel_log.is_some(),
        "{:?}",
        live.full.report.problems
    );
}
