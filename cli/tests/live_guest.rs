//! `vmtaint report --live` inside real guests (testcores/live-guest.sh): the static binary (x86-64, and
//! aarch64 cross-built for musl) ran in each kernel's busybox initramfs on its own running kernel. Its report
//! must equal the guest's own view (mask, modules and their letters, last unloaded module) and the report of
//! the dump the real-dump script made of the same scenario (same facts: mask, module letters and signatures,
//! last unloaded, timeline).
//!
//! Debian's arm64 kernel has no CONFIG_KALLSYMS_ALL: `/proc/kallsyms` has no data symbols, so without a debug
//! vmlinux the live report recovers their addresses from the code of the functions that use them, read
//! through kcore (`source.tried` kind `kernel-code`), as a dump's report does: as complete as with the debug
//! vmlinux (`live-dwarf.json`), which the arm64 guest also runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::{DebuginfoOptions, VmlinuxCache};
use serde_json::Value;
use testcores::real::{self, Kernel, Scenario};

/// The live results of one kernel and scenario, with the guest's truth beside them.
fn live_scenario(k: &Kernel, name: &'static str) -> Scenario {
    Scenario {
        name,
        dir: real::dir().join("live").join(&k.release).join(name),
        kernel: k.clone(),
    }
}

/// Kernels whose `/proc/kallsyms` has data symbols (`tainted_mask`, `modules`, `last_unloaded_module`):
/// Debian builds x86-64 with CONFIG_KALLSYMS_ALL, arm64 without (the real-dump script's ARCH_TEXT_FIX).
fn kallsyms_has_data_symbols(k: &Kernel) -> bool {
    k.arch != "aarch64"
}

/// Every kernel's live results, or the gate's loud failure.
fn live_runs(name: &'static str) -> Vec<(Scenario, Value)> {
    live_runs_of(name, "live")
}

/// `live` (`report --live --json`) or `live-dwarf` (`--vmlinux`, kernels without data symbols only).
fn live_runs_of(name: &'static str, which: &str) -> Vec<(Scenario, Value)> {
    let runs: Vec<Scenario> = real::kernels()
        .iter()
        .filter(|k| which == "live" || !kallsyms_has_data_symbols(k))
        .map(|k| live_scenario(k, name))
        .collect();
    let missing: Vec<String> = runs
        .iter()
        .filter(|s| !s.dir.join(format!("{which}.json")).exists())
        .map(|s| s.dir.display().to_string())
        .collect();
    if !real::require_input(
        missing.is_empty(),
        &format!("live guest results ({})", missing.join(", ")),
        "run `bash testcores/live-guest.sh`",
    ) {
        return Vec::new();
    }
    runs.into_iter()
        .map(|s| {
            let rc = s.truth(&format!("../{which}.rc"));
            assert_eq!(
                rc.trim(),
                "0",
                "{}: report --live exit status ({which}); stderr: {}",
                s.id(),
                s.truth(&format!("../{which}.stderr"))
            );
            let json: Value = serde_json::from_str(&s.truth(&format!("../{which}.json")))
                .unwrap_or_else(|e| panic!("{}: {which}.json: {e}", s.id()));
            (s, json)
        })
        .collect()
}

fn modules_of(r: &Value) -> BTreeMap<String, (String, Value)> {
    r["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                (
                    m["taints"].as_str().unwrap().to_string(),
                    m["signed"].clone(),
                ),
            )
        })
        .collect()
}

/// The taint-setting events of a timeline up to the crash (a live report is taken before it), in order:
/// (kind, letter, module).
fn taint_events(r: &Value) -> Vec<(String, String, String)> {
    r["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .take_while(|e| !matches!(e["kind"].as_str(), Some("sysrq" | "panic")))
        .filter(|e| matches!(e["kind"].as_str(), Some("taint" | "warn" | "first_seen")))
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("kind"), s("letter"), s("module"))
        })
        .collect()
}

