//! `vmtaint report` on every real dump (testcores/make-real-cores.sh), checked against three independent
//! views: the guest's own (`truth/`: /proc/sys/kernel/tainted, /proc/modules, /sys/module/*/taint, dmesg,
//! saved before the crash), the dump's own log as makedumpfile extracts it (`vmcore-dmesg.txt`), and the
//! crash utility run on the same dump.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use testcores::real::{self, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_vmtaint");
const TAINT_DIE: u64 = 1 << 7;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        // <dir>/<release>/vmlinux: each kernel's debug vmlinux, found by build-id.
        .env("VMTAINT_DEBUGINFO_PATH", real::dir())
        .stdin(Stdio::null())
        .output()
        .expect("run vmtaint")
}

fn report_json(dump: &Path) -> Value {
    let (code, r) = report_json_with_status(dump);
    assert_eq!(code, 0, "vmtaint report {} --json", dump.display());
    r
}

/// The report and the exit status, which must say whether there is a verdict: 0 when `tainted_mask` was
/// read, 3 when a report was made without one (the reason on stderr).
fn report_json_with_status(dump: &Path) -> (i32, Value) {
    let out = run(&["report", dump.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: the JSON does not parse: {e}; {stderr}", dump.display()));
    let code = out.status.code().unwrap_or(-1);
    match code {
        0 => assert!(
            r["tainted_mask"].is_u64(),
            "{}: exit 0 without a mask",
            dump.display()
        ),
        3 => {
            assert!(
                r["tainted_mask"].is_null(),
                "{}: exit 3 with a mask",
                dump.display()
            );
            assert!(
                stderr.contains("no taint verdict"),
                "{}: {stderr}",
                dump.display()
            );
        }
        other => panic!(
            "vmtaint report {} --json: exit {other}: {stderr}",
            dump.display()
        ),
    }
    (code, r)
}

/// Every scenario's lzo report, of every kernel line, made once for all the tests of this file; keyed by
/// `<release>/<scenario>`.
fn lzo_reports() -> &'static BTreeMap<String, (Scenario, Value)> {
    static R: OnceLock<BTreeMap<String, (Scenario, Value)>> = OnceLock::new();
    R.get_or_init(|| {
        // x86-64 kernels; the arm64 dumps have their own expectations in report_real_arm64.rs.
        let all: Vec<Scenario> = real::scenarios_of("x86_64");
        assert_eq!(
            all.len(),
            real::SCENARIOS.len() * x86_64_kernels(),
            "every scenario of every x86-64 kernel is present"
        );
        all.into_iter()
            .map(|s| {
                let r = report_json(&s.dir.join("vmcore.lzo"));
                (s.id(), (s, r))
            })
            .collect()
    })
}

/// One scenario of every kernel, with its lzo report.
fn each_kernels(scenario: &str) -> Vec<&'static (Scenario, Value)> {
    let v: Vec<_> = lzo_reports()
        .values()
        .filter(|(s, _)| s.name == scenario)
        .collect();
    assert_eq!(
        v.len(),
        x86_64_kernels(),
        "{scenario} of every x86-64 kernel"
    );
    v
}

fn x86_64_kernels() -> usize {
    real::kernels_of("x86_64").len()
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Addresses are hex strings in the JSON.
fn hex(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    u64::from_str_radix(s.strip_prefix("0x").expect("0x prefix"), 16).expect("hex")
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn modules_of(r: &Value) -> BTreeMap<String, &Value> {
    r["modules"]
        .as_array()
        .expect("modules is an array")
        .iter()
        .map(|m| (s(&m["name"]).to_string(), m))
        .collect()
}

/// One row of /proc/modules: `name size refcnt deps state address [(taints)]`.
struct ProcModule {
    size: u64,
    state: String,
    address: u64,
}

fn proc_modules(sc: &Scenario) -> BTreeMap<String, ProcModule> {
    sc.truth("modules")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 6, "odd /proc/modules line {l:?}");
            let address = f[5].strip_prefix("0x").expect("hex address");
            (
                f[0].to_string(),
                ProcModule {
                    size: f[1].parse().expect("size"),
                    state: f[4].to_uppercase(),
                    address: u64::from_str_radix(address, 16).expect("address"),
                },
            )
        })
        .collect()
}

/// `/sys/module/*/taint` of the loadable modules (`-` = none).
fn module_taints_txt(sc: &Scenario) -> BTreeMap<String, String> {
    sc.truth("module_taints.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| {
            (
                n.to_string(),
                if t == "-" {
                    String::new()
                } else {
                    t.to_string()
                },
            )
        })
        .collect()
}

