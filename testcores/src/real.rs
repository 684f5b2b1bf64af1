//! The real dumps made by `testcores/make-real-cores.sh`, and what the guest (and the peers drgn and crash)
//! said about each. Tests on real dumps get them from here, and fail (never skip silently) when they are
//! missing.
//!
//! Layout: `dir()/<release>/vmlinux` (the kernel's debug vmlinux) and `dir()/<release>/<scenario>/` with the
//! dumps, `truth/` (the guest's own view before the crash), `oracle/` (drgn and crash on each dump) and
//! `manifest.json`. The kernels are the rows of the script's `KERNELS` table, read from the script itself so
//! the two cannot drift.
//!
//! ```no_run
//! // Every scenario of every kernel line:
//! for s in testcores::real::all_scenarios() {
//!     for dump in s.dumps() {
//!         println!("{} {} {}", s.kernel.release, s.name, dump.display());
//!     }
//! }
//! // Only the Debian 6.1 x86-64 kernel (the default):
//! let vmlinux = testcores::real::vmlinux();
//! let mixed = testcores::real::scenario("mixed").unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Scenario directories the script makes for every kernel (see the script and `guest/init-first.sh` for what
/// each one does): `oops` is an oops in an out-of-tree module's own function, `coreoops` one in a kernel
/// function an out-of-tree module called, `initfree` a call through a pointer to a module's freed `__init`
/// function, `loadfail` failed module loads (unknown symbol, bad parameters, signature refusals under
/// `sig_enforce`), `wrapped` a printk ring wrapped after the tainting modules' lines (with `kern.log`).
pub const SCENARIOS: [&str; 9] = [
    "clean", "mixed", "unloaded", "oops", "many", "coreoops", "initfree", "loadfail", "wrapped",
];
/// Dump files each scenario holds: makedumpfile lzo, zlib and flattened, and the raw `/proc/vmcore` copy.
pub const KDUMP_FILES: [&str; 4] = ["vmcore.lzo", "vmcore.zlib", "vmcore.flat", "vmcore.elf"];
/// A dump the script writes where the kernel's arch allows it (`ARCH_HOST_ZSTD`): `makedumpfile -z`, zstd.
pub const ZSTD_FILE: &str = "vmcore.zstd";
/// The release of the default kernel: Debian bookworm's 6.1 cloud kernel on x86-64, whose packages are
/// installed on the machine (`real::scenarios()` and `real::vmlinux()` mean this one).
pub const DEFAULT_RELEASE: &str = "6.1.0-56-cloud-amd64";

/// The script, whose `KERNELS` table lists the kernel lines.
const SCRIPT: &str = include_str!("../make-real-cores.sh");

/// Where real dumps live: `$VMTAINT_TESTCORES_DIR`, else `~/.cache/vmtaint/testcores` (the script's default:
/// outside the repository, so fresh clones and CI reuse what an earlier run made).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VMTAINT_TESTCORES_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("vmtaint/testcores")
}

/// One kernel line the script makes dumps of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `uname -r` of the guest, e.g. `6.12.95+deb12-cloud-amd64`.
    pub release: String,
    /// The script's arch name, e.g. `x86_64`.
    pub arch: String,
    /// `dir()/<release>`.
    pub dir: PathBuf,
}

impl Kernel {
    /// The debug vmlinux the dumps were made with: the target of `<release>/vmlinux` (so paths in reports
    /// name the real file), or that link itself when the script has not made it yet.
    pub fn vmlinux(&self) -> PathBuf {
        let link = self.dir.join("vmlinux");
        match std::fs::read_link(&link) {
            Ok(target) => self.dir.join(target),
            Err(_) => link,
        }
    }

    /// The kernel line, `major.minor` of the release (`5.10`, `6.12`).
    pub fn line(&self) -> &str {
        let mut dots = self.release.match_indices('.').map(|(i, _)| i);
        let end = dots
            .nth(1)
            .or_else(|| self.release.find(['-', '+']))
            .unwrap_or(self.release.len());
        &self.release[..end]
    }

