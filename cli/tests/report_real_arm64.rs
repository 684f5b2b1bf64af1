//! `vmtaint report` on the real arm64 dumps (Debian's cloud-arm64 kernel under qemu-system-aarch64,
//! testcores/make-real-cores.sh), every scenario and format, against the guest's own view (`truth/`), drgn
//! 0.3.0 on the same dump (`oracle/drgn-*.json`) and the dump's own log (`vmcore-dmesg.txt`). With the arm64
//! debug vmlinux, found by build-id; without debuginfo, what the dump allows is checked, and what it does not
//! must be named.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use testcores::real::{self, Kernel, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_vmtaint");
const TAINT_DIE: u64 = 1 << 7;

fn arm64_kernel() -> Kernel {
    real::kernels()
        .into_iter()
        .find(|k| k.arch == "aarch64")
        .expect("the script's KERNELS table has an arm64 line")
}

/// `vmtaint report --json ARGS DUMP`; exit 0 with a verdict from memory, 3 when the mask is only the log's.
fn report(args: &[&str], dump: &Path) -> Value {
    let mut all = vec!["report", "--json"];
    all.extend_from_slice(args);
    all.push(dump.to_str().unwrap());
    let out = Command::new(BIN)
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .expect("run vmtaint");
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
    let want = if v["tainted_mask_source"] == "kernel_log" {
        3
    } else {
        0
    };
    assert_eq!(
        out.status.code(),
        Some(want),
        "vmtaint {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// The guest's tainted_mask as the dump must hold it: `truth/tainted`, read before the crash. The oops scenario's
/// oops does not add D to it: arm64's die() runs kdump before add_taint(TAINT_DIE), as x86-64 does.
fn expected_mask(sc: &Scenario) -> u64 {
    sc.tainted()
}

/// `/proc/modules`: name -> load address.
fn proc_modules(sc: &Scenario) -> BTreeMap<String, u64> {
    sc.truth("modules")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = f[5].strip_prefix("0x").expect("hex address");
            (
                f[0].to_string(),
                u64::from_str_radix(addr, 16).expect("address"),
            )
        })
        .collect()
}

/// Microseconds since boot of each log line that sets a taint flag, from the dump's log as makedumpfile read it.
fn taint_lines(sc: &Scenario) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(sc.dir.join("vmcore-dmesg.txt")).expect("vmcore-dmesg.txt");
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