/// A line of a kernel log file: `[    4.403728] text` -> (microseconds since boot, text). The caller id
/// newer makedumpfiles print after the time (`[    4.403728] [    T114] text`) is not part of the text.
fn log_line(l: &str) -> Option<(u64, &str)> {
    let rest = l.strip_prefix('[')?;
    let (stamp, text) = rest.split_once(']')?;
    let (sec, usec) = stamp.trim().split_once('.')?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.split_once("] "))
        .filter(|(id, _)| {
            let id = id.trim_start();
            id.len() > 1
                && id.starts_with(['T', 'C'])
                && id[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .map_or(text, |(_, t)| t);
    Some((
        sec.parse::<u64>().ok()? * 1_000_000 + usec.parse::<u64>().ok()?,
        text,
    ))
}

fn dump_log(sc: &Scenario) -> Vec<(u64, String)> {
    let p = sc.dir.join("vmcore-dmesg.txt");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter_map(|l| log_line(l).map(|(t, x)| (t, x.to_string())))
        .collect()
}

/// The scenarios that crash by an oops (D pending), not by sysrq c.
const OOPS_SCENARIOS: [&str; 3] = ["oops", "coreoops", "initfree"];

fn sets_taint(text: &str) -> bool {
    text.contains("taints kernel")
        || text.contains("tainting kernel")
        || text.contains("module verification failed")
}

/// (1) The report against the guest's own view before the crash.
#[test]
fn report_matches_the_guests_own_view() {
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, r))| {
            let ctx = format!("{name}/vmcore.lzo");
            assert_eq!(r["problems"], Value::Array(vec![]), "{ctx}: problems");
            let mask = u(&r["tainted_mask"]);
            assert_eq!(
                mask,
                sc.tainted(),
                "{ctx}: tainted_mask vs /proc/sys/kernel/tainted"
            );
            let letters: String = r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| s(&f["letter"]))
                .collect();
            assert_eq!(
                letters.len(),
                mask.count_ones() as usize,
                "{ctx}: one flag per bit of the mask"
            );
            if sc.name == "oops" {
                // kdump ran inside the oops, before add_taint(TAINT_DIE): the guest's view and the dump agree.
                assert_eq!(mask & TAINT_DIE, 0, "{ctx}: D is not in the mask yet");
            }

            let got = modules_of(r);
            let procm = proc_modules(sc);
            let truth_taints = sc.modules();
            let sysfs = module_taints_txt(sc);
            let mut want: BTreeSet<String> = procm.keys().cloned().collect();
            if let Some(coming) = sc.module_coming_at_crash() {
                // The guest saved its view before `insmod`; the oops hit inside its init (coreoops: in the
                // kernel function its init called).
                want.insert(coming.into());
                let m = got[coming];
                assert_eq!(s(&m["state"]), "COMING", "{ctx}: {coming} is still loading");
                assert_eq!(
                    s(&m["taints"]),
                    "OE",
                    "{ctx}: {coming} is GPL, out of tree, unsigned"
                );
                assert_eq!(m["signed"], false, "{ctx}: {coming} signed");
            }
            assert_eq!(
                got.keys().cloned().collect::<BTreeSet<_>>(),
                want,
                "{ctx}: module set vs /proc/modules"
            );
            for (mname, pm) in &procm {
                let m = got[mname];
                let c = format!("{ctx}: module {mname}");
                assert_eq!(
                    s(&m["taints"]),
                    truth_taints[mname],
                    "{c}: taints vs /proc/modules"
                );
                assert_eq!(
                    s(&m["taints"]),
                    sysfs.get(mname).map(String::as_str).unwrap_or(""),
                    "{c}: taints vs /sys/module/{mname}/taint"
                );
                assert_eq!(hex(&m["base"]), pm.address, "{c}: base vs /proc/modules");
                assert_eq!(u(&m["size"]), pm.size, "{c}: size vs /proc/modules");
                assert_eq!(s(&m["state"]), pm.state, "{c}: state vs /proc/modules");
                // The kernel sets E on a module exactly when its signature did not verify (sig_ok false): that
                // is the kernel's own view of `signed`. Ours are unsigned; Debian's are signed.
                let oot = mname.starts_with("oot_");
                assert_eq!(m["signed"], !oot, "{c}: signed");
                assert_eq!(
                    truth_taints[mname].contains('E'),
                    oot,
                    "{c}: the guest itself marks exactly the unsigned modules E"
                );
            }
            // The kernel logs "module verification failed" for the first unsigned module only.
            // (`wrapped`: the guest's dmesg was read after the ring wrapped; its kern.log kept the lines.)
            let dmesg = if sc.name == "wrapped" {
                std::fs::read_to_string(sc.kern_log()).expect("kern.log")
            } else {
                sc.truth("dmesg.txt")
            };
            let first_unsigned = dmesg
                .lines()
                .filter_map(log_line)
                .find_map(|(_, t)| t.split_once(": module verification failed").map(|p| p.0));
            match first_unsigned {
                Some(m) => {
                    let failed_load = r["load_failures"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f["module"] == m);
                    if let Some(rm) = got.get(m) {
                        assert_eq!(rm["signed"], false, "{ctx}: {m} failed verification");
                    } else if failed_load {
                        // loadfail: verified (and tainted) while loading, then the load failed.
                        assert_eq!(sc.name, "loadfail", "{ctx}: {m} never loaded");
                    } else {
                        // Unloaded since: only the last-unloaded record can remember it.
                        assert_eq!(s(&r["last_unloaded_module"]["name"]), m, "{ctx}");
                    }
                    assert!(
                        mask & (1 << 13) != 0,
                        "{ctx}: E set after a failed verification"
                    );
                }
                None => assert_eq!(mask & (1 << 13), 0, "{ctx}: no failed verification, no E"),
            }
            let unsigned: BTreeSet<&str> = r["signatures"]["unsigned_modules"]
                .as_array()
                .unwrap()
                .iter()
                .map(s)
                .collect();
            let want_unsigned: BTreeSet<&str> = got
                .keys()
                .filter(|n| n.starts_with("oot_"))
                .map(String::as_str)
                .collect();
            assert_eq!(
                unsigned, want_unsigned,
                "{ctx}: signatures.unsigned_modules"
            );
            assert_eq!(
                r["signatures"]["sig_enforce"]
                    .as_bool()
                    .map(|b| if b { "Y" } else { "N" }),
                Some(sc.truth("sig_enforce").trim()),
                "{ctx}: sig_enforce vs /sys/module/module/parameters/sig_enforce"
            );
            assert_eq!(s(&r["dump"]["release"]), sc.release(), "{ctx}: release");
        },
    );
}

