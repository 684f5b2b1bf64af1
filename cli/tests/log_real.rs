//! The kernel log on the real dumps: the crash-site verdict of the `oops` and `mixed` scenarios, and the
//! report a log alone gives (`vmcore-dmesg.txt`, the guest's own `dmesg`) against the dump's report.

mod common;

use analyzers::log_report::{report_from_log, MaskBasis};
use analyzers::text_log::read_text_log;
use serde_json::Value;
use testcores::real;

fn report_json(dump: &std::path::Path) -> Value {
    let (code, out, err) = common::vmtaint(&["report", dump.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "vmtaint report {}: {err}", dump.display());
    serde_json::from_str(&out).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// An oops inside the out-of-tree module's own function: the module is at the crash site.
#[test]
fn oops_scenario_crash_site_is_the_module() {
    let sc = real::scenario("oops").expect("oops scenario");
    let r = report_json(&sc.dir.join("vmcore.lzo"));
    let c = &r["crash_site"];
    assert_eq!(s(&c["how"]), "oops");
    assert_eq!(s(&c["site"]["symbol"]), "oot_oops_poke");
    assert_eq!(c["site"]["offset"], 5);
    assert_eq!(s(&c["owner"]), "module");
    assert_eq!(s(&c["owner_module"]), "oot_oops");
    assert_eq!(s(&c["verdict"]), "at_site");
    // The guest loaded oot_gpl (OE) before; oot_oops (OE+) was loading.
    let mods: Vec<(&str, &str)> = c["tainting_modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["name"]), s(&m["relation"])))
        .collect();
    assert!(mods.contains(&("oot_oops", "at_site")), "{mods:?}");
    assert!(mods.contains(&("oot_gpl", "absent")), "{mods:?}");
    let before: Vec<&str> = c["flags_before"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["letter"]))
        .collect();
    assert_eq!(before, ["O", "E"]);
    let by = &c["flags_by_crash"][0];
    assert_eq!(
        (s(&by["letter"]), &by["pending"]),
        ("D", &Value::Bool(true))
    );
    // The guest's truth: the mask has no D (kdump ran before oops_end's add_taint).
    assert_eq!(sc.tainted() & (1 << 7), 0);
    let report = &r["crash_reports"][c["report"].as_u64().unwrap() as usize];
    assert_eq!(s(&report["comm"]), "insmod");
    assert!(report["call_trace"].as_array().unwrap().len() >= 5);

    let (code, text, _) = common::vmtaint(&["report", sc.dir.join("vmcore.lzo").to_str().unwrap()]);
    assert_eq!(code, 0);
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.starts_with("Crash in oot_oops_poke+0x5 [oot_oops] (module oot_oops; oops: BUG: kernel NULL pointer dereference"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .starts_with("Tainting module at the crash site: oot_oops(OE)"),
        "{text}"
    );
}

/// A sysrq panic with a proprietary module loaded that is nowhere on the trace.
#[test]
fn mixed_scenario_tainting_modules_are_absent() {
    let sc = real::scenario("mixed").expect("mixed scenario");
    let r = report_json(&sc.dir.join("vmcore.lzo"));
    let c = &r["crash_site"];
    assert_eq!(s(&c["how"]), "sysrq");
    assert_eq!(s(&c["site"]["symbol"]), "sysrq_handle_crash");
    assert_eq!(s(&c["site_from"]), "call_trace");
    assert_eq!(s(&c["owner"]), "kernel_proper");
    assert_eq!(s(&c["verdict"]), "absent");
    let truth = sc.modules();
    for m in c["tainting_modules"].as_array().unwrap() {
        assert_eq!(s(&m["relation"]), "absent", "{m}");
        let name = s(&m["name"]);
        // Every loaded tainting module, with the guest's own letters; oot_gone is the last unloaded one.
        match truth.get(name) {
            Some(letters) => {
                assert_eq!(s(&m["letters"]), letters, "{name}");
                assert_eq!(m["still_loaded"], true, "{name}");
            }
            None => assert_eq!(
                (name, &m["still_loaded"]),
                ("oot_gone", &Value::Bool(false))
            ),
        }
    }
    let tainting_in_truth = truth.values().filter(|l| !l.is_empty()).count();
    assert_eq!(
        c["tainting_modules"].as_array().unwrap().len(),
        tainting_in_truth + 1
    );
    let p = c["flags_before"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["letter"] == "P")
        .unwrap();
    assert_eq!(s(&p["set_by"]), "oot_prop");
    assert!(c["flags_by_crash"].as_array().unwrap().is_empty());
    let (_, text, _) = common::vmtaint(&["report", sc.dir.join("vmcore.lzo").to_str().unwrap()]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("Crash in sysrq_handle_crash+0x16 (kernel proper; sysrq crash"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("No tainting module on the call trace ("),
        "{text}"
    );
    // When oot_prop was loaded: its first taint line's second, as the timeline prints it.
    let loaded_s: u64 = lines
        .iter()
        .find(|l| l.contains("] O  oot_prop "))
        .and_then(|l| l.trim_start().strip_prefix('['))
        .and_then(|l| l.split('.').next())
        .and_then(|secs| secs.trim().parse().ok())
        .unwrap_or_else(|| panic!("no O line of oot_prop in the timeline:\n{text}"));
    let loaded = format!(
        "loaded {:02}:{:02}:{:02}, still loaded",
        loaded_s / 3600,
        loaded_s / 60 % 60,
        loaded_s % 60
    );
    assert!(
        lines.iter().any(|l| l.starts_with("P, O, E were set ")
            && l.contains(&format!(" by oot_prop ({loaded})"))),
        "{loaded}: {text}"
    );
}

/// `ts_ns` and `set_ns` in microseconds, as a text log prints them.
fn micro(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| match (k.as_str(), x.as_u64()) {
                    ("ts_ns" | "set_ns", Some(n)) => (k.clone(), Value::from(n / 1000)),
                    _ => (k.clone(), micro(x)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(micro).collect()),
        _ => v.clone(),
    }
}

/// The parts of a timeline event a log shows the same way as the dump (sequence numbers differ: a text
/// file numbers lines; times are printed in microseconds).
fn event_key(e: &Value) -> (String, Option<u64>, Value, Value, Value, Value, Value) {
    (
        s(&e["kind"]).to_string(),
        e["ts_ns"].as_u64().map(|t| t / 1000),
        e["letter"].clone(),
        e["module"].clone(),
        e["text"].clone(),
        e["pending"].clone(),
        e["new_bit"].clone(),
    )
}

/// `vmcore-dmesg.txt` alone gives the dump's mask, timeline, crash site and last unloaded module.
#[test]
fn vmcore_dmesg_alone_gives_the_dumps_mask_and_timeline() {
    for sc in real::scenarios() {
        let dump = report_json(&sc.dir.join("vmcore.lzo"));
        let path = sc.dir.join("vmcore-dmesg.txt");
        let f = std::fs::File::open(&path).unwrap();
        let t = read_text_log(std::io::BufReader::new(f), path.to_str().unwrap()).unwrap();
        let r = serde_json::to_value(report_from_log(&t)).unwrap();
        let ctx = sc.name;
        assert_eq!(r["tainted_mask"], dump["tainted_mask"], "{ctx}: mask");
        assert_eq!(
            r["tainted_mask"].as_u64(),
            Some(sc.tainted()),
            "{ctx}: guest truth"
        );
        assert_eq!(
            r["taint_string"], dump["taint_string"],
            "{ctx}: taint string"
        );
        assert_eq!(s(&r["log_only"]["mask_basis"]), "tainted_line", "{ctx}");
        // `wrapped`: the dump's report also has what kern.log beside it kept (vmcore-dmesg.txt is the ring
        // alone, whose first sight of each flag is the crash's Tainted: header: `first_seen` events the dump's
        // report does not need).
        let wrapped_first_seen = |e: &&Value| !(sc.name == "wrapped" && e["kind"] == "first_seen");
        let a: Vec<_> = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(wrapped_first_seen)
            .map(event_key)
            .collect();
        let b: Vec<_> = dump["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["from_file"].is_null())
            .map(event_key)
            .collect();
        assert_eq!(a, b, "{ctx}: timeline");
        let strip = |c: &Value| {
            let mut c = micro(c);
            if let Some(o) = c.as_object_mut() {
                // seq/report index differ, and the dump knows loaded modules the log does not.
                for k in ["seq", "report", "tainting_modules"] {
                    o.remove(k);
                }
            }
            c
        };
        // What only the dump's memory resolves (a bare address: `initfree`), a log alone leaves unknown.
        let log_view = |c: &Value| {
            let mut c = strip(c);
            if c["owner_source"] == "memory" {
                c["owner"] = "unknown".into();
                c["owner_source"] = "none".into();
                c["unowned"] = Value::Null;
                for k in ["symbol", "module", "offset", "size", "resolved_by"] {
                    c["site"][k] = Value::Null;
                }
            }
            c
        };
        let (mut a, mut b) = (strip(&r["crash_site"]), log_view(&dump["crash_site"]));
        if sc.name == "wrapped" {
            // The ring lost every taint line: the log knows no tainting module, the dump its loaded ones.
            assert_eq!(a["verdict"], "no_tainting_module", "{ctx}");
            assert_eq!(b["verdict"], "absent", "{ctx}");
            // Who set the flags: kern.log beside the dump tells the dump's report, not the ring alone.
            for k in ["verdict", "flags_before"] {
                a[k] = Value::Null;
                b[k] = Value::Null;
            }
        }
        assert_eq!(a, b, "{ctx}: crash site");
        assert_eq!(
            r["panic"]["message"], dump["panic"]["message"],
            "{ctx}: panic message"
        );
        assert!(
            r["modules"].as_array().unwrap().is_empty(),
            "{ctx}: no modules claimed"
        );
        assert!(
            r["log_only"]["unknown"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["what"] == "signatures"),
            "{ctx}"
        );
        assert_eq!(s(&r["log_only"]["release"]), sc.release(), "{ctx}: release");
    }
}

/// The guest's own `dmesg`, saved before the crash: its timeline is the dump's up to that moment, and its
/// mask is the guest's own (or says why it cannot be known).
#[test]
fn guests_own_dmesg_gives_the_timeline_up_to_then() {
    for sc in real::scenarios() {
        let dump = report_json(&sc.dir.join("vmcore.lzo"));
        let path = sc.dir.join("truth/dmesg.txt");
        let t = read_text_log(std::fs::read(&path).unwrap().as_slice(), "dmesg.txt").unwrap();
        let end_us = t.log.records.last().map(|r| r.ts_ns / 1000).unwrap_or(0);
        let r = serde_json::to_value(report_from_log(&t)).unwrap();
        let ctx = sc.name;
        let taint_or_warn = |e: &&Value| e["kind"] == "taint" || e["kind"] == "warn";
        let a: Vec<_> = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(taint_or_warn)
            .map(event_key)
            .collect();
        let b: Vec<_> = dump["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(taint_or_warn)
            .filter(|e| e["from_file"].is_null())
            .filter(|e| e["ts_ns"].as_u64().unwrap() / 1000 <= end_us)
            .map(event_key)
            .collect();
        assert_eq!(a, b, "{ctx}: timeline up to the guest's dmesg");
        match s(&r["log_only"]["mask_basis"]) {
            // No Tainted: string before the crash: the taint lines give the mask (a lower bound).
            "taint_lines_only" | "tainted_line" => {
                assert_eq!(
                    r["tainted_mask"].as_u64(),
                    Some(sc.tainted()),
                    "{ctx}: guest truth"
                )
            }
            "none" => {
                // `wrapped` saved its dmesg after the ring had lost every taint line.
                assert!(
                    sc.tainted() == 0 || sc.name == "wrapped",
                    "{ctx}: an untainted guest prints no taint line"
                );
                assert_eq!(
                    r["tainted_mask"],
                    Value::Null,
                    "{ctx}: unknown, not guessed"
                );
            }
            other => panic!("{ctx}: {other}"),
        }
    }
    let _ = MaskBasis::None;
}

/// The report of one real dump, with every kernel's debug vmlinux findable by build-id.
fn report_of(sc: &real::Scenario, file: &str) -> Value {
    common::report_json(&sc.dir.join(file), &[])
}

/// Each kernel's `NAME` scenario (every kernel of the script's table must have it).
fn on_every_kernel(name: &'static str, check: impl Fn(&real::Scenario)) {
    real::check_each(
        real::kernels(),
        |k| format!("{}/{name}", k.release),
        |k| {
            let sc = k
                .scenario(name)
                .unwrap_or_else(|| panic!("no {name} scenario"));
            check(&sc)
        },
    );
}

fn relations(c: &Value) -> std::collections::BTreeMap<String, String> {
    c["tainting_modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["name"]).to_string(), s(&m["relation"]).to_string()))
        .collect()
}

/// `coreoops`: kstrtoint(NULL) called by oot_core's own function. The site is the kernel proper (kstrtoll,
/// or kstrtoint where the compiler inlined it), the module is on the reliable call trace, oot_gpl (loaded
/// before, tainting) is absent; on every kernel and both arches.
#[test]
fn coreoops_module_is_on_the_trace_not_at_the_site() {
    on_every_kernel("coreoops", |sc| {
        let r = report_of(sc, "vmcore.lzo");
        let c = &r["crash_site"];
        assert_eq!(s(&c["how"]), "oops");
        assert_eq!(s(&c["site_from"]), "registers");
        let sym = s(&c["site"]["symbol"]);
        assert!(
            sym == "kstrtoll" || sym == "kstrtoint",
            "site {sym}: the kernel function oot_core called"
        );
        assert_eq!(c["site"]["module"], Value::Null);
        assert_eq!(s(&c["owner"]), "kernel_proper");
        assert_eq!(s(&c["owner_source"]), "log");
        assert_eq!(s(&c["verdict"]), "on_call_trace");
        let rel = relations(c);
        assert_eq!(rel["oot_core"], "on_call_trace", "{rel:?}");
        assert_eq!(rel["oot_gpl"], "absent", "{rel:?}");
        assert_eq!(rel.len(), 2, "{rel:?}");
        // The trace the kernel printed: oot_core_parse, a reliable frame of module oot_core.
        let report = &r["crash_reports"][c["report"].as_u64().unwrap() as usize];
        assert!(
            report["call_trace"].as_array().unwrap().iter().any(|f| {
                f["symbol"] == "oot_core_parse"
                    && f["module"] == "oot_core"
                    && f["reliable"] == true
            }),
            "{}",
            report["call_trace"]
        );
        // The guest saw O E before the crash; D is the oops's own, pending (kdump ran first).
        assert_eq!(sc.tainted(), 0x3000);
        let before: Vec<&str> = c["flags_before"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| s(&f["letter"]))
            .collect();
        assert_eq!(before, ["O", "E"]);
        assert_eq!(c["flags_by_crash"][0]["letter"], "D");
        assert_eq!(c["flags_by_crash"][0]["pending"], true);
    });
    let sc = real::scenario("coreoops").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .args(["report", sc.dir.join("vmcore.lzo").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("Crash in kstrtoll+0x") && lines[1].contains("(kernel proper; oops: "),
        "{text}"
    );
    assert_eq!(
        lines[2],
        "Tainting module on the call trace (not at the site): oot_core(OE)"
    );
}

/// The address the guest's oot_initfree printed for its `__init` function (`truth/dmesg.txt`).
fn initfree_address(sc: &real::Scenario) -> u64 {
    let dmesg = sc.truth("dmesg.txt");
    let hex = dmesg
        .lines()
        .find_map(|l| {
            l.split_once("oot_initfree: loaded; init function at ")
                .map(|p| p.1)
        })
        .unwrap_or_else(|| panic!("{}: no init function address in truth/dmesg.txt", sc.id()));
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

/// `initfree`: a delayed work calls oot_initfree's `__init` function after the kernel freed it. The crash
/// address is the freed function's (7.x: one past it, the int3 the kernel filled freed module text with),
/// in the module area and in no loaded module: said so, with the nearest loaded modules (names the guest
/// had loaded) and oot_gone, the last unloaded. oot_initfree is on the call trace: its work function ran
/// (the kworker's `Workqueue:` line; arm64's `lr`).
#[test]
fn initfree_address_is_in_no_loaded_module() {
    on_every_kernel("initfree", |sc| {
        let r = report_of(sc, "vmcore.lzo");
        let c = &r["crash_site"];
        let want = initfree_address(sc);
        assert_eq!(s(&c["how"]), "oops");
        assert_eq!(s(&c["owner"]), "no_loaded_module");
        assert_eq!(s(&c["owner_source"]), "memory");
        let u = &c["unowned"];
        let addr = u64::from_str_radix(s(&u["address"]).trim_start_matches("0x"), 16).unwrap();
        assert!(
            (want..want + 0x10).contains(&addr),
            "crash at {addr:#x}, the freed function was at {want:#x}"
        );
        assert_eq!(s(&u["last_unloaded"]), "oot_gone");
        let loaded = sc.modules();
        let mut near = 0;
        for k in ["nearest_below", "nearest_above"] {
            if let Some(n) = u[k].as_array() {
                near += 1;
                let name = s(&n[0]);
                assert!(loaded.contains_key(name), "{k} {name}: not a loaded module");
                assert!(n[1].as_u64().unwrap() > 0, "{k}: {n:?}");
            }
        }
        assert!(near > 0, "no nearest module named: {u}");
        assert_eq!(relations(c)["oot_initfree"], "on_call_trace");
        assert_eq!(s(&c["verdict"]), "on_call_trace");
        assert_eq!(sc.last_unloaded(), Some(("oot_gone".into(), "POE".into())));
    });
    let sc = real::scenario("initfree").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .args(["report", sc.dir.join("vmcore.lzo").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with(&format!(
            "Crash at {:#x} in no loaded module: a freed __init section or an unloaded module's memory; ",
            initfree_address(&sc)
        )) && line.contains("last unloaded: oot_gone"),
        "{text}"
    );
}

/// `loadfail`: every load the guest tried and saw fail (`truth/load_attempts.txt`: command, exit status,
/// insmod's message) is one `load_failures` entry, in order, with the module, the reason and the detail the
/// kernel printed; O and E, which the failed loads set, are said to come from a module that never loaded.
#[test]
fn loadfail_failures_match_the_guests_attempts() {
    on_every_kernel("loadfail", |sc| {
        let r = report_of(sc, "vmcore.lzo");
        let attempts = sc.load_attempts();
        assert_eq!(attempts.len(), 5, "{attempts:?}");
        let got = r["load_failures"].as_array().unwrap();
        assert_eq!(got.len(), attempts.len(), "{got:#?}");
        for (a, f) in attempts.iter().zip(got) {
            assert_ne!(a.status, 0, "{a:?}");
            let module = a
                .command
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.rsplit('/').next())
                .and_then(|f| f.strip_suffix(".ko"))
                .unwrap();
            let param = a.command.split_whitespace().nth(2);
            let (reason, detail) = match (module, param) {
                ("oot_needsym", None) => ("unknown_symbol", "oot_export_hello".to_string()),
                ("oot_params", Some(p)) => {
                    let (k, v) = p.split_once('=').unwrap();
                    let kind = if k == "p_str" { "too large" } else { "invalid" };
                    ("bad_parameter", format!("{k}='{v}' {kind}"))
                }
                ("oot_gpl", None) => ("signature_rejected", "unsigned module".into()),
                ("oot_signed", None) => (
                    "signature_rejected",
                    "module with unavailable key".to_string(),
                ),
                other => panic!("unexpected attempt {other:?}"),
            };
            let ctx = format!("{}: {f}", a.command);
            assert_eq!(f["module"], module, "{ctx}");
            assert_eq!(f["reason"], reason, "{ctx}");
            assert_eq!(f["detail"], detail.as_str(), "{ctx}");
            // Paired with what insmod said (the guest wrote it to the kernel log).
            assert_eq!(f["userspace_line"], a.message.as_str(), "{ctx}");
            // busybox insmod tries finit_module, then init_module: the kernel refused each twice.
            assert!(f["repeats"].as_u64().unwrap() <= 1, "{ctx}");
        }
        // The signature refusals need sig_enforce, switched on at runtime in the guest.
        assert_eq!(sc.truth("sig_enforce").trim(), "Y");
        assert_eq!(r["signatures"]["sig_enforce"], true);
        // Nothing loaded, yet O and E: the first failed load set them.
        assert_eq!(sc.tainted(), 0x3000);
        assert_eq!(r["tainted_mask"], 0x3000);
        let c = &r["crash_site"];
        let m = &c["tainting_modules"][0];
        assert_eq!(
            (s(&m["name"]), s(&m["relation"]), &m["still_loaded"]),
            ("oot_needsym", "absent", &Value::Bool(false))
        );
        assert_eq!(m["failed_load"], "unknown_symbol");
        assert_eq!(c["tainting_modules"].as_array().unwrap().len(), 1);
    });
}

/// The lines of a text log `[ sec.usec] text` that set a taint flag (or WARN), with their microsecond.
fn taint_lines_of(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .filter_map(|l| {
            let (stamp, rest) = l.strip_prefix('[')?.split_once("] ")?;
            let (sec, usec) = stamp.trim().split_once('.')?;
            let t = sec.parse::<u64>().ok()? * 1_000_000 + usec.parse::<u64>().ok()?;
            (rest.contains("taints kernel") || rest.contains("tainting kernel"))
                .then(|| (t, rest.to_string()))
        })
        .collect()
}

/// `wrapped`: the guest flooded the printk ring after loading oot_prop (P O E) and oot_warn (W), so the
/// dump's ring lost those lines; `kern.log` beside the dump (the guest's continuous copy) has them. The
/// report takes them from there, marked as from that file, and every flag is explained again; without the
/// file, the same dump leaves W unexplained and no event from a file.
#[test]
fn wrapped_ring_is_filled_from_kern_log() {
    on_every_kernel("wrapped", |sc| {
        let ring = std::fs::read_to_string(sc.dir.join("vmcore-dmesg.txt")).unwrap();
        assert!(
            !ring.contains("oot_prop"),
            "the ring still has oot_prop's lines: not wrapped"
        );
        let kern_log = std::fs::read_to_string(sc.kern_log()).unwrap();
        let want = taint_lines_of(&kern_log);
        assert!(want.len() >= 3, "kern.log's taint lines: {want:?}");

        let r = report_of(sc, "vmcore.lzo");
        let k = &r["kernel_log"];
        assert!(k["dropped"].as_u64().unwrap() > 0, "{k}");
        let o = &k["older_lines"];
        assert_eq!(o["outcome"], "filled", "{o}");
        assert!(s(&o["file"]).ends_with("wrapped/kern.log"), "{o}");
        assert!(o["overlap"].as_u64().unwrap() > 0, "{o}");
        let from_file: Vec<&Value> = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["from_file"].is_null())
            .collect();
        // Every taint line of kern.log is an event from the file, at its microsecond, with its text.
        for (us, text) in &want {
            assert!(
                from_file.iter().any(|e| e["kind"] == "taint"
                    && e["ts_ns"].as_u64().unwrap() / 1000 == *us
                    && e["text"] == text.as_str()
                    && e["from_file"] == o["file"]),
                "[{us}] {text}: not an event from kern.log: {from_file:?}"
            );
        }
        // oot_warn's WARNING too (W), and nothing from the file is newer than the ring's oldest line.
        let w = from_file
            .iter()
            .find(|e| e["kind"] == "warn")
            .expect("the WARN event from kern.log");
        assert_eq!(
            (w["letter"].as_str(), w["module"].as_str()),
            (Some("W"), Some("oot_warn"))
        );
        assert_eq!(
            from_file.len(),
            want.len() + 1,
            "only kern.log's taint lines and the WARN: {from_file:?}"
        );
        assert_eq!(r["unexplained_flags"], Value::Array(vec![]));
        assert_eq!(r["tainted_mask"].as_u64(), Some(sc.tainted()));
        let p = r["crash_site"]["flags_before"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["letter"] == "P")
            .unwrap()
            .clone();
        assert_eq!(p["set_by"], "oot_prop");

        // The same dump alone in a directory: no file to fill from.
        let tmp = std::env::temp_dir().join(format!(
            "vmtaint-wrapped-{}-{}",
            std::process::id(),
            sc.kernel.release
        ));
        std::fs::create_dir_all(&tmp).unwrap();
        let alone = tmp.join("vmcore.lzo");
        let _ = std::fs::remove_file(&alone);
        std::os::unix::fs::symlink(sc.dir.join("vmcore.lzo"), &alone).unwrap();
        let bare = common::report_json(&alone, &[]);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(bare["kernel_log"]["older_lines"], Value::Null);
        assert!(bare["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["from_file"].is_null()));
        // Without it, the ring's first sight of W is the crash's own Tainted: header (no culprit); with it,
        // oot_warn's WARNING.
        let first_w = |r: &Value| -> (String, Value) {
            let e = r["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["letter"] == "W")
                .unwrap_or_else(|| panic!("no W event: {}", r["timeline"]))
                .clone();
            (s(&e["kind"]).to_string(), e["module"].clone())
        };
        assert_eq!(first_w(&bare), ("first_seen".to_string(), Value::Null));
        assert_eq!(first_w(&r), ("warn".to_string(), Value::from("oot_warn")));
    });
}

/// A reader that hands out a few bytes at a time (1 to 13), as a pipe may.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.n = self.n % 13 + 1;
        let k = self.n.min(out.len()).min(self.data.len());
        out[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

/// The report of one log, checked to be the same however the log is read: whole from memory, a few bytes at
/// a time through a small buffer, and by `vmtaint report` from `path`; and the same as each analyzer gives
/// alone (the report classifies the lines once for all of them).
fn check_log_read_ways(path: &std::path::Path, bytes: &[u8]) {
    let ctx = path.display().to_string();
    let whole = read_text_log(bytes, &ctx).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let trickled = read_text_log(
        std::io::BufReader::with_capacity(7, Trickle { data: bytes, n: 0 }),
        &ctx,
    )
    .unwrap();
    assert_eq!(whole, trickled, "{ctx}: read whole / a few bytes at a time");
    let report = report_from_log(&whole);
    let r = serde_json::to_value(&report).unwrap();
    assert_eq!(
        r,
        serde_json::to_value(report_from_log(&trickled)).unwrap(),
        "{ctx}"
    );

    let (_, out, err) = common::vmtaint(&["report", path.to_str().unwrap(), "--json"]);
    let cli: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{ctx}: {e}: {err}"));
    for (key, value) in r.as_object().unwrap() {
        assert_eq!(&cli[key], value, "{ctx}: `vmtaint report` {key}");
    }

    assert_eq!(
        serde_json::to_value(analyzers::crash_report::parse_reports(&whole.log)).unwrap(),
        r["crash_reports"],
        "{ctx}: crash reports"
    );
    let table = analyzers::taint::builtin_table_for_release(
        report.log_only.as_ref().unwrap().release.as_deref(),
    );
    let snapshot =
        analyzers::timeline::TaintSnapshot::with_table(report.tainted_mask.unwrap_or(0), &table);
    assert_eq!(
        analyzers::timeline::build(&whole.log, &snapshot).events,
        report.timeline,
        "{ctx}: timeline"
    );
    let panic = analyzers::panic::from_log(None, Some(&whole.log));
    assert_eq!(
        serde_json::to_value(Some(panic).filter(|p| p.message.is_some() || p.pid.is_some()))
            .unwrap(),
        r["panic"],
        "{ctx}: panic"
    );
}

/// Every real dump's `vmcore-dmesg.txt` and serial console log, and all of them joined into one file (a log
/// archive: many boots, times going backwards, reports close together): the log-only report does not
/// depend on how the log is read.
#[test]
fn log_reports_do_not_depend_on_how_the_log_is_read() {
    let mut joined = Vec::new();
    let mut n = 0;
    for sc in real::all_scenarios() {
        for file in ["vmcore-dmesg.txt", "serial.log"] {
            let path = sc.dir.join(file);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            check_log_read_ways(&path, &bytes);
            joined.extend_from_slice(&bytes);
            n += 1;
        }
    }
    assert!(n >= 10, "{n} logs");
    let path = std::env::temp_dir().join(format!("vmtaint-joined-{}.log", std::process::id()));
    std::fs::write(&path, &joined).unwrap();
    let result = std::panic::catch_unwind(|| check_log_read_ways(&path, &joined));
    std::fs::remove_file(&path).unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