#[test]
fn arm64_reports_with_dwarf_match_the_guest_and_drgn() {
    let k = arm64_kernel();
    let scenarios = k.scenarios();
    assert_eq!(
        scenarios.len(),
        real::SCENARIOS.len(),
        "every arm64 scenario is present"
    );
    let dir = k.dir.to_str().unwrap().to_string();
    for sc in &scenarios {
        let truth_modules = proc_modules(sc);
        let truth_taints: BTreeMap<String, String> = sc.modules();
        for dump in sc.dumps() {
            let ctx = format!(
                "{}/{}",
                sc.id(),
                dump.file_name().unwrap().to_string_lossy()
            );
            let r = report(&["--debuginfo-dir", &dir], &dump);
            let drgn = sc.drgn(&dump);
            assert_eq!(r["source"]["kind"], "dwarf", "{ctx}: {}", r["source"]);
            assert_eq!(r["source"]["matched_by"], "build-id", "{ctx}");
            assert_eq!(r["tainted_mask_source"], "memory", "{ctx}");
            // The mask: the guest's own, and drgn's.
            let mask = r["tainted_mask"]
                .as_u64()
                .unwrap_or_else(|| panic!("{ctx}: no mask: {}", r["problems"]));
            assert_eq!(mask, expected_mask(sc), "{ctx}: mask vs the guest");
            assert_eq!(mask, drgn.tainted_mask, "{ctx}: mask vs drgn");
            // Modules: the same set as /proc/modules at their load addresses (read through the arm64 page-table
            // walk of the module area), taints and signatures as drgn and /sys/module/*/taint have them.
            let modules: BTreeMap<String, &Value> = r["modules"]
                .as_array()
                .expect("modules")
                .iter()
                .map(|m| (s(&m["name"]).to_string(), m))
                .collect();
            // The oops scenarios' module oopses in its init (coreoops: in the kernel function it called): the
            // guest's /proc/modules, read before, lacks it; the dump has it, still COMING.
            let mut want_names: Vec<&String> = truth_modules.keys().collect();
            let coming = match sc.name {
                "coreoops" => "oot_core",
                _ => "oot_oops",
            }
            .to_string();
            if sc.name == "oops" || sc.name == "coreoops" {
                want_names.push(&coming);
                want_names.sort();
                assert_eq!(modules[&coming]["state"], "COMING", "{ctx}");
            }
            assert_eq!(
                modules.keys().collect::<Vec<_>>(),
                want_names,
                "{ctx}: module names"
            );
            for (name, m) in &modules {
                let base = u64::from_str_radix(s(&m["base"]).trim_start_matches("0x"), 16).unwrap();
                if let Some(&want) = truth_modules.get(name) {
                    assert_eq!(base, want, "{ctx}: {name} base");
                }
                let (letters, sig_ok) = &drgn.modules[name];
                assert_eq!(s(&m["taints"]), letters, "{ctx}: {name} taints vs drgn");
                assert_eq!(
                    m["signed"].as_bool(),
                    *sig_ok,
                    "{ctx}: {name} signed vs drgn"
                );
                if let Some(t) = truth_taints.get(name) {
                    assert_eq!(s(&m["taints"]), t, "{ctx}: {name} taints vs /sys/module");
                }
            }
            // Last unloaded: drgn and the guest.
            let lum = &r["last_unloaded_module"];
            match sc.last_unloaded() {
                Some((name, taints)) => {
                    assert_eq!(s(&lum["name"]), name, "{ctx}");
                    assert_eq!(s(&lum["taints"]), taints, "{ctx}");
                    assert_eq!(drgn.last_unloaded.0, name, "{ctx}: drgn");
                }
                None => assert!(
                    lum.is_null() || lum["name"].as_str().is_none_or(str::is_empty),
                    "{ctx}: {lum}"
                ),
            }
            // Timeline: every taint line of the log, at its microsecond.
            let events: Vec<(u64, String)> = r["timeline"]
                .as_array()
                .expect("timeline")
                .iter()
                .filter(|e| e["kind"] == "taint")
                .map(|e| {
                    (
                        e["ts_ns"].as_u64().unwrap() / 1000,
                        s(&e["text"]).to_string(),
                    )
                })
                .collect();
            for (t, text) in taint_lines(sc) {
                assert!(
                    events.iter().any(|(et, etext)| *et == t
                        && (text.ends_with(etext.as_str()) || etext.ends_with(text.as_str()))),
                    "{ctx}: log line [{t}] {text} not in the timeline {events:?}"
                );
            }
            if sc.name == "oops" {
                // The oops: D pending, in oot_oops (arm64 names it on the `pc : func+off/size [module]` line).
                let oops = r["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["kind"] == "oops")
                    .unwrap_or_else(|| panic!("{ctx}: no oops event"));
                assert_eq!(
                    oops["bit"].as_u64(),
                    Some(TAINT_DIE.trailing_zeros() as u64),
                    "{ctx}"
                );
                assert_eq!(oops["pending"], true, "{ctx}: D is not in the dumped mask");
                assert_eq!(oops["module"], "oot_oops", "{ctx}: {oops}");
            }
            assert!(
                r["unexplained_flags"].as_array().is_some_and(Vec::is_empty),
                "{ctx}: {}",
                r["unexplained_flags"]
            );
        }
    }
}

#[test]
fn arm64_info_shows_the_translation_on_every_dump() {
    let k = arm64_kernel();
    for sc in k.scenarios() {
        for dump in sc.dumps() {
            let out = Command::new(BIN)
                .args(["info", "--json", dump.to_str().unwrap()])
                .output()
                .expect("run vmtaint");
            assert_eq!(out.status.code(), Some(0), "{}", dump.display());
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let t = &v["address_translation"];
            assert_eq!(v["machine"], "aarch64", "{}", dump.display());
            assert_eq!(t["arch"], "aarch64");
            assert_eq!(t["va_bits"], 48);
            assert_eq!(t["granule"], 4096);
            assert_eq!(t["levels"], 4);
            assert_eq!(t["root_source"], "swapper_pg_dir");
            assert_eq!(t["linear_map"], "0xffff000000000000");
            assert_eq!(
                t["pac_mask"], "0xffff000000000000",
                "QEMU's max CPU has pointer authentication"
            );
        }
    }
}

/// The report without its `source` (which says where the symbols came from).
fn without_source(mut r: Value) -> Value {
    r.as_object_mut().expect("an object").remove("source");
    r
}

/// Debian's arm64 kernels lack CONFIG_KALLSYMS_ALL: the dump's kallsyms has no data symbols. Without the
/// debug vmlinux, `tainted_mask`, `taint_flags`, `modules`, `last_unloaded_module`, `sig_enforce`,
/// `kernel_locked_down` and `panic_cpu` are recovered from the code of the functions that use them
/// (engine::recover), as are `module_alloc_base` (module addresses in call traces) and the system keyrings'
/// pointers, each checked against memory and said in `source.tried`; module parameters' `ops` tables are
/// known by their `set`/`get` functions. The report is then the DWARF report, every key of it (mask, flags,
/// modules with their taints, signatures and parameters, last unloaded module, signature enforcement and
/// lockdown, keyrings, panic, crash site, timeline, problems), on every scenario and format.
#[test]
fn arm64_reports_without_debuginfo_equal_the_dwarf_reports() {
    let k = arm64_kernel();
    let scenarios = k.scenarios();
    assert_eq!(
        scenarios.len(),
        real::SCENARIOS.len(),
        "every arm64 scenario is present"
    );
    let vmlinux = k.vmlinux();
    let vmlinux = vmlinux.to_str().unwrap();
    for sc in &scenarios {
        for dump in sc.dumps() {
            let ctx = format!(
                "{}/{}",
                sc.id(),
                dump.file_name().unwrap().to_string_lossy()
            );
            let dwarf = report(&["--vmlinux", vmlinux], &dump);
            let btf = report(&["--no-debuginfo"], &dump);
            assert_eq!(btf["source"]["kind"], "btf", "{ctx}");
            assert_eq!(
                btf["tainted_mask_source"], "memory",
                "{ctx}: {}",
                btf["problems"]
            );
            assert_eq!(
                btf["tainted_mask"].as_u64(),
                Some(expected_mask(sc)),
                "{ctx}"
            );
            let recovered: Vec<&str> = btf["source"]["tried"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["source"] == "kernel-code")
                .map(|a| s(&a["outcome"]))
                .collect();
            for name in [
                "tainted_mask",
                "taint_flags",
                "modules",
                "last_unloaded_module",
                "sig_enforce",
                "kernel_locked_down",
                "panic_cpu",
                // (module_alloc_base is asked only for a module address to place.)
                "builtin_trusted_keys",
                "secondary_trusted_keys",
                "platform_trusted_keys",
                "machine_trusted_keys",
            ] {
                assert!(
                    recovered
                        .iter()
                        .any(|o| o.starts_with(&format!("`{name}` at 0x"))
                            && o.contains("checked: ")),
                    "{ctx}: {name}: {recovered:?}"
                );
            }
            assert!(
                !recovered.iter().any(|o| o.contains("not recovered")),
                "{ctx}: {recovered:?}"
            );
            // Each recovered entry carries its address as a number, the one its outcome names.
            for a in btf["source"]["tried"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["source"] == "kernel-code")
            {
                let address = a["address"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{ctx}: no address in {a}"));
                assert!(
                    s(&a["outcome"]).contains(&format!("` at {address:#x}: ")),
                    "{ctx}: {a}"
                );
            }
            // Everything else DWARF reports is reported alike.
            assert_eq!(without_source(dwarf), without_source(btf), "{ctx}");
        }
    }
    // The text and Markdown reports say so in their last line.
    let mixed = k.scenario("mixed").expect("the mixed scenario");
    for format in ["text", "markdown"] {
        let out = Command::new(BIN)
            .args(["report", "--no-debuginfo", "--format", format])
            .arg(mixed.dir.join("vmcore.lzo"))
            .stdin(Stdio::null())
            .output()
            .expect("run vmtaint");
        assert_eq!(out.status.code(), Some(0), "{format}");
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            last.contains("symbols: btf dump, ")
                && last.contains(" data symbols recovered from the kernel's code"),
            "{format}: {last}"
        );
    }
}

/// A vmlinux without `.symtab` (`strip --strip-all` keeps `.BTF`) takes its addresses from the dump's
/// kallsyms: the same recovery from code, the same report as DWARF.
#[test]
fn arm64_stripped_vmlinux_with_symbols_recovered_from_code_equals_dwarf() {
    let k = arm64_kernel();
    let dir = std::env::temp_dir().join(format!("vmtaint-arm64-stripped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stripped = dir.join("vmlinux");
    let status = Command::new("aarch64-linux-gnu-strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(k.vmlinux())
        .status()
        .expect("aarch64-linux-gnu-strip (binutils-aarch64-linux-gnu: scripts/install-deps.sh)");
    assert!(status.success());
    let dump = k.scenario("mixed").expect("mixed").dir.join("vmcore.lzo");
    let dwarf = report(&["--vmlinux", k.vmlinux().to_str().unwrap()], &dump);
    let btf = report(
        &["--no-debuginfo", "--vmlinux", stripped.to_str().unwrap()],
        &dump,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(btf["source"]["origin"], stripped.to_str().unwrap());
    let tried: Vec<&str> = btf["source"]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| s(&a["source"]))
        .collect();
    assert_eq!(&tried[..2], ["dwarf", "btf-vmlinux"], "{tried:?}");
    assert!(
        tried[2..].iter().all(|t| *t == "kernel-code") && tried.len() > 10,
        "{tried:?}"
    );
    assert_eq!(without_source(dwarf), without_source(btf));
}

/// One scan over an archive holding x86-64 and arm64 dumps: each read with its own arch and its own debug
/// vmlinux (matched by build-id among both kernels' directories).
#[test]
fn scan_mixes_x86_64_and_arm64_dumps() {
    let arm = arm64_kernel();
    let x86 = real::default_kernel();
    let tmp = std::env::temp_dir().join(format!("vmtaint-scan-arm64-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mut want = BTreeMap::new();
    for k in [&arm, &x86] {
        let sc = k.scenario("mixed").expect("mixed");
        let link = tmp.join(format!("{}-vmcore.lzo", k.arch));
        std::os::unix::fs::symlink(sc.dir.join("vmcore.lzo"), &link).unwrap();
        want.insert(
            link.to_str().unwrap().to_string(),
            (sc.tainted(), sc.release()),
        );
    }
    let out = Command::new(BIN)
        .args(["scan", "--no-progress", "--debuginfo-dir"])
        .arg(&arm.dir)
        .arg("--debuginfo-dir")
        .arg(&x86.dir)
        .arg(&tmp)
        .output()
        .expect("run vmtaint");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        let path = s(&l["path"]).to_string();
        let (mask, release) = &want[&path];
        assert!(l.get("error").is_none(), "{path}: {}", l["error"]);
        assert_eq!(l["tainted_mask"].as_u64(), Some(*mask), "{path}");
        assert_eq!(l["source"]["kind"], "dwarf", "{path}");
        assert_eq!(s(&l["dump"]["release"]), release, "{path}");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