/// Every other format of a scenario gives the lzo report, apart from the dump's path and format.
#[test]
fn every_format_gives_the_same_report() {
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, lzo))| {
            let strip = |mut v: Value| {
                let d = v["dump"].as_object_mut().expect("dump is an object");
                d.remove("path").expect("dump.path");
                d.remove("format").expect("dump.format");
                v
            };
            let want = strip(lzo.clone());
            // zstd: written on the host (x86-64) by Debian sid's makedumpfile. (No real snappy dump: every
            // Debian makedumpfile is built without snappy; snappy is proven on synthetic dumps.)
            let codecs: Vec<String> = sc
                .host_codec_dumps()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                codecs,
                ["vmcore.zstd"],
                "{name}: x86-64 dumps come in zstd too"
            );
            for (file, format) in [
                ("vmcore.zlib", "kdump"),
                ("vmcore.flat", "kdump-flattened"),
                ("vmcore.elf", "elf"),
                ("vmcore.zstd", "kdump"),
            ] {
                let r = report_json(&sc.dir.join(file));
                assert_eq!(s(&r["dump"]["format"]), format, "{name}/{file}: format");
                assert!(
                    s(&r["dump"]["path"]).ends_with(&format!("{name}/{file}")),
                    "{name}/{file}: path {}",
                    r["dump"]["path"]
                );
                assert_eq!(
                    strip(r),
                    want,
                    "{name}/{file} differs from {name}/vmcore.lzo"
                );
            }
            assert_eq!(s(&lzo["dump"]["format"]), "kdump", "{name}/vmcore.lzo");
        },
    );
}

/// What crash 8 says about a dump.
#[derive(Debug)]
struct CrashView {
    mask: u64,
    letters: String,
    /// `mod -t`: tainted modules only.
    tainted_modules: BTreeMap<String, String>,
    last_unloaded_name: String,
    /// `None` where `last_unloaded_module` is a bare `char[]` (5.x: the kernel keeps no taints).
    last_unloaded_taints: Option<String>,
}

/// `name = "oot_gone\000\000..."` -> `oot_gone`; `None` when crash printed no such field.
fn gdb_string(text: &str, field: &str) -> Option<String> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{field} = \"")))?;
    let body = line.split('"').next().unwrap_or("");
    Some(body.split("\\000").next().unwrap_or("").to_string())
}

fn parse_crash(text: &str) -> CrashView {
    let tm = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("TAINTED_MASK:"))
        .unwrap_or_else(|| panic!("crash printed no TAINTED_MASK:\n{text}"));
    let mut f = tm.split_whitespace();
    let mask = u64::from_str_radix(f.next().expect("mask"), 16).expect("hex mask");
    let letters = f.next().unwrap_or("").to_string();
    let mut tainted_modules = BTreeMap::new();
    if !text.contains("no tainted modules") {
        let rows = text
            .lines()
            .skip_while(|l| !l.starts_with("NAME") || !l.contains("TAINTS"))
            .skip(1)
            .take_while(|l| !l.starts_with("last_unloaded_module"));
        for l in rows {
            let mut f = l.split_whitespace();
            if let (Some(n), Some(t), None) = (f.next(), f.next(), f.next()) {
                tainted_modules.insert(n.to_string(), t.to_string());
            }
        }
        assert!(!tainted_modules.is_empty(), "no `mod -t` rows in:\n{text}");
    }
    // `p last_unloaded_module`: a struct `{name = "...", taints = "..."}` (6.0+) or `$1 = "..."` (char[]).
    let (last_unloaded_name, last_unloaded_taints) = match gdb_string(text, "name") {
        Some(name) => (
            name,
            Some(gdb_string(text, "taints").unwrap_or_else(|| panic!("no taints in:\n{text}"))),
        ),
        None => (
            gdb_string(text, "last_unloaded_module = $1")
                .unwrap_or_else(|| panic!("crash printed no last_unloaded_module:\n{text}")),
            None,
        ),
    };
    CrashView {
        mask,
        letters,
        tainted_modules,
        last_unloaded_name,
        last_unloaded_taints,
    }
}