    /// `(major, minor)` of the release, for facts that depend on the kernel version.
    pub fn version(&self) -> (u32, u32) {
        let mut parts = self.line().split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    /// The directory to give vmtaint's debuginfo search (`--debuginfo-dir`, `VMTAINT_DEBUGINFO_PATH`): it
    /// holds `vmlinux`, the kernel's debug vmlinux (only the host's 6.1 one is in `/usr/lib/debug`).
    pub fn debuginfo_dir(&self) -> &Path {
        &self.dir
    }

    /// Every scenario of this kernel, after checking that its dumps exist (see [`all_scenarios`] for the
    /// rules when they are missing).
    pub fn scenarios(&self) -> Vec<Scenario> {
        gate(self.scenarios_unchecked())
    }

    /// One scenario of this kernel by name (same rules as [`Kernel::scenarios`]).
    pub fn scenario(&self, name: &str) -> Option<Scenario> {
        self.scenarios().into_iter().find(|s| s.name == name)
    }

    /// Whether the script writes [`ZSTD_FILE`] for this kernel's arch (its `ARCH_HOST_ZSTD` table).
    pub fn has_zstd(&self) -> bool {
        arch_table(SCRIPT, "ARCH_HOST_ZSTD", &self.arch).as_deref() == Some("1")
    }

    fn scenarios_unchecked(&self) -> Vec<Scenario> {
        SCENARIOS
            .iter()
            .map(|&name| Scenario {
                name,
                dir: self.dir.join(name),
                kernel: self.clone(),
            })
            .collect()
    }
}

/// The kernel lines of the script's `KERNELS` table, in its order (oldest first), whether or not their
/// dumps exist yet.
pub fn kernels() -> Vec<Kernel> {
    let base = dir();
    table_rows(SCRIPT)
        .into_iter()
        .map(|(release, arch)| Kernel {
            dir: base.join(&release),
            release,
            arch,
        })
        .collect()
}

/// The default kernel: Debian 6.1 on x86-64 ([`DEFAULT_RELEASE`]).
pub fn default_kernel() -> Kernel {
    kernels()
        .into_iter()
        .find(|k| k.release == DEFAULT_RELEASE)
        .expect("the script's KERNELS table has the default kernel")
}

/// `(release, arch)` of each row of `KERNELS=( ... )`: lines that start with a quote.
fn table_rows(script: &str) -> Vec<(String, String)> {
    let start = script
        .find("\nKERNELS=(")
        .expect("make-real-cores.sh has a KERNELS table");
    script[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.trim() != ")")
        .filter_map(|l| {
            let row = l.trim().strip_prefix('"')?.trim_end_matches('"');
            let mut fields = row.split_whitespace();
            Some((fields.next()?.to_string(), fields.next()?.to_string()))
        })
        .collect()
}

/// The value of `NAME[arch]=VALUE` in the script.
fn arch_table(script: &str, name: &str, arch: &str) -> Option<String> {
    let key = format!("{name}[{arch}]=");
    script
        .lines()
        .find_map(|l| l.trim().strip_prefix(&key).map(|v| v.trim().to_string()))
}

/// The debug vmlinux of the default kernel (Debian 6.1 x86-64).
pub fn vmlinux() -> PathBuf {
    default_kernel().vmlinux()
}

/// One scenario's directory, of one kernel.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub dir: PathBuf,
    /// The kernel that ran it.
    pub kernel: Kernel,
}

/// One module load the guest tried (`truth/load_attempts.txt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadAttempt {
    /// `/proc/uptime` just before the attempt, as printed (`12.34`).
    pub uptime: String,
    /// The command's exit status (non-zero: failed).
    pub status: i32,
    /// The command line, e.g. `insmod /oot/oot_needsym.ko`.
    pub command: String,
    /// What the command printed (busybox insmod: `insmod: can't insert 'PATH': REASON`); the guest also
    /// wrote it to the kernel log, as modprobe and systemd-modules-load do.
    pub message: String,
}

