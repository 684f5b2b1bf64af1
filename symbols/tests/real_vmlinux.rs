//! Against the real Debian 6.1 debug vmlinux, with `pahole` as the oracle.
//!
//! These fail (not skip) when the vmlinux is missing and `CI=true`; elsewhere they fail too,
//! loudly, unless `VMTAINT_ALLOW_MISSING_REAL=1`.

use std::path::PathBuf;
use std::process::Command;

use symbols::{Discovery, Error, Layout, MatchedBy, TypeDesc, Vmlinux};

/// The default kernel of the real dumps (its `-dbg` package is installed on the machine).
const RELEASE: &str = testcores::real::DEFAULT_RELEASE;

/// The debug vmlinux, through testcores::real's one gate: `None` only with `VMTAINT_ALLOW_MISSING_REAL=1`
/// outside CI (then the caller returns, after the gate's loud warning); a panic otherwise.
fn real_vmlinux() -> Option<PathBuf> {
    let path = std::env::var_os("VMTAINT_VMLINUX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/usr/lib/debug/boot/vmlinux-{RELEASE}")));
    testcores::real::require_input(
        path.exists(),
        &format!("the real debug vmlinux {}", path.display()),
        &format!("apt-get install linux-image-{RELEASE}-dbg"),
    )
    .then_some(path)
}

/// One top-level member line of `pahole -C`: name, byte offset, size, bit position.
#[derive(Debug, PartialEq)]
struct PaholeMember {
    name: String,
    offset: u64,
    size: u64,
    bit: Option<u64>,
}

struct PaholeStruct {
    size: u64,
    members: Vec<PaholeMember>,
    /// Top-level members including anonymous ones.
    count: usize,
}

fn pahole(path: &PathBuf, name: &str) -> PaholeStruct {
    let out = Command::new("pahole")
        .arg("-C")
        .arg(name)
        .arg(path)
        .output()
        .expect("run pahole (apt install dwarves)");
    assert!(
        out.status.success(),
        "pahole failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.trim().is_empty(), "pahole printed nothing for {name}");
    let mut members = Vec::new();
    let mut count = 0;
    let mut size = None;
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("/* size: ") {
            size = rest.split(',').next().and_then(|s| s.trim().parse().ok());
            continue;
        }
        // Only lines indented by exactly one tab are top-level members.
        if !line.starts_with('\t') || line.starts_with("\t\t") {
            continue;
        }
        let (Some(open), Some(close)) = (line.rfind("/*"), line.rfind("*/")) else {
            continue;
        };
        let decl = line[..open].trim();
        if !decl.ends_with(';') {
            continue;
        }
        let comment = line[open + 2..close].trim();
        count += 1;
        let decl = decl.trim_end_matches(';');
        let decl = decl.split("__attribute__").next().unwrap().trim();
        if decl == "}" {
            continue; // anonymous struct/union member
        }
        let name = if let Some(p) = decl.find("(*") {
            decl[p + 2..].split(')').next().unwrap().to_string()
        } else {
            let last = decl.split_whitespace().last().unwrap();
            let last = last.trim_start_matches('*');
            let last = last.split('[').next().unwrap();
            last.split(':').next().unwrap().to_string()
        };
        let (offset, bit, size) = if let Some((off, rest)) = comment.split_once(':') {
            let mut it = rest.split_whitespace();
            let bit = it.next().unwrap().parse().unwrap();
            let size = it.next().unwrap().parse().unwrap();
            (off.trim().parse().unwrap(), Some(bit), size)
        } else {
            let mut it = comment.split_whitespace();
            (
                it.next().unwrap().parse().unwrap(),
                None,
                it.next().unwrap().parse().unwrap(),
            )
        };
        members.push(PaholeMember {
            name,
            offset,
            size,
            bit,
        });
    }
    PaholeStruct {
        size: size.expect("pahole size line"),
        members,
        count,
    }
}

fn assert_matches_pahole(layout: &Layout, oracle: &PaholeStruct, what: &str) {
    assert_eq!(layout.size, oracle.size, "{what}: size");
    assert_eq!(
        layout.members.len(),
        oracle.count,
        "{what}: top-level member count"
    );
    assert!(!oracle.members.is_empty());
    for want in &oracle.members {
        let got = layout
            .member(&want.name)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got_bit = got.bits.map(|b| b.first_bit);
        assert_eq!(
            (got.offset, got.size, got_bit),
            (want.offset, want.size, want.bit),
            "{what}.{}: (offset, size, bit) vs pahole",
            want.name
        );
    }
}

#[test]
fn layouts_match_pahole() {
    let Some(path) = real_vmlinux() else { return };
    let v = Vmlinux::open(&path).unwrap();
    for name in [
        "module",
        "taint_flag",
        "list_head",
        "printk_ringbuffer",
        "module_layout",
        "kernel_symbol",
        "perf_event_attr",
    ] {
        let layout = v.layout(name).unwrap();
        assert_matches_pahole(&layout, &pahole(&path, name), name);
    }
    // struct module in 6.1: core_layout (not mem[]), unsigned long taints, sig_ok present.
    let m = v.layout("module").unwrap();
    assert!(m.has_member("core_layout") && !m.has_member("mem"));
    assert!(m.has_member("sig_ok"));
    assert_eq!(m.member("taints").unwrap().type_name, "long unsigned int");
    assert_eq!(
        m.member("mkobj.mod").unwrap().offset,
        m.member("mkobj").unwrap().offset + 8 * 8
    );
}