/// (2) The report against crash 8.0.2 on the same dump (`sys -t`, `mod -t`, `p last_unloaded_module`), on
/// every kernel whose dumps crash reads; the script ran crash on the lzo and ELF dumps (`oracle/crash-*.txt`).
#[test]
fn report_agrees_with_crash() {
    let mut with_crash = BTreeSet::new();
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, lzo))| {
            for file in ["vmcore.lzo", "vmcore.elf"] {
                let dump = sc.dir.join(file);
                let oracle = sc
                    .dir
                    .join("oracle")
                    .join(format!("crash-{}.txt", file.trim_start_matches("vmcore.")));
                let Ok(text) = std::fs::read_to_string(&oracle) else {
                    assert!(
                        !sc.manifest().contains("\"crash\""),
                        "{name}: the manifest names crash, but {} is missing",
                        oracle.display()
                    );
                    continue;
                };
                let r = if file == "vmcore.lzo" {
                    lzo.clone()
                } else {
                    report_json(&dump)
                };
                let c = parse_crash(&text);
                let ctx = format!("{name}/{file} vs crash");
                assert_eq!(u(&r["tainted_mask"]), c.mask, "{ctx}: mask\n{text}");
                let letters: String = r["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| s(&f["letter"]))
                    .collect();
                assert_eq!(letters, c.letters, "{ctx}: letters");
                let ours: BTreeMap<String, String> = modules_of(&r)
                    .into_iter()
                    .filter(|(_, m)| !s(&m["taints"]).is_empty())
                    .map(|(n, m)| (n, s(&m["taints"]).to_string()))
                    .collect();
                assert_eq!(ours, c.tainted_modules, "{ctx}: tainted modules");
                match &r["last_unloaded_module"] {
                    Value::Null => {
                        assert_eq!(c.last_unloaded_name, "", "{ctx}: last_unloaded_module");
                        assert!(
                            c.last_unloaded_taints.as_deref().unwrap_or("").is_empty(),
                            "{ctx}: last_unloaded_module"
                        );
                    }
                    l => {
                        assert_eq!(
                            s(&l["name"]),
                            c.last_unloaded_name,
                            "{ctx}: last unloaded name"
                        );
                        assert_eq!(
                            l["taints_raw"].as_str(),
                            c.last_unloaded_taints.as_deref(),
                            "{ctx}: last unloaded taints"
                        );
                    }
                }
                if sc.name == "mixed" {
                    // Not vacuous: crash saw tainted modules and an unloaded one.
                    assert_eq!(
                        c.tainted_modules.get("oot_prop").map(String::as_str),
                        Some("POE"),
                        "{ctx}"
                    );
                    assert_eq!(c.last_unloaded_name, "oot_gone", "{ctx}");
                    if let Some(t) = &c.last_unloaded_taints {
                        assert_eq!(t, "(POE)", "{ctx}");
                    }
                }
            }
        },
    );
    for (sc, _) in lzo_reports().values() {
        if sc.dir.join("oracle/crash-lzo.txt").exists() {
            with_crash.insert(sc.kernel.release.clone());
        }
    }
    assert!(
        with_crash.contains(real::DEFAULT_RELEASE),
        "crash read the default kernel's dumps: {with_crash:?}"
    );
}

/// (2b) The report against drgn 0.3.0 on every dump of every kernel (`oracle/drgn-*.json`, stored by the
/// script): the mask, each module's taints and signature, the last unloaded module.
#[test]
fn report_agrees_with_drgn() {
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, lzo))| {
            for dump in sc.dumps() {
                let file = dump.file_name().unwrap().to_string_lossy().into_owned();
                let ctx = format!("{name}/{file} vs drgn");
                let r = if file == "vmcore.lzo" {
                    lzo.clone()
                } else {
                    report_json(&dump)
                };
                let d = sc.drgn(&dump);
                assert_eq!(d.release, sc.release(), "{ctx}: drgn read the right kernel");
                assert_eq!(u(&r["tainted_mask"]), d.tainted_mask, "{ctx}: mask");
                let ours = modules_of(&r);
                assert_eq!(
                    ours.keys().collect::<Vec<_>>(),
                    d.modules.keys().collect::<Vec<_>>(),
                    "{ctx}: module names"
                );
                for (m, (letters, sig_ok)) in &d.modules {
                    assert_eq!(s(&ours[m]["taints"]), letters, "{ctx}: {m} taints");
                    if let Some(sig_ok) = sig_ok {
                        assert_eq!(ours[m]["signed"], *sig_ok, "{ctx}: {m} signed vs sig_ok");
                    }
                }
                let (lname, ltaints) = &d.last_unloaded;
                match &r["last_unloaded_module"] {
                    Value::Null => assert_eq!(lname, "", "{ctx}: last unloaded"),
                    l => {
                        assert_eq!(s(&l["name"]), lname, "{ctx}: last unloaded name");
                        assert_eq!(
                            l["taints_raw"].as_str(),
                            ltaints.as_deref(),
                            "{ctx}: last unloaded taints"
                        );
                    }
                }
            }
        },
    );
}