/// The problems' messages of a report.
fn problems(r: &Value) -> Vec<String> {
    r["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn live_reports_equal_the_guests_truth_and_the_dump_report() {
    let cache = VmlinuxCache::default();
    let runs = live_runs("mixed");
    assert!(
        runs.iter()
            .any(|(s, _)| !kallsyms_has_data_symbols(&s.kernel)),
        "an arm64 guest is among the live runs"
    );
    for (s, live) in runs {
        if !kallsyms_has_data_symbols(&s.kernel) {
            assert_recovered_from_code(&s, &live);
        }
        check_live_mixed(&s, &live, &cache);
    }
}

/// Without data symbols in `/proc/kallsyms`, every variable the report reads was recovered from kernel code
/// through kcore, and nothing came from `/proc` or `/sys` instead (those gap fillers name themselves).
fn assert_recovered_from_code(s: &Scenario, live: &Value) {
    let id = s.id();
    assert_eq!(live["source"]["kind"], "btf", "{id}");
    let recovered: Vec<&str> = live["source"]["tried"]
        .as_array()
        .expect("source.tried")
        .iter()
        .filter(|t| t["source"] == "kernel-code")
        .filter_map(|t| t["outcome"].as_str())
        .collect();
    for var in [
        "tainted_mask",
        "taint_flags",
        "modules",
        "last_unloaded_module",
        "sig_enforce",
    ] {
        assert!(
            recovered
                .iter()
                .any(|o| o.starts_with(&format!("`{var}` at 0x")) && o.contains("recovered from")),
            "{id}: {var} not recovered from code: {recovered:#?}"
        );
    }
    let ps = problems(live);
    for gap in [
        "/proc/sys/kernel/tainted",
        "last_unloaded_module is unknown",
        ".gnu.linkonce.this_module",
    ] {
        assert!(
            !ps.iter().any(|p| p.contains(gap)),
            "{id}: a gap filled from /proc or /sys ({gap:?}): {ps:#?}"
        );
    }
}

/// With the debug vmlinux, the live report of a kernel without data symbols in kallsyms is as complete as
/// the x86-64 ones: read through DWARF, last unloaded module included.
#[test]
fn live_reports_with_the_debug_vmlinux_are_complete_on_arm64() {
    let cache = VmlinuxCache::default();
    let runs = live_runs_of("mixed", "live-dwarf");
    assert!(!runs.is_empty(), "arm64's live-dwarf run");
    for (s, live) in runs {
        assert_eq!(live["source"]["kind"], "dwarf", "{}", s.id());
        check_live_mixed(&s, &live, &cache);
    }
}

/// One mixed live report against the guest's truth and the dump's report.
fn check_live_mixed(s: &Scenario, live: &Value, cache: &VmlinuxCache) {
    let id = format!("{} ({})", s.id(), live["source"]["kind"]);
    // Read through /proc/kcore (the guest runs as root, no lockdown), not the reduced report.
    assert_eq!(live["dump"]["format"], "kcore", "{id}: {}", live["source"]);
    assert_ne!(live["source"]["kind"], "procfs", "{id}");
    assert_eq!(
        live["tainted_mask"].as_u64(),
        Some(s.tainted()),
        "{id}: mask"
    );
    assert_eq!(live["tainted_mask_source"], "memory", "{id}");
    let got = modules_of(live);
    let truth = s.modules();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>(),
        "{id}: modules"
    );
    for (name, (letters, signed)) in &got {
        assert_eq!(letters, &truth[name], "{id}: {name} letters");
        // Every module was read from memory (its sig_ok), also without the `modules` symbol.
        assert!(signed.is_boolean(), "{id}: {name} signature: {signed}");
    }
    let (gone, gone_letters) = s.last_unloaded().expect("mixed unloads oot_gone");
    assert_eq!(live["last_unloaded_module"]["name"], gone.as_str(), "{id}");
    if s.kernel.version() >= (6, 0) {
        assert_eq!(
            live["last_unloaded_module"]["taints"],
            gone_letters.as_str(),
            "{id}"
        );
    }
    // The dump the real-dump script made of the same scenario: the same facts.
    let dump = s.kernel.dir.join("mixed").join("vmcore.lzo");
    if !real::require_input(
        dump.exists(),
        &format!("{}", dump.display()),
        "run `bash testcores/make-real-cores.sh --scenario mixed`",
    ) {
        return;
    }
    let opts = DebuginfoOptions {
        vmlinux: Some(s.kernel.vmlinux()),
        ..Default::default()
    };
    let from_dump = engine::report_file(&dump, &opts, cache)
        .unwrap_or_else(|e| panic!("{id}: dump report: {e}"));
    let dumped = serde_json::to_value(&from_dump).unwrap();
    assert_eq!(live["tainted_mask"], dumped["tainted_mask"], "{id}");
    assert_eq!(live["taint_string"], dumped["taint_string"], "{id}");
    // The dump's guest also had qemu_fw_cfg loaded for QEMU's own dump: compare the modules both have.
    let dm = modules_of(&dumped);
    for (name, facts) in &got {
        if let Some(d) = dm.get(name) {
            assert_eq!(facts, d, "{id}: {name} letters and signature");
        }
    }
    assert!(
        got.contains_key("oot_prop") && dm.contains_key("oot_prop"),
        "{id}"
    );
    assert_eq!(
        live["last_unloaded_module"], dumped["last_unloaded_module"],
        "{id}"
    );
    // The dumps' scenario may load more modules than this one (the cached dumps follow the real-dump
    // script's newest scenario): compare what concerns the modules the live guest loaded.
    let ours = |name: &str| name.is_empty() || got.contains_key(name);
    let unsigned = |r: &Value| -> Vec<String> {
        r["signatures"]["unsigned_modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .filter(|n| ours(n))
            .collect()
    };
    assert_eq!(unsigned(live), unsigned(&dumped), "{id}");
    assert!(
        !unsigned(live).is_empty(),
        "{id}: the oot modules are unsigned"
    );
    let dump_events: Vec<_> = taint_events(&dumped)
        .into_iter()
        .filter(|(_, _, m)| ours(m))
        .collect();
    assert_eq!(taint_events(live), dump_events, "{id}: timeline");
    assert!(!taint_events(live).is_empty(), "{id}");
    // The in-memory ring, through kcore: the same log analyzers as for dumps.
    assert_eq!(live["kernel_log"]["source"], "printk_ringbuffer", "{id}");
}

#[test]
fn live_bit_16_alone_is_the_auxiliary_bit_with_nothing_in_the_log() {
    for (s, live) in live_runs("aux") {
        let id = s.id();
        assert_eq!(s.tainted(), 65536, "{id}: truth");
        assert_eq!(live["tainted_mask"].as_u64(), Some(65536), "{id}");
        let flags = live["flags"].as_array().unwrap();
        assert_eq!(flags.len(), 1, "{id}");
        assert_eq!(flags[0]["bit"], 16, "{id}");
        assert_eq!(flags[0]["letter"], "X", "{id}");
        let name = flags[0]["name"].as_str().unwrap().to_lowercase();
        assert!(name.contains("aux"), "{id}: {name}");
        assert!(
            live["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "no_evidence" && e["bit"] == 16),
            "{id}: {}",
            live["timeline"]
        );
    }
}

/// `info --live` in the guest: kcore is recognised as such (and the binary ran with no library present).
#[test]
fn live_info_in_the_guests_says_kcore() {
    for (s, _) in live_runs("mixed") {
        let info: Value = serde_json::from_str(&s.truth("../info.json")).unwrap();
        assert_eq!(info["format"], "kcore", "{}", s.id());
        assert_eq!(
            info["machine"].as_str(),
            Some(s.kernel.arch.as_str()),
            "{}",
            s.id()
        );
        assert_eq!(
            info["release"].as_str(),
            Some(s.release().as_str()),
            "{}",
            s.id()
        );
        let _: PathBuf = s.dir.clone();
    }
}