#[test]
fn bit_fields_match_pahole() {
    let Some(path) = real_vmlinux() else { return };
    let v = Vmlinux::open(&path).unwrap();
    let oracle = pahole(&path, "perf_event_attr");
    let bits: Vec<_> = oracle.members.iter().filter(|m| m.bit.is_some()).collect();
    assert!(bits.len() > 20, "perf_event_attr has many bit fields");
    let layout = v.layout("perf_event_attr").unwrap();
    for b in bits {
        let m = layout.member(&b.name).unwrap();
        assert_eq!(
            (m.offset, m.bits.unwrap().first_bit, m.size),
            (b.offset, b.bit.unwrap(), b.size),
            "{}",
            b.name
        );
    }
}

#[test]
fn enum_module_state_matches_pahole() {
    let Some(path) = real_vmlinux() else { return };
    let v = Vmlinux::open(&path).unwrap();
    let out = Command::new("pahole")
        .arg("-C")
        .arg("module_state")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let oracle: Vec<(String, i64)> = text
        .lines()
        .filter_map(|l| {
            let (n, v) = l.trim().trim_end_matches(',').split_once('=')?;
            Some((n.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect();
    assert_eq!(oracle.len(), 4);
    assert_eq!(v.enumeration("module_state").unwrap().values, oracle);
    // The same values by enumerator name alone.
    for (name, value) in &oracle {
        assert_eq!(v.enumerator(name).unwrap(), *value, "{name}");
    }
}

#[test]
fn variable_types() {
    let Some(path) = real_vmlinux() else { return };
    let v = Vmlinux::open(&path).unwrap();
    // 6.1: static struct { char name[MODULE_NAME_LEN + 1]; char taints[MODULE_FLAGS_BUF_SIZE]; }
    let lum = v.variable_type("last_unloaded_module").unwrap();
    let layout = lum.as_layout().expect("anonymous struct");
    assert_eq!(layout.name, None);
    let names: Vec<_> = layout
        .members
        .iter()
        .map(|m| m.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["name", "taints"]);
    let name = layout.member("name").unwrap();
    assert_eq!(
        name.ty.as_array().map(|(e, n)| (e.is_char(), n)),
        Some((true, Some(57)))
    );
    let taints = layout.member("taints").unwrap();
    assert_eq!(taints.offset, 57);
    // The type's size agrees with the symbol's size in .symtab.
    assert_eq!(
        lum.size(),
        Some(v.symbol("last_unloaded_module").unwrap().size)
    );

    let tf = v.variable_type("taint_flags").unwrap();
    let (elem, count) = tf.as_array().unwrap();
    let elem_layout = elem.as_layout().expect("struct taint_flag");
    assert_matches_pahole(elem_layout, &pahole(&path, "taint_flag"), "taint_flags[]");
    assert_eq!(count, Some(19));
    assert_eq!(tf.size(), Some(v.symbol("taint_flags").unwrap().size));
    assert_eq!(tf.to_string(), "struct taint_flag[19]");

    let tm = v.variable_type("tainted_mask").unwrap();
    assert!(matches!(&*tm, TypeDesc::Base(b) if b.name == "long unsigned int" && b.size == 8));
    let prb = v.variable_type("prb").unwrap();
    assert!(
        matches!(&*prb, TypeDesc::Pointer { target, .. } if target.to_string() == "struct printk_ringbuffer")
    );
    let modules = v.variable_type("modules").unwrap();
    assert_eq!(
        modules.as_layout().and_then(|l| l.name.clone()).as_deref(),
        Some("list_head")
    );
}

#[test]
fn symbols_build_id_banner_discovery() {
    let Some(path) = real_vmlinux() else { return };
    let v = Vmlinux::open(&path).unwrap();
    // Oracle: readelf.
    let out = Command::new("readelf")
        .arg("-sW")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(7) == Some("tainted_mask"))
        .unwrap();
    let addr = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    let sym = v.symbol("tainted_mask").unwrap();
    assert_eq!(sym.address, addr);
    assert_eq!(sym.file.as_deref(), Some("panic.c"));
    assert_eq!(sym.relocated(0x1000000), addr + 0x1000000);

    let out = Command::new("readelf")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(v.build_id().unwrap().to_hex(), hex);
    v.check_build_id(&hex).unwrap();
    assert!(matches!(
        v.check_build_id(&"0".repeat(40)),
        Err(Error::BuildIdMismatch { .. })
    ));

    let banner = String::from_utf8(v.linux_banner().unwrap().to_vec()).unwrap();
    assert!(
        banner.starts_with(&format!("Linux version {RELEASE} ")),
        "{banner}"
    );

    // The distro place is found by build-id.
    let found = Discovery::new()
        .find(Some(RELEASE), v.build_id().as_ref())
        .unwrap();
    assert_eq!(found.matched_by, MatchedBy::BuildId);
    assert_eq!(
        std::fs::canonicalize(&found.path).unwrap(),
        std::fs::canonicalize(&path).unwrap()
    );
}