/// (3) The timeline against the dump's own log.
#[test]
fn timeline_matches_the_dumps_log() {
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, r))| {
            let ctx = format!("{name}/vmcore.lzo");
            // The dump's own log's events (`wrapped`: the ring lost the first ones; a text log beside the
            // dump gave them, checked in `wrapped_ring_is_filled_from_kern_log`).
            let all_events = r["timeline"].as_array().expect("timeline");
            let tl: Vec<Value> = all_events
                .iter()
                .filter(|e| e["from_file"].is_null())
                .cloned()
                .collect();
            let tl = &tl;
            let log = dump_log(sc);
            let at = |us: u64, kind: &str| -> Vec<&Value> {
                tl.iter()
                    .filter(|e| {
                        e["ts_ns"].as_u64().map(|t| t / 1000) == Some(us) && e["kind"] == kind
                    })
                    .collect()
            };
            let mut taint_lines = 0;
            for (us, text) in &log {
                if sets_taint(text) {
                    taint_lines += 1;
                    let module = text.split_once(':').expect("`module: ...` line").0;
                    // (Several taint lines may share a microsecond: 7.2 prints O and E of one load so.)
                    let ev: Vec<&Value> = at(*us, "taint")
                        .into_iter()
                        .filter(|e| e["text"] == text.as_str())
                        .collect();
                    assert_eq!(
                        ev.len(),
                        1,
                        "{ctx}: one taint event at {us} µs for {text:?}"
                    );
                    assert_eq!(s(&ev[0]["module"]), module, "{ctx}: {text:?}");
                    assert_eq!(s(&ev[0]["text"]), text, "{ctx}: text");
                    let letter = s(&ev[0]["letter"]);
                    assert!(
                        u(&r["tainted_mask"]) & (1 << u(&ev[0]["bit"])) != 0,
                        "{ctx}: {letter} of {text:?} is in the mask"
                    );
                    assert_eq!(ev[0]["pending"], false, "{ctx}: {text:?}");
                }
                if text.starts_with("WARNING:") {
                    let ev = at(*us, "warn");
                    assert_eq!(ev.len(), 1, "{ctx}: one warn event at {us} µs for {text:?}");
                    assert_eq!(s(&ev[0]["letter"]), "W", "{ctx}");
                    // `... func+off/size [mod]` (6.x) or `... [mod], CPU#0: comm/pid` (7.x).
                    let bracketed = text
                        .rsplit_once('[')
                        .and_then(|(_, m)| m.split_once(']'))
                        .map(|(m, _)| m);
                    assert_eq!(ev[0]["module"].as_str(), bracketed, "{ctx}: {text:?}");
                }
            }
            let taint_events = tl.iter().filter(|e| e["kind"] == "taint").count();
            assert_eq!(
                taint_events, taint_lines,
                "{ctx}: taint events vs taint lines"
            );
            let warn_events = tl.iter().filter(|e| e["kind"] == "warn").count();
            let warn_lines = log
                .iter()
                .filter(|(_, t)| t.starts_with("WARNING:"))
                .count();
            assert_eq!(warn_events, warn_lines, "{ctx}: warn events");
            assert_eq!(
                warn_lines > 0,
                sc.name == "mixed",
                "{ctx}: only mixed WARNs"
            );

            // The crash: `Kernel panic - not syncing: X` (sysrq c) or the oops's `BUG: ...` line, then the
            // first `CPU: N PID: N Comm: X` header after it.
            // (7.x: a jump into freed module text hits the int3 filling it: `Oops: int3: ...`, no BUG: line.)
            let crash_at = log
                .iter()
                .position(|(_, t)| {
                    t.starts_with("Kernel panic - not syncing: ")
                        || t.starts_with("BUG: ")
                        || t.starts_with("Oops: ")
                })
                .unwrap_or_else(|| panic!("{ctx}: no crash line in vmcore-dmesg.txt"));
            let (crash_us, crash_text) = &log[crash_at];
            let header = log[crash_at..]
                .iter()
                .find_map(|(_, t)| t.strip_prefix("CPU: "))
                .expect("a CPU: header after the crash line");
            // `N PID: N Comm: X` (6.12+ put `UID: N` before PID): read by key.
            let hf: Vec<&str> = header.split_whitespace().collect();
            let after = |key: &str| {
                hf.iter()
                    .position(|w| *w == key)
                    .and_then(|i| hf.get(i + 1).copied())
                    .unwrap_or_else(|| panic!("{ctx}: no {key} in {header:?}"))
            };
            let (pid, comm) = (after("PID:"), after("Comm:"));
            let p = &r["panic"];
            let want_message = crash_text
                .strip_prefix("Kernel panic - not syncing: ")
                .unwrap_or(crash_text);
            assert_eq!(s(&p["message"]), want_message, "{ctx}: panic message");
            assert_eq!(u(&p["pid"]).to_string(), pid, "{ctx}: panic pid");
            assert_eq!(s(&p["comm"]), comm, "{ctx}: panic comm");
            assert_eq!(u(&p["cpu"]).to_string(), hf[0], "{ctx}: panic cpu");
            assert_eq!(u(&p["ts_ns"]) / 1000, *crash_us, "{ctx}: panic time");

            let oopses: Vec<&Value> = tl.iter().filter(|e| e["kind"] == "oops").collect();
            if OOPS_SCENARIOS.contains(&sc.name) {
                assert_eq!(oopses.len(), 1, "{ctx}: one oops");
                let o = oopses[0];
                // The oops's module is the one at the site: oot_oops's own function; the kernel proper
                // (coreoops) and a bare address (initfree) name none.
                let at_site = (sc.name == "oops").then_some("oot_oops");
                assert_eq!(o["module"].as_str(), at_site, "{ctx}");
                assert_eq!(o["pending"], true, "{ctx}: D set after the dump");
                assert_eq!(s(&o["letter"]), "D", "{ctx}");
                // oops_end() adds D after the die() header's report: the event takes the `Oops:` line's
                // time and keeps the `BUG:` headline as its text.
                let oops_us = log[crash_at..]
                    .iter()
                    .find(|(_, t)| t.starts_with("Oops: "))
                    .map(|(us, _)| *us)
                    .expect("an Oops: line after the BUG: line");
                assert_eq!(u(&o["ts_ns"]) / 1000, oops_us, "{ctx}: oops time");
                assert_eq!(s(&o["text"]), crash_text.as_str(), "{ctx}: oops text");
                if sc.name == "initfree" {
                    assert!(
                        comm.starts_with("kworker/"),
                        "{ctx}: the work ran in {comm}"
                    );
                } else {
                    assert_eq!(
                        comm, "insmod",
                        "{ctx}: the oops hit in insmod's init_module"
                    );
                }
            } else {
                assert!(oopses.is_empty(), "{ctx}: no oops");
                assert_eq!(s(&p["message"]), "sysrq triggered crash", "{ctx}");
                assert_eq!((pid, comm), ("1", "init"), "{ctx}: sysrq c from PID 1");
                assert!(
                    tl.iter().all(|e| e["pending"] == false),
                    "{ctx}: nothing pending"
                );
            }

            // The guest's record of its last rmmod, and whether this kernel keeps that module's taints (drgn
            // reads `last_unloaded_module`'s type: 5.x has a bare name).
            match sc.last_unloaded() {
                Some((name, letters)) => {
                    let l = &r["last_unloaded_module"];
                    assert_eq!(
                        s(&l["name"]),
                        name,
                        "{ctx}: last unloaded vs the guest's rmmod"
                    );
                    let kept = sc.drgn(&sc.dir.join("vmcore.lzo")).last_unloaded.1;
                    if kept.is_some() {
                        assert_eq!(s(&l["taints"]), letters, "{ctx}: its taints before rmmod");
                    } else {
                        // The kernel keeps no taints: the report must not invent any.
                        assert!(
                            l["taints"].as_str().unwrap_or("").is_empty(),
                            "{ctx}: taints the kernel did not keep: {l}"
                        );
                    }
                }
                None => assert_eq!(r["last_unloaded_module"], Value::Null, "{ctx}"),
            }
            let hints = r["unloaded_hints"].as_array().unwrap();
            if sc.name == "unloaded" {
                // P (and O, E) is on no loaded module: only oot_gone explains it.
                assert!(
                    modules_of(r).values().all(|m| s(&m["taints"]).is_empty()),
                    "{ctx}"
                );
                for letter in ["P", "O", "E"] {
                    let who: BTreeSet<&str> = hints
                        .iter()
                        .filter(|h| h["letter"] == letter)
                        .map(|h| s(&h["module"]))
                        .collect();
                    assert_eq!(
                        who,
                        BTreeSet::from(["oot_gone"]),
                        "{ctx}: hints for {letter}"
                    );
                }
                // Before 6.0 last_unloaded_module keeps no taints to be evidence of.
                assert!(
                    sc.kernel.version() < (6, 0)
                        || hints
                            .iter()
                            .any(|h| h["letter"] == "P" && h["evidence"] == "last_unloaded_module"),
                    "{ctx}: {hints:?}"
                );
            } else if sc.name == "initfree" || sc.name == "loadfail" {
                // initfree: P is on no loaded module (oot_initfree is GPL): oot_gone, unloaded, explains it.
                // loadfail: nothing loaded, yet O and E: the first failed load (oot_needsym) set them, as its
                // own log lines say.
                let (letters, who): (&[&str], &str) = if sc.name == "initfree" {
                    (&["P"], "oot_gone")
                } else {
                    (&["O", "E"], "oot_needsym")
                };
                let got: BTreeSet<(&str, &str)> = hints
                    .iter()
                    .map(|h| (s(&h["letter"]), s(&h["module"])))
                    .collect();
                let want: BTreeSet<(&str, &str)> = letters.iter().map(|l| (*l, who)).collect();
                assert_eq!(got, want, "{ctx}: {hints:?}");
            } else {
                assert!(
                    hints.is_empty(),
                    "{ctx}: loaded modules explain every flag: {hints:?}"
                );
            }
            assert_eq!(r["unexplained_flags"], Value::Array(vec![]), "{ctx}");
        },
    );
}

