//! `vmtaint info` on every real dump: the JSON keys are exactly the documented schema's, and the values agree
//! with independent oracles (the guest's own `uname -r`, `readelf`/`nm` on the debug vmlinux).

mod common;
use common::vmtaint;

use std::collections::BTreeSet;

use serde_json::Value;
use testcores::real;

fn schema() -> Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/schema/info.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn info_json_matches_schema_and_oracles_on_every_real_dump() {
    let schema = schema();
    let props: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut oracles = std::collections::BTreeMap::new();
    for k in real::kernels() {
        let vmlinux = k.vmlinux();
        let build_id = real::readelf_build_id(&vmlinux);
        let stext = real::nm_symbol(&vmlinux, "_stext");
        oracles.insert(k.release, (build_id, stext));
    }
    real::check_each(real::all_scenarios(), real::Scenario::id, |s| {
        let (build_id, stext) = &oracles[&s.kernel.release];
        let stext = *stext;
        let mut files: Vec<(String, &str, &str)> = s
            .dumps()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .zip(["kdump", "kdump", "kdump-flattened", "elf"])
            .zip(["lzo", "zlib", "lzo", "none"])
            .map(|((p, f), c)| (p, f, c))
            .collect();
        // QEMU's own dumps of `mixed` (dump-guest-memory over QMP): x86-64 guests only (arm64's virt
        // machine has no second serial port for the handshake).
        if s.name == "mixed" && s.kernel.arch == "x86_64" {
            files.push((
                s.dir.join("qemu-kdump.flat").to_string_lossy().into(),
                "kdump-flattened",
                "zlib",
            ));
            files.push((
                s.dir.join("qemu.elf").to_string_lossy().into(),
                "elf",
                "none",
            ));
        }
        for (path, format, compression) in files {
            let (code, out, err) = vmtaint(&["info", "--json", &path]);
            assert_eq!(code, 0, "{path}: {err}");
            let v: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"));
            let keys: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
            assert_eq!(
                keys, props,
                "{path}: keys differ from docs/schema/info.schema.json"
            );
            for r in &required {
                assert!(
                    !v[*r].is_null()
                        || schema["properties"][*r]["type"]
                            .as_array()
                            .is_some_and(|t| t.contains(&"null".into())),
                    "{path}: {r}"
                );
            }
            assert_eq!(v["format"], format, "{path}");
            assert_eq!(v["compression"], compression, "{path}");
            assert_eq!(v["release"], s.release().as_str(), "{path}");
            assert_eq!(v["build_id"], build_id.as_str(), "{path}");
            assert_eq!(v["page_size"], 4096, "{path}");
            assert_eq!(v["incomplete"], false, "{path}");
            // The page-table root each architecture's kernel names in VMCOREINFO.
            let root = match s.kernel.arch.as_str() {
                "aarch64" => "swapper_pg_dir",
                _ => "init_top_pgt",
            };
            assert_eq!(v["translation"], root, "{path}");
            assert_eq!(v["cpus"], 1, "{path}: the guests run with one CPU");
            // KERNELOFFSET applied to the vmlinux's _stext must land where the dump says _stext is.
            let slide = v["kaslr_offset"].as_u64().unwrap();
            let info = vmcore::Vmcore::open(&path).unwrap();
            assert_eq!(
                Some(stext + slide),
                info.vmcoreinfo().unwrap().stext,
                "{path}: KASLR offset"
            );
            let (ram, dumped, excluded) = (
                v["ram_pages"].as_u64().unwrap(),
                v["dumped_pages"].as_u64().unwrap(),
                v["excluded_pages"].as_u64().unwrap(),
            );
            assert_eq!(ram, dumped + excluded, "{path}");
            if format == "elf" {
                assert_eq!(
                    excluded, 0,
                    "{path}: a raw /proc/vmcore copy excludes nothing"
                );
            } else if compression == "lzo" {
                assert_eq!(v["dump_level"], 31, "{path}");
                assert!(dumped * 2 < ram, "{path}: -d 31 filters most pages");
                if s.kernel.release == real::DEFAULT_RELEASE {
                    // 6.1 at 512 MiB: three quarters and more (7.2 keeps about 26%).
                    assert!(dumped * 4 < ram, "{path}: -d 31 filters 3/4 of the pages");
                }
            }
        }
    });
}

#[test]
fn human_output_is_short_and_aligned() {
    let mixed = real::all_scenarios()
        .into_iter()
        .filter(|s| s.name == "mixed");
    real::check_each(
        mixed,
        real::Scenario::id,
        human_output_is_short_and_aligned_on,
    );
}

fn human_output_is_short_and_aligned_on(s: &real::Scenario) {
    let (code, out, _) = vmtaint(&["info", s.dumps()[0].to_str().unwrap()]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 20, "{out}");
    // Keys are right-aligned: every value starts in the same column.
    let value_col = |l: &str| {
        let key_start = l.len() - l.trim_start().len();
        key_start + l[key_start..].find("  ").expect("two spaces after the key") + 2
    };
    let col = value_col(lines[0]);
    for l in &lines {
        assert_eq!(value_col(l), col, "misaligned: {l:?}");
    }
    assert!(
        out.contains(&s.kernel.release) && out.contains("lzo"),
        "{out}"
    );
}

#[test]
fn unreadable_input_exits_2_with_the_file_named() {
    let dir = std::env::temp_dir().join(format!("vmtaint-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("not-a-dump");
    std::fs::write(&junk, b"hello, this is not a crash dump at all").unwrap();
    for p in [junk.clone(), dir.join("missing")] {
        let (code, out, err) = vmtaint(&["info", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert!(err.contains(p.to_str().unwrap()), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
