//! The support matrix, measured: for every kernel line of the real-dump script, what vmtaint reads right on
//! its real dumps, checked against the guest's own view. Each check that passes records a cell
//! (testcores::real::record_support); `scripts/test-all.sh` then renders the cells into the README's table
//! (testcores example `support-matrix`) and fails if the README says anything else, so the table cannot
//! drift from what the tests prove.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use testcores::real::{self, Kernel, Scenario};

fn report(dump: &Path, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmtaint"))
        .arg("report")
        .arg(dump)
        .arg("--json")
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run vmtaint");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}): {}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// The mask and every module's taint letters equal the guest's own view.
fn agrees(s: &Scenario, r: &Value, what: &str) -> Result<(), String> {
    let mask = r["tainted_mask"].as_u64();
    if mask != Some(s.tainted()) {
        return Err(format!(
            "{} {what}: mask {mask:?}, guest {}",
            s.id(),
            s.tainted()
        ));
    }
    // Every module the guest listed, with its letters; a module loading when the guest saved its view (the
    // oops scenario's oot_oops, still COMING when it crashed) may be there too, but not as LIVE.
    let modules = r["modules"].as_array().cloned().unwrap_or_default();
    let want = s.modules();
    for (name, letters) in &want {
        let got = modules.iter().find(|m| m["name"] == name.as_str());
        if got.and_then(|m| m["taints"].as_str()) != Some(letters.as_str()) {
            return Err(format!(
                "{} {what}: module {name}: {got:?}, guest {letters:?}",
                s.id()
            ));
        }
    }
    for m in &modules {
        let name = m["name"].as_str().unwrap_or("");
        if !want.contains_key(name) && m["state"] == "LIVE" {
            return Err(format!(
                "{} {what}: LIVE module {name} the guest did not list",
                s.id()
            ));
        }
    }
    Ok(())
}

fn debuginfo(k: &Kernel) -> [String; 2] {
    [
        "--debuginfo-dir".into(),
        k.debuginfo_dir().display().to_string(),
    ]
}

#[test]
fn support_matrix_cells_are_proven_on_real_dumps() {
    let mut failures = Vec::new();
    for k in real::kernels() {
        let scenarios = k.scenarios();
        if scenarios.is_empty() {
            continue; // require_input already said why, loudly
        }
        let di = debuginfo(&k);
        let di: Vec<&str> = di.iter().map(String::as_str).collect();
        // DWARF, every scenario (lzo).
        let dwarf: Vec<_> = scenarios
            .iter()
            .map(|s| {
                let (_, r) = report(&s.dir.join("vmcore.lzo"), &di);
                (r["source"]["kind"] == "dwarf")
                    .then_some(())
                    .ok_or_else(|| format!("{}: DWARF not used: {}", s.id(), r["source"]))
                    .and_then(|_| agrees(s, &r, "DWARF"))
            })
            .collect();
        match dwarf.iter().find_map(|r| r.clone().err()) {
            None => real::record_support(&k, "dwarf", "real dump in CI"),
            Some(e) => failures.push(e),
        }
        // Every format of `mixed`, with DWARF.
        let mixed = k.scenario("mixed").expect("mixed");
        let mut formats = Vec::new();
        // The makedumpfile formats, then the codecs the host writes for this arch (zstd).
        let files = real::KDUMP_FILES
            .iter()
            .map(|f| mixed.dir.join(f))
            .chain(mixed.host_codec_dumps());
        for p in files {
            let f = p.file_name().unwrap().to_string_lossy().into_owned();
            let (_, r) = report(&p, &di);
            match agrees(&mixed, &r, &f) {
                Ok(()) => formats.push(f.trim_start_matches("vmcore.").to_string()),
                Err(e) => failures.push(e),
            }
        }
        real::record_support(&k, "formats", &formats.join(" "));
        // BTF from the vmlinux (`--no-debuginfo --vmlinux` reads its .BTF and .symtab).
        let vmlinux = k.vmlinux().display().to_string();
        let (_, r) = report(
            &mixed.dir.join("vmcore.lzo"),
            &["--no-debuginfo", "--vmlinux", &vmlinux],
        );
        match agrees(&mixed, &r, "BTF from vmlinux") {
            Ok(()) if r["source"]["kind"] == "btf" => {
                real::record_support(&k, "btf-vmlinux", "real dump in CI")
            }
            Ok(()) => failures.push(format!(
                "{}: BTF from vmlinux: source {}",
                mixed.id(),
                r["source"]
            )),
            Err(e) => failures.push(e),
        }
        // No debuginfo at all, every scenario: the whole report, or the mask from the log where the dump
        // cannot give more (said in the report).
        let mut full = true;
        let mut mask_only = true;
        for s in &scenarios {
            let (_, r) = report(&s.dir.join("vmcore.lzo"), &["--no-debuginfo"]);
            if agrees(s, &r, "no debuginfo").is_err() {
                full = false;
                if r["tainted_mask"].as_u64() != Some(s.tainted()) {
                    mask_only = false;
                    failures.push(format!(
                        "{}: no debuginfo: mask {} guest {}",
                        s.id(),
                        r["tainted_mask"],
                        s.tainted()
                    ));
                }
            }
        }
        if full {
            real::record_support(&k, "no-debuginfo", "real dump in CI");
        } else if mask_only {
            real::record_support(&k, "no-debuginfo", "real dump in CI: mask only");
        }
    }
    assert!(
        failures.is_empty(),
        "support matrix cells that do not hold:\n{}",
        failures.join("\n")
    );
}