/// What drgn read from one dump (`oracle/drgn-<format>.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrgnOracle {
    /// The dump's utsname release.
    pub release: String,
    pub tainted_mask: u64,
    /// The kernel's `taint_flags[]`: `(c_true, module)`; `module` is `None` where the member is gone (6.19+).
    pub taint_flags: Vec<(char, Option<bool>)>,
    /// Module name -> (its taint letters over the module-flag bits, `sig_ok` if the kernel has it).
    pub modules: BTreeMap<String, (String, Option<bool>)>,
    /// `last_unloaded_module`: the name, and its taints as the kernel keeps them (`(POE)`), or `None` where
    /// the kernel keeps no taints (a bare `char[]`, before 6.0).
    pub last_unloaded: (String, Option<String>),
}

/// What crash read from one dump (`oracle/crash-<format>.txt`: `sys -t`, `mod -t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashOracle {
    /// `TAINTED_MASK:` of `sys -t`.
    pub tainted_mask: u64,
    /// The letters `sys -t` prints after the mask (`PWOE`; empty when untainted).
    pub letters: String,
    /// `mod -t`: the tainted modules and their letters.
    pub module_taints: BTreeMap<String, String>,
    /// `p last_unloaded_module`, where crash printed it: the name (empty when none was unloaded), and the
    /// taints the kernel keeps (`(POE)`), `None` where it is a bare `char[]` (before 6.0).
    pub last_unloaded: Option<(String, Option<String>)>,
}