/// (4) Human output.
#[test]
fn human_output_verdict_colour_and_timeline() {
    real::check_each(
        lzo_reports(),
        |(name, _)| name.to_string(),
        |&(name, (sc, r))| {
            let dump = sc.dir.join("vmcore.lzo");
            let out = run(&["report", dump.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{name}");
            let text = String::from_utf8(out.stdout).expect("utf-8");
            let mask = u(&r["tainted_mask"]);
            let verdict = text.lines().next().unwrap_or("");
            let want = match mask {
                0 => "Not tainted".to_string(),
                m => {
                    let letters: Vec<&str> = r["flags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| s(&f["letter"]))
                        .collect();
                    format!("TAINTED: {} ({m:#x})", letters.join(" "))
                }
            };
            assert_eq!(verdict, want, "{name}: verdict line");
            if sc.name == "mixed" {
                assert_eq!(verdict, "TAINTED: P W O E (0x3201)");
            }
            assert!(!text.contains('\x1b'), "{name}: ANSI escapes on a pipe");
            // Every timeline event is one line, in the log's time format.
            for e in r["timeline"].as_array().unwrap() {
                let ns = u(&e["ts_ns"]);
                let stamp = format!("[{:>5}.{:06}]", ns / 1_000_000_000, ns / 1000 % 1_000_000);
                // Several events can share a microsecond (one module's O and E): the line is the one with
                // this event's letter.
                let head = match e["letter"].as_str() {
                    Some(l) => format!("{stamp} {l}  "),
                    None => stamp.clone(),
                };
                let line = text
                    .lines()
                    .find(|l| l.trim_start().starts_with(&head))
                    .unwrap_or_else(|| panic!("{name}: no timeline line {head:?}:\n{text}"));
                if let Some(m) = e["module"].as_str() {
                    assert!(line.contains(m), "{name}: {line:?}");
                }
                assert_eq!(
                    line.contains("pending"),
                    e["pending"] == true,
                    "{name}: {line:?}"
                );
            }
            match sc.name {
                "mixed" => {
                    assert!(
                        text.contains("oot_prop  loading out-of-tree module taints kernel."),
                        "{text}"
                    );
                    assert!(
                        text.contains("W <- oot_warn (WARNING in kernel log)"),
                        "{text}"
                    );
                }
                "unloaded" => {
                    // Before 6.0 last_unloaded_module keeps no taints: only the log names oot_gone.
                    let want = if sc.kernel.version() < (6, 0) {
                        "P <- oot_gone (kernel log)"
                    } else {
                        "P <- oot_gone (last unloaded, kernel log)"
                    };
                    assert!(text.contains(want), "{want}: {text}");
                }
                "oops" => {
                    assert!(
                        text.contains("D <- oot_oops (oops in kernel log; pending"),
                        "{text}"
                    );
                }
                _ => {}
            }

            let colored = run(&["report", dump.to_str().unwrap(), "--color", "always"]);
            assert_eq!(colored.status.code(), Some(0), "{name}");
            let ctext = String::from_utf8(colored.stdout).unwrap();
            assert!(
                ctext.starts_with('\x1b'),
                "{name}: --color always paints the verdict"
            );
            let never = run(&["report", dump.to_str().unwrap(), "--color", "never"]);
            assert_eq!(
                String::from_utf8(never.stdout).unwrap(),
                text,
                "{name}: --color never"
            );
        },
    );
}

/// (5) `many`: 90+ modules (70+ where the kernel has the disk's driver stack built in), all listed, nothing
/// unreadable.
#[test]
fn many_modules_are_all_listed() {
    real::check_each(
        each_kernels("many"),
        |(sc, _)| sc.id(),
        |&(sc, r)| {
            let got = modules_of(r);
            let want = sc.modules();
            assert!(
                want.len() >= 70,
                "the scenario loads 70+ modules ({})",
                want.len()
            );
            if sc.kernel.release == real::DEFAULT_RELEASE {
                assert!(want.len() >= 90, "6.1: 90+ modules ({})", want.len());
            }
            assert_eq!(got.len(), want.len());
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>()
            );
            assert_eq!(r["problems"], Value::Array(vec![]));
            // The kernel's list order is newest first: /proc/modules' order.
            let order: Vec<&str> = r["modules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| s(&m["name"]))
                .collect();
            let proc_order: Vec<String> = sc
                .truth("modules")
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect();
            assert_eq!(order, proc_order, "module order");
        },
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtaint-report-real-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (6) Exit codes: non-dumps and missing files are 2; a dump cut inside its page data still reports, naming
/// what it could not read; a dump cut inside its headers is 2.
#[test]
fn exit_codes_and_damaged_dumps() {
    real::check_each(
        each_kernels("mixed"),
        |(sc, _)| sc.id(),
        |&(sc, full)| exit_codes_and_damaged_dump(sc, full),
    );
}

fn exit_codes_and_damaged_dump(sc: &Scenario, full: &Value) {
    let dir = temp_dir(&format!("damaged-{}", sc.kernel.release));
    let junk = dir.join("junk");
    std::fs::write(&junk, b"not a dump at all\n").unwrap();
    let out = run(&["report", junk.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "a non-dump file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a crash dump"));
    assert!(out.stdout.is_empty());
    let missing = dir.join("missing");
    let out = run(&["report", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a missing file");
    assert!(out.stdout.is_empty());

    let bytes = std::fs::read(sc.dir.join("vmcore.lzo")).unwrap();
    // Inside the headers: disk_dump_header, sub-header, bitmaps and page descriptors.
    for cut in [300usize, 5000, 10_000] {
        let p = dir.join(format!("cut-{cut}.lzo"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let out = run(&["report", p.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(2), "cut at {cut}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("truncated"),
            "cut at {cut}"
        );
    }
    // Inside the page data: at a quarter (the page tables are gone) and at nine tenths (most is readable).
    let truth_modules = sc.modules();
    for (num, den) in [(1, 4), (9, 10)] {
        let cut = bytes.len() * num / den;
        let p = dir.join(format!("cut-{num}-{den}.lzo"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let (_, r) = report_json_with_status(&p);
        let ctx = format!("{}/vmcore.lzo cut at {num}/{den} ({cut} bytes)", sc.id());
        let problems = r["problems"].as_array().unwrap();
        // A cut that removes pages the report reads is named; one that removes only pages it never reads
        // (7.2's lzo keeps its kernel data early in the file) must leave the report exactly as it was.
        if problems.is_empty() {
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("dump");
                v
            };
            assert_eq!(
                strip(&r),
                strip(full),
                "{ctx}: nothing named, so nothing may differ"
            );
        }
        assert!(
            (num, den) != (1, 4) || !problems.is_empty(),
            "{ctx}: a quarter of the file cannot hold everything the report reads"
        );
        for pr in problems {
            let msg = s(&pr["message"]);
            // Each unreadable part is named, with the file and why, never as "not mapped".
            if pr["kind"] == "unreadable" || msg.contains("cannot read") {
                assert!(msg.contains(p.to_str().unwrap()), "{ctx}: {msg}");
                assert!(!msg.contains("is not mapped"), "{ctx}: {msg}");
            }
        }
        let has = |a: &str| problems.iter().any(|pr| pr["analyzer"] == a);
        // Whatever was read is right; what was not is in `problems`.
        match r["tainted_mask"].as_u64() {
            Some(m) => assert_eq!(m, sc.tainted(), "{ctx}"),
            None => assert!(has("taint"), "{ctx}: no mask and no taint problem"),
        }
        let got = modules_of(&r);
        for (n, m) in &got {
            assert_eq!(s(&m["taints"]), truth_modules[n], "{ctx}: {n}");
        }
        if got.len() < truth_modules.len() {
            assert!(has("modules"), "{ctx}: modules missing without a problem");
        }
        if r["kernel_log"].is_null() {
            assert!(has("kernel_log"), "{ctx}");
        }
        if r["tainted_mask"].is_null() {
            // Kernel data translates through the text mapping even without page tables: the mask's own
            // page is what the cut removed, and the problem says which page and why.
            assert!(
                problems.iter().any(|pr| {
                    let m = s(&pr["message"]);
                    m.contains("tainted_mask")
                        && m.contains("page at physical")
                        && m.contains("within the")
                }),
                "{ctx}: {problems:?}"
            );
        }
        if (num, den) == (9, 10) {
            // The cut is inside the page data: what was read is right (a mask whose page the cut took,
            // as on 6.12 whose kernel data sits late in the file, is named above).
            if !r["tainted_mask"].is_null() {
                assert_eq!(r["tainted_mask"], full["tainted_mask"], "{ctx}");
            }
            // Modules live in vmalloc space on the highest physical pages, which a -d 31 file keeps last:
            // the cut may take the newest ones (mixed's oot_params, loaded last, heads the list). Then the
            // problem names the page the list walk needed.
            assert!(
                !got.is_empty()
                    || problems.iter().any(|pr| {
                        pr["analyzer"] == "modules"
                            && s(&pr["message"]).contains("page at physical")
                    }),
                "{ctx}: modules: {problems:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mixed` also has QEMU's own dumps (`dump-guest-memory`, ELF and flattened kdump-zlib), taken while the
/// guest waited after saving its view: the same state as the kdump dumps, but no crash yet.
#[test]
fn qemu_dumps_of_mixed_agree_with_kdump() {
    real::check_each(
        each_kernels("mixed"),
        |(sc, _)| sc.id(),
        |&(sc, lzo)| qemu_dumps_agree_with_kdump(sc, lzo),
    );
}

fn qemu_dumps_agree_with_kdump(sc: &Scenario, lzo: &Value) {
    for (file, format) in [("qemu.elf", "elf"), ("qemu-kdump.flat", "kdump-flattened")] {
        let ctx = format!("{}/{file}", sc.id());
        let r = report_json(&sc.dir.join(file));
        assert_eq!(s(&r["dump"]["format"]), format, "{ctx}");
        assert_eq!(r["problems"], Value::Array(vec![]), "{ctx}: problems");
        for key in [
            "tainted_mask",
            "taint_string",
            "flags",
            "modules",
            "signatures",
            "last_unloaded_module",
            "unloaded_hints",
            "unexplained_flags",
        ] {
            assert_eq!(r[key], lzo[key], "{ctx}: {key}");
        }
        assert_eq!(r["panic"], Value::Null, "{ctx}: the guest had not crashed");
        // The log up to the wait is the kdump log's beginning: every event before the sysrq is there.
        let before_crash: Vec<&Value> = lzo["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] != "sysrq" && e["kind"] != "panic")
            .collect();
        let got: Vec<&Value> = r["timeline"].as_array().unwrap().iter().collect();
        assert_eq!(got, before_crash, "{ctx}: timeline");
        // Not vacuous: every taint line and WARNING the kernel logged before the wait (6.1: O, P, E of
        // oot_prop and the WARNING of oot_warn; newer kernels repeat the license line).
        let logged = dump_log(sc)
            .iter()
            .take_while(|(_, t)| !t.starts_with("sysrq: Trigger a crash"))
            .filter(|(_, t)| sets_taint(t) || t.starts_with("WARNING:"))
            .count();
        assert!(logged >= 4, "{ctx}: {logged} taint and WARNING lines");
        assert_eq!(
            got.len(),
            logged,
            "{ctx}: one event per taint or WARNING line"
        );
    }
}

/// The JSON of every real report has exactly the keys docs/schema/report.schema.json documents, at the top
/// level, in each module and in each timeline event, and addresses are hex strings.
#[test]
fn report_json_keys_are_the_documented_schema() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/schema/report.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let top = keys(&schema["properties"]);
    let module = keys(&schema["properties"]["modules"]["items"]["properties"]);
    let event = keys(&schema["properties"]["timeline"]["items"]["properties"]);
    for (id, (_, r)) in lzo_reports() {
        assert_eq!(keys(r), top, "{id}: top-level keys");
        for m in r["modules"].as_array().unwrap() {
            assert_eq!(keys(m), module, "{id}: module keys");
            assert!(m["address"].as_str().unwrap().starts_with("0xffff"), "{m}");
        }
        for e in r["timeline"].as_array().unwrap() {
            assert_eq!(keys(e), event, "{id}: timeline keys");
        }
    }
}