impl Scenario {
    /// `<release>/<scenario>`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kernel.release, self.name)
    }

    /// The kdump-made dump files of the scenario (all of them must exist).
    pub fn dumps(&self) -> Vec<PathBuf> {
        KDUMP_FILES.iter().map(|f| self.dir.join(f)).collect()
    }

    /// The zstd dump ([`ZSTD_FILE`]) where the script writes one for this kernel, `None` elsewhere.
    pub fn zstd(&self) -> Option<PathBuf> {
        self.kernel.has_zstd().then(|| self.dir.join(ZSTD_FILE))
    }

    /// The dumps beyond [`Scenario::dumps`] that the script writes on the host for this arch (zstd; no snappy: no
    /// makedumpfile with snappy can be had from Debian here).
    pub fn host_codec_dumps(&self) -> Vec<PathBuf> {
        self.zstd().into_iter().collect()
    }

    /// The module loads the guest tried and saw fail (`truth/load_attempts.txt`, `loadfail`), in order.
    /// The module whose init oopses and triggers the dump (`oops`, `coreoops`): on the kernel's module list
    /// (COMING) at the crash, but loaded after the guest saved its `/proc/modules`.
    pub fn module_coming_at_crash(&self) -> Option<&'static str> {
        match self.name {
            "oops" => Some("oot_oops"),
            "coreoops" => Some("oot_core"),
            _ => None,
        }
    }

    pub fn load_attempts(&self) -> Vec<LoadAttempt> {
        self.truth("load_attempts.txt")
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(4, '\t').collect();
                assert!(
                    f.len() == 4,
                    "{}: bad load_attempts.txt line {l:?}",
                    self.id()
                );
                LoadAttempt {
                    uptime: f[0].to_string(),
                    status: f[1].parse().unwrap_or_else(|_| panic!("status in {l:?}")),
                    command: f[2].to_string(),
                    message: f[3].to_string(),
                }
            })
            .collect()
    }

    /// `kern.log` beside the dump (`wrapped`): the guest's log as a syslog daemon keeps it, written
    /// continuously, so it has the lines the wrapped printk ring lost.
    pub fn kern_log(&self) -> PathBuf {
        self.dir.join("kern.log")
    }

    /// A file of the guest's own view, captured before the crash (`truth/NAME`).
    pub fn truth(&self, name: &str) -> String {
        let p = self.dir.join("truth").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// `/proc/sys/kernel/tainted` of the guest.
    pub fn tainted(&self) -> u64 {
        self.truth("tainted")
            .trim()
            .parse()
            .expect("truth/tainted is a decimal number")
    }

    /// `/proc/modules` of the guest: name -> the taint letters in parentheses (empty when untainted).
    pub fn modules(&self) -> BTreeMap<String, String> {
        self.truth("modules")
            .lines()
            .filter_map(|l| {
                let name = l.split_whitespace().next()?.to_string();
                let taints = l
                    .rsplit_once('(')
                    .and_then(|(_, t)| t.split_once(')'))
                    .map(|(t, _)| t.to_string());
                Some((name, taints.unwrap_or_default()))
            })
            .collect()
    }

    /// The last module the guest rmmod'ed and the taint letters `/sys/module/NAME/taint` showed just before
    /// (`truth/last_unloaded.txt`), or `None` when the scenario unloaded none.
    pub fn last_unloaded(&self) -> Option<(String, String)> {
        let text = self.truth("last_unloaded.txt");
        let mut f = text.split_whitespace();
        let name = f.next()?.to_string();
        Some((name, f.next().unwrap_or("").to_string()))
    }

    /// `uname -r` of the guest.
    pub fn release(&self) -> String {
        self.truth("uname.txt").trim().to_string()
    }

    /// The scenario's `manifest.json`, as text (the script's record: kernel, arch, tool versions, files).
    pub fn manifest(&self) -> String {
        let p = self.dir.join("manifest.json");
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The dump format's short name as the oracle files use it: `vmcore.lzo` -> `lzo`.
    fn format_of(dump: &Path) -> &str {
        let name = dump.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.strip_prefix("vmcore.").unwrap_or(name)
    }

    /// What drgn read from `dump` (one of [`Scenario::dumps`]). Panics when the oracle file is missing or
    /// malformed: the script writes it for every dump.
    pub fn drgn(&self, dump: &Path) -> DrgnOracle {
        let p = self
            .dir
            .join("oracle")
            .join(format!("drgn-{}.json", Self::format_of(dump)));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        parse_drgn(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// What crash read from `dump`, where the script ran crash on this kernel (`None` where crash cannot
    /// read it).
    pub fn crash(&self, dump: &Path) -> Option<CrashOracle> {
        let p = self
            .dir
            .join("oracle")
            .join(format!("crash-{}.txt", Self::format_of(dump)));
        let text = std::fs::read_to_string(&p).ok()?;
        Some(parse_crash(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    }
}

fn parse_drgn(text: &str) -> Result<DrgnOracle, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let str_of = |v: &serde_json::Value, k: &str| -> Result<String, String> {
        v[k].as_str()
            .map(str::to_string)
            .ok_or(format!("no string {k}"))
    };
    let taint_flags = v["taint_flags"]
        .as_array()
        .ok_or("no taint_flags")?
        .iter()
        .map(|f| {
            let c = str_of(f, "c_true")?.chars().next().ok_or("empty c_true")?;
            Ok((c, f["module"].as_bool()))
        })
        .collect::<Result<_, String>>()?;
    let modules = v["modules"]
        .as_array()
        .ok_or("no modules")?
        .iter()
        .map(|m| {
            Ok((
                str_of(m, "name")?,
                (str_of(m, "letters")?, m["sig_ok"].as_bool()),
            ))
        })
        .collect::<Result<_, String>>()?;
    let lum = &v["last_unloaded_module"];
    Ok(DrgnOracle {
        release: str_of(&v, "release")?,
        tainted_mask: v["tainted_mask"].as_u64().ok_or("no tainted_mask")?,
        taint_flags,
        modules,
        last_unloaded: (
            str_of(lum, "name")?,
            lum["taints"].as_str().map(str::to_string),
        ),
    })
}

impl CrashOracle {
    /// Parse crash's output of `sys -t` and `mod -t` (the script's `oracle/crash-<format>.txt`, or a test's
    /// own crash session): the mask, and the `NAME  TAINTS` rows.
    pub fn parse(text: &str) -> Result<CrashOracle, String> {
        parse_crash(text)
    }
}

fn parse_crash(text: &str) -> Result<CrashOracle, String> {
    let mask = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("TAINTED_MASK:"))
        .ok_or("no TAINTED_MASK line")?;
    let mut mask_fields = mask.split_whitespace();
    let hex = mask_fields.next().ok_or("empty TAINTED_MASK")?;
    let tainted_mask =
        u64::from_str_radix(hex, 16).map_err(|e| format!("TAINTED_MASK {hex}: {e}"))?;
    let letters = mask_fields.next().unwrap_or("").to_string();
    // `mod -t`: a `NAME  TAINTS` header, then one row per tainted module, up to the next command's output.
    let mut module_taints = BTreeMap::new();
    let mut rows = false;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f == ["NAME", "TAINTS"] {
            rows = true;
        } else if rows && f.len() == 2 && f[1].chars().all(|c| c.is_ascii_uppercase()) {
            module_taints.insert(f[0].to_string(), f[1].to_string());
        } else {
            rows = false;
        }
    }
    // gdb's print of `last_unloaded_module`: `{ name = "...", taints = "..." }` (6.0+) or `$1 = "..."`.
    let last_unloaded = if let Some(name) = gdb_string(text, "name = \"") {
        let taints =
            gdb_string(text, "taints = \"").ok_or("last_unloaded_module without taints")?;
        Some((name, Some(taints)))
    } else {
        gdb_string(text, "last_unloaded_module = $1 = \"").map(|name| (name, None))
    };
    Ok(CrashOracle {
        tainted_mask,
        letters,
        module_taints,
        last_unloaded,
    })
}

/// A C string gdb printed after `prefix` (up to the closing quote, cut at the first `\000`).
fn gdb_string(text: &str, prefix: &str) -> Option<String> {
    let body = text.lines().find_map(|l| l.trim().strip_prefix(prefix))?;
    let body = body.split('"').next().unwrap_or("");
    Some(body.split("\\000").next().unwrap_or("").to_string())
}

/// Returns `all` after checking that every scenario's dumps exist. Panics with what to run when they don't,
/// unless `VMTAINT_ALLOW_MISSING_REAL=1` (never under `CI=true`), in which case it says so loudly and
/// returns none.
fn gate(all: Vec<Scenario>) -> Vec<Scenario> {
    let missing: Vec<PathBuf> = all
        .iter()
        .flat_map(|s| {
            s.dumps()
                .into_iter()
                .chain(s.host_codec_dumps())
                .chain([s.dir.join("truth/tainted")])
        })
        .chain(all.iter().map(|s| s.kernel.dir.join("vmlinux")))
        .filter(|p| !p.exists())
        .collect();
    if missing.is_empty() {
        return all;
    }
    let what = format!(
        "real test dumps ({} files, e.g. {})",
        missing.len(),
        missing[0].display()
    );
    require_input(
        false,
        &what,
        "run `bash testcores/make-real-cores.sh` first",
    );
    Vec::new()
}

/// Runs `check` on every item, then panics naming every item that failed and why: one kernel's failure
/// neither hides another's nor stops the rest from being checked. `name` labels an item in the summary.
///
/// ```no_run
/// use testcores::real;
/// real::check_each(real::all_scenarios(), |s| s.id(), |s| assert!(s.tainted() < 1 << 20));
/// ```
pub fn check_each<T>(
    items: impl IntoIterator<Item = T>,
    name: impl Fn(&T) -> String,
    check: impl Fn(&T),
) {
    let mut failed = Vec::new();
    let mut count = 0;
    for item in items {
        count += 1;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&item)));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            let first = msg.lines().next().unwrap_or("").to_string();
            failed.push(format!("{}: {first}", name(&item)));
        }
    }
    assert!(count > 0, "nothing to check");
    assert!(
        failed.is_empty(),
        "{} of {count} failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

/// Every scenario of the default kernel (Debian 6.1 x86-64), after checking that its dumps exist. Panics
/// with what to run when they don't, unless `VMTAINT_ALLOW_MISSING_REAL=1` (never under `CI=true`), in which
/// case it says so loudly and returns none.
pub fn scenarios() -> Vec<Scenario> {
    default_kernel().scenarios()
}

/// Every scenario of every kernel line, oldest kernel first (same rules as [`scenarios`]).
pub fn all_scenarios() -> Vec<Scenario> {
    gate(
        kernels()
            .iter()
            .flat_map(Kernel::scenarios_unchecked)
            .collect(),
    )
}

/// The kernel lines of one architecture (`x86_64`, `aarch64`), in the table's order.
pub fn kernels_of(arch: &str) -> Vec<Kernel> {
    kernels().into_iter().filter(|k| k.arch == arch).collect()
}

/// Every scenario of the kernels of one architecture (same rules as [`all_scenarios`]).
pub fn scenarios_of(arch: &str) -> Vec<Scenario> {
    all_scenarios()
        .into_iter()
        .filter(|s| s.kernel.arch == arch)
        .collect()
}

/// One scenario of the default kernel by name (same rules as [`scenarios`]).
pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

/// An independent oracle: a symbol's link-time address in the debug vmlinux, from binutils' `nm`.
pub fn nm_symbol(vmlinux: &Path, name: &str) -> u64 {
    let out = std::process::Command::new("nm")
        .arg(vmlinux)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {} failed", vmlinux.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, _kind, sym) = (f.next()?, f.next()?, f.next()?);
            (sym == name)
                .then(|| u64::from_str_radix(addr, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("nm: no symbol {name} in {}", vmlinux.display()))
}

/// An independent oracle: `(offset, size)` of `member` in `struct name`, from dwarves' `pahole`.
pub fn pahole_member(vmlinux: &Path, name: &str, member: &str) -> (u64, u64) {
    let out = std::process::Command::new("pahole")
        .arg("-C")
        .arg(name)
        .arg(vmlinux)
        .output()
        .expect("run pahole (dwarves)");
    assert!(out.status.success(), "pahole -C {name} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let Some((decl, comment)) = line.split_once("/*") else {
            continue;
        };
        let decl = decl.trim().trim_end_matches(';');
        let ident = decl.rsplit([' ', '*']).next().unwrap_or("");
        let ident = ident.split('[').next().unwrap_or("");
        if ident != member {
            continue;
        }
        let nums: Vec<u64> = comment
            .trim_end_matches("*/")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [off, size, ..] = nums[..] {
            return (off, size);
        }
    }
    panic!("pahole: no member {member} in struct {name}");
}

/// An independent oracle: the GNU build-id of an ELF file, from binutils' `readelf -n`.
pub fn readelf_build_id(file: &Path) -> String {
    let out = std::process::Command::new("readelf")
        .arg("-n")
        .arg(file)
        .output()
        .expect("run readelf (binutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .unwrap_or_else(|| panic!("readelf: no build-id in {}", file.display()))
}

/// The one gate for what tests on real data need (dumps, a debug vmlinux, the crash utility, drgn): `true`
/// when `present`. When not: under CI (`CI=true`) it always panics; elsewhere it panics too unless
/// `VMTAINT_ALLOW_MISSING_REAL=1`, which makes it say loudly on stderr that the tests needing `what` are NOT
/// RUN and return `false`. No test skips silently.
///
/// ```no_run
/// let crash = std::path::Path::new("/usr/bin/crash");
/// if !testcores::real::require_input(crash.exists(), "the crash utility", "apt-get install crash") {
///     return;
/// }
/// ```
pub fn require_input(present: bool, what: &str, how_to_get_it: &str) -> bool {
    if present {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let allow = std::env::var("VMTAINT_ALLOW_MISSING_REAL").is_ok_and(|v| v == "1");
    let msg = format!("{what} is missing ({how_to_get_it})");
    if allow && !ci {
        eprintln!(
            "WARNING: {msg}; VMTAINT_ALLOW_MISSING_REAL=1 so the tests that need it are NOT RUN"
        );
        return false;
    }
    panic!(
        "{msg}{}",
        if ci {
            " (CI=true: real tests must run)"
        } else {
            ""
        }
    );
}

/// crash 9, built from Debian sid's source package by `testcores/build-crash9.sh` (bookworm's crash 8.0.2
/// cannot open the 6.12 and 7.2 dumps): `$VMTAINT_CRASH9`, else the script's cached build (`--cached`: it
/// builds nothing here). Gated like the dumps ([`require_input`]): `None` only when missing inputs are
/// allowed; under CI a missing build fails the test.
pub fn crash9() -> Option<PathBuf> {
    crash9_built("VMTAINT_CRASH9", &[])
}

/// crash 9 built for the arm64 dumps on this host (`testcores/build-crash9.sh --target ARM64`: crash reads
/// one architecture per build): `$VMTAINT_CRASH9_ARM64`, else the script's cached build; gated as [`crash9`].
pub fn crash9_arm64() -> Option<PathBuf> {
    crash9_built("VMTAINT_CRASH9_ARM64", &["--target", "ARM64"])
}

fn crash9_built(env: &str, target: &[&str]) -> Option<PathBuf> {
    let what = format!(
        "crash 9{}",
        if target.is_empty() { "" } else { " for arm64" }
    );
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return require_input(
            p.exists(),
            &format!("{what} at {} (${env})", p.display()),
            &format!("point {env} at a crash 9 binary, or unset it"),
        )
        .then_some(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("build-crash9.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("--cached")
        .args(target)
        .env("VMTAINT_TESTCORES_DIR", dir())
        .stdin(std::process::Stdio::null())
        .output();
    let path = match &out {
        Ok(o) if o.status.success() => {
            Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        }
        _ => None,
    };
    let why = match &out {
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("bash {}: {e}", script.display()),
    };
    require_input(
        path.as_ref().is_some_and(|p| p.exists()),
        &format!("{what} (testcores/build-crash9.sh's cached build)"),
        &format!(
            "run `bash testcores/build-crash9.sh {}`; it said: {why}",
            target.join(" ")
        ),
    )
    .then(|| path.expect("checked"))
}

/// Where tests record the support-matrix cells they proved: `dir()/.support/<release>/<capability>`
/// (`scripts/test-all.sh` empties it before the tests, so only this run's proofs count).
pub fn support_dir() -> PathBuf {
    dir().join(".support")
}

/// Record that a test proved `capability` on kernel `k`'s real dumps; `cell` is what the README's support
/// matrix shows for it (e.g. "real dump in CI", or the formats read). Call it after the assertions.
/// `COLUMN@WHO` (e.g. `crash-extension@crash9`) adds a second proof to the column `COLUMN`: the matrix
/// shows `COLUMN`'s cell, then each `COLUMN@*` cell by name, joined with "; ".
pub fn record_support(k: &Kernel, capability: &str, cell: &str) {
    let d = support_dir().join(&k.release);
    std::fs::create_dir_all(&d)
        .and_then(|_| std::fs::write(d.join(capability), cell))
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()));
}

/// The support-matrix columns, in order: (capability key, column heading).
pub const SUPPORT_COLUMNS: [(&str, &str); 5] = [
    ("dwarf", "DWARF (debug vmlinux)"),
    ("btf-vmlinux", "BTF from vmlinux"),
    ("no-debuginfo", "no debuginfo (in-dump BTF + kallsyms)"),
    ("formats", "formats (DWARF)"),
    ("crash-extension", "crash extension"),
];

/// The README's support matrix from the cells this run recorded; a cell no test proved says so.
pub fn support_matrix() -> String {
    let mut s = String::from("| kernel | arch |");
    for (_, h) in SUPPORT_COLUMNS {
        s += &format!(" {h} |");
    }
    s += "\n|---|---|";
    s += &"---|".repeat(SUPPORT_COLUMNS.len());
    s += "\n";
    for k in kernels() {
        s += &format!("| {} | {} |", k.release, k.arch);
        for (key, _) in SUPPORT_COLUMNS {
            s += &format!(" {} |", support_cell(&support_dir().join(&k.release), key));
        }
        s += "\n";
    }
    s
}

/// One cell: the proofs recorded for `key` in a kernel's support directory (`key`, then `key@*` by name).
fn support_cell(kernel_dir: &Path, key: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(kernel_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n == key || n.strip_prefix(key).is_some_and(|r| r.starts_with('@')))
        .collect();
    // `key` itself sorts first: '@' comes after the end of the string.
    names.sort();
    let cells: Vec<String> = names
        .iter()
        .filter_map(|n| std::fs::read_to_string(kernel_dir.join(n)).ok())
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if cells.is_empty() {
        "not proven".into()
    } else {
        cells.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_table_lists_every_kernel_line_with_its_arch() {
        let rows = table_rows(SCRIPT);
        let releases: Vec<&str> = rows.iter().map(|(r, _)| r.as_str()).collect();
        assert!(releases.contains(&DEFAULT_RELEASE), "{releases:?}");
        assert!(rows.len() >= 4, "{rows:?}");
        for (release, arch) in &rows {
            assert!(
                !release.starts_with('#') && !arch.is_empty(),
                "{release} {arch}"
            );
        }
        assert_eq!(default_kernel().arch, "x86_64");
    }

    #[test]
    fn zstd_is_written_for_x86_64_only() {
        assert_eq!(
            arch_table(SCRIPT, "ARCH_HOST_ZSTD", "x86_64").as_deref(),
            Some("1")
        );
        assert_eq!(
            arch_table(SCRIPT, "ARCH_HOST_ZSTD", "aarch64").as_deref(),
            Some("0")
        );
        assert!(default_kernel().has_zstd());
    }

    #[test]
    fn every_scenario_is_one_the_script_knows() {
        let all = SCRIPT
            .lines()
            .find_map(|l| l.strip_prefix("ALL_SCENARIOS=("))
            .expect("ALL_SCENARIOS in the script");
        let names: Vec<&str> = all.split(')').next().unwrap().split_whitespace().collect();
        let mut a = names.clone();
        a.sort();
        let mut b = SCENARIOS.to_vec();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn kernel_line_and_version() {
        let k = |r: &str| Kernel {
            release: r.into(),
            arch: "x86_64".into(),
            dir: PathBuf::new(),
        };
        assert_eq!(k("5.10.0-43-cloud-amd64").line(), "5.10");
        assert_eq!(k("6.12.95+deb12-cloud-amd64").line(), "6.12");
        assert_eq!(k("7.2.13+deb14-cloud-amd64").version(), (7, 2));
        assert_eq!(k("6.1.0-56-cloud-amd64").version(), (6, 1));
    }

    #[test]
    fn a_support_cell_joins_every_proof_of_its_column() {
        let d = std::env::temp_dir().join(format!("vmtaint-support-cell-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(support_cell(&d, "crash-extension"), "not proven");
        std::fs::write(d.join("crash-extension@crash9"), "crash 9: yes\n").unwrap();
        assert_eq!(support_cell(&d, "crash-extension"), "crash 9: yes");
        std::fs::write(d.join("crash-extension"), "crash 8: yes").unwrap();
        std::fs::write(d.join("crash-extensions"), "another column").unwrap();
        assert_eq!(
            support_cell(&d, "crash-extension"),
            "crash 8: yes; crash 9: yes"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn crash_output_is_parsed() {
        let text =
            "      TAINTED_MASK: 3201  PWOE\nNAME      TAINTS\noot_warn  OE\noot_prop  POE\n\
                    last_unloaded_module = {\n";
        let c = parse_crash(text).unwrap();
        assert_eq!(c.tainted_mask, 0x3201);
        assert_eq!(c.letters, "PWOE");
        assert_eq!(c.module_taints.len(), 2);
        assert_eq!(c.module_taints["oot_prop"], "POE");
        assert_eq!(c.last_unloaded, None);
        assert!(parse_crash("nothing").is_err());
        let with_unloaded =
            "TAINTED_MASK: 0\nlast_unloaded_module = $1 = {\n  name = \"oot_gone\\000\\000\",\n  \
                             taints = \"(POE)\\000\"\n}\n";
        assert_eq!(
            parse_crash(with_unloaded).unwrap().last_unloaded,
            Some(("oot_gone".into(), Some("(POE)".into())))
        );
        let bare = "TAINTED_MASK: 0\nlast_unloaded_module = $1 = \"oot_gone\\000\"\n";
        assert_eq!(
            parse_crash(bare).unwrap().last_unloaded,
            Some(("oot_gone".into(), None))
        );
    }
}
