//! The extension inside the real crash 8 on the real dumps (testcores/make-real-cores.sh) of every kernel
//! line crash 8 reads (the script stored crash's own output there: 5.10 and 6.1), and inside crash 9
//! (testcores/build-crash9.sh, from Debian sid's source package) on every x86-64 kernel line crash 9 opens
//! (5.10, 6.1, 6.12) and, built with `target=ARM64`, on the arm64 kernel's dumps, checked against what each guest said about itself before it crashed, against what
//! crash itself reads from the same dump (`sys -t`, `mod -t`, `p last_unloaded_module`, `log`), and
//! against `vmtaint report --json`. Where crash 9 cannot open a kernel's dumps (7.2), the test checks
//! that it still stops the known way, so the support matrix's "cannot open" stays true.
//!
//! One crash session runs many commands (crash takes seconds to start): each command's output is
//! delimited by `echo` markers. These tests fail, never skip, when crash, the dumps or the debug vmlinux
//! are missing (unless `VMTAINT_ALLOW_MISSING_REAL=1` outside CI, as `testcores::real::scenarios()`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testcores::real::{self, Scenario};

const MARK: &str = "=====vmtaint-test:";
/// Prefix a command's shell pipe adds to its lines (`| sed s/^/PIPED:/`). Reading commands from a file, crash
/// closes a command's pipe without waiting for the shell behind it, so on a loaded machine that output can
/// land after the next marker: such lines are gathered from the whole output by this prefix instead.
const PIPED: &str = "PIPED:";

/// What crash says when it could not find the pid of a pipe's first command in time.
const CRASH_PIPE_RACE: &str = "pipe operation failed";
/// crash needs several seconds per dump on an idle machine, much more when other builds run.
const SESSION_TIMEOUT: Duration = Duration::from_secs(900);

fn crash_binary() -> Option<PathBuf> {
    let p = std::env::var_os("VMTAINT_CRASH")
        .map_or_else(|| PathBuf::from("/usr/bin/crash"), PathBuf::from);
    testcores::real::require_input(
        p.exists(),
        &format!("the crash utility at {}", p.display()),
        "install Debian's `crash`, or set VMTAINT_CRASH",
    )
    .then_some(p)
}

/// The cdylib cargo built for this test run: `<target>/<profile>/libvmtaint_crash.so`, next to `deps/`.
fn extension() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps");
    let so = profile_dir.join("libvmtaint_crash.so");
    // `cargo test` builds only the rlib flavour of this library for the tests; build the .so itself (a no-op
    // when it is fresh) with the same profile and target dir.
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args([
            "build",
            "--quiet",
            "--lib",
            "-p",
            "vmtaint-crash",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cargo.arg("--release");
    }
    let status = cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(
        status.success() && so.exists(),
        "{} was not built",
        so.display()
    );
    so
}

/// What one crash session printed: stdout split by marker, plus stderr. `taint` flushes crash's `fp`
/// after writing, so its output and the markers (shell `echo`) arrive in order.
struct Session {
    sections: BTreeMap<String, String>,
    /// Lines that came through a shell pipe ending in `sed s/^/PIPED:/`, without the prefix, in order.
    piped: String,
    stderr: String,
    dir: PathBuf,
}

impl Session {
    fn section(&self, name: &str) -> &str {
        self.sections.get(name).unwrap_or_else(|| {
            panic!(
                "no section {name} in crash output: {:?}",
                self.sections.keys()
            )
        })
    }

    fn json(&self, name: &str) -> Value {
        let text = self.section(name);
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("section {name} is not JSON ({e}):\n{text}"))
    }
}

/// Run crash on `dump` with `commands` (name, crash command line) and `q`; `env` is added to crash's.
fn run_crash(
    crash: &Path,
    vmlinux: &Path,
    dump: &Path,
    commands: &[(&str, String)],
    env: &[(&str, &str)],
) -> Session {
    run_crash_with(crash, &[], vmlinux, dump, commands, env)
}

/// [`run_crash`] with crash options (`--no_modules`) before the files.
fn run_crash_with(
    crash: &Path,
    options: &[&str],
    vmlinux: &Path,
    dump: &Path,
    commands: &[(&str, String)],
    env: &[(&str, &str)],
) -> Session {
    // One directory per session: crash 8's and crash 9's tests open the same dumps at the same time.
    static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vmtaint-crash-test-{}-{}-{}",
        std::process::id(),
        SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        dump.display().to_string().replace('/', "_")
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut script = format!("extend {}\n", extension().display());
    for (name, cmd) in commands {
        script.push_str(&format!(
            "echo {MARK}{name}\n{}\n",
            cmd.replace("@DIR@", &dir.display().to_string())
        ));
    }
    script.push_str(&format!("echo {MARK}end\nq\n"));
    let cmdfile = dir.join("commands");
    std::fs::write(&cmdfile, script).expect("write command file");

    let mut child = Command::new(crash)
        .arg("-s")
        .args(options)
        .arg(vmlinux)
        .arg(dump)
        .arg("-i")
        .arg(&cmdfile)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crash");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for crash") {
            break st;
        }
        if start.elapsed() > SESSION_TIMEOUT {
            let _ = child.kill();
            panic!(
                "crash on {} did not exit within {SESSION_TIMEOUT:?}",
                dump.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    assert!(
        status.success(),
        "crash exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("libvmtaint_crash.so: shared object loaded"),
        "extend failed:\n{stdout}\n{stderr}"
    );

    let mut sections = BTreeMap::new();
    let mut piped = String::new();
    let mut current: Option<(String, String)> = None;
    // crash prints extend's "shared object loaded" late (after the first marker): keep it out of sections.
    for line in stdout
        .lines()
        .filter(|l| !l.ends_with("libvmtaint_crash.so: shared object loaded"))
    {
        if let Some(rest) = line.strip_prefix(PIPED) {
            piped.push_str(rest);
            piped.push('\n');
        } else if let Some(name) = line.strip_prefix(MARK) {
            if let Some((n, text)) = current.take() {
                sections.insert(n, text);
            }
            current = Some((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert!(
        sections.contains_key(commands.last().expect("commands").0),
        "crash stopped early:\n{stdout}\n{stderr}"
    );
    Session {
        sections,
        piped,
        stderr,
        dir,
    }
}

/// truth/module_taints.txt: `name letters` per line, `-` for none; and the module whose init crashed the
/// guest (`oops`, `coreoops`: loaded after the guest saved its view; GPL, out of tree, unsigned).
fn truth_module_taints(s: &Scenario) -> BTreeMap<String, String> {
    let mut taints = truth_module_taints_saved(s);
    if let Some(coming) = s.module_coming_at_crash() {
        taints
            .entry(coming.to_string())
            .or_insert_with(|| "OE".into());
    }
    taints
}

fn truth_module_taints_saved(s: &Scenario) -> BTreeMap<String, String> {
    s.truth("module_taints.txt")
        .lines()
        .filter_map(|l| {
            let (name, t) = l.split_once(' ')?;
            Some((
                name.to_string(),
                if t.trim() == "-" {
                    String::new()
                } else {
                    t.trim().to_string()
                },
            ))
        })
        .collect()
}

/// The report agrees with the guest: mask and every module's letters.
fn assert_report_matches_truth(report: &Value, s: &Scenario, what: &str) {
    assert_eq!(
        report["tainted_mask"].as_u64(),
        Some(s.tainted()),
        "{what}: tainted_mask"
    );
    let got: BTreeMap<String, String> = report["modules"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no modules array"))
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("module name").to_string(),
                m["taints"].as_str().expect("module taints").to_string(),
            )
        })
        .collect();
    assert_eq!(got, truth_module_taints(s), "{what}: module taints");
    let problems = report["problems"].as_array().expect("problems array");
    assert!(
        !problems.iter().any(|p| p["analyzer"] == "crash"),
        "{what}: VMCOREINFO not reachable through crash: {problems:?}"
    );
}

/// `taint -j` inside crash equals `vmtaint report --json` on the same dump: the same analyzers, once over
/// crash's memory, symbol and type API, once over our own readers and DWARF. Only `source` (where the
/// symbols came from: `crash` vs `dwarf`) and `dump` differ: everything else must be identical.
fn assert_equals_cli_report(crash_report: &Value, dump: &Path) {
    let mut crash_report = crash_report.clone();
    let crash_obj = crash_report.as_object_mut().unwrap();
    assert_eq!(crash_obj.remove("source").unwrap()["kind"], "crash");
    let crash_dump = crash_obj.remove("dump").unwrap();
    assert_eq!(
        crash_dump["path"],
        dump.display().to_string(),
        "taint -j names the dump crash has open"
    );
    let crash_report = &crash_report;
    let d = vmcore::Vmcore::open(dump).unwrap();
    // `<release>/vmlinux` under real::dir(): each kernel's own debug vmlinux, by build-id.
    let opts = engine::DebuginfoOptions {
        dirs: vec![real::dir()],
        ..Default::default()
    };
    let cli = engine::make_report(&d, &opts).unwrap();
    let mut cli = serde_json::to_value(cli).unwrap();
    let obj = cli.as_object_mut().unwrap();
    assert_eq!(obj.remove("source").unwrap()["kind"], "dwarf");
    obj.remove("dump").unwrap();
    if &cli != crash_report {
        let (a, b) = (cli.as_object().unwrap(), crash_report.as_object().unwrap());
        let differ: Vec<&String> = a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .collect();
        panic!(
            "taint -j differs from vmtaint report --json in {differ:?}:\n cli: {}\n crash: {}",
            differ
                .iter()
                .map(|k| a.get(*k).map_or("-".into(), |v| v.to_string()))
                .collect::<Vec<_>>()
                .join(" | "),
            differ
                .iter()
                .map(|k| b.get(*k).map_or("-".into(), |v| v.to_string()))
                .collect::<Vec<_>>()
                .join(" | "),
        );
    }
}

/// The scenario of every kernel whose dumps crash 8 reads (the script ran crash on them: `oracle/crash-*`).
fn scenarios(name: &str) -> Vec<Scenario> {
    // all_scenarios() panics on missing dumps unless explicitly allowed; then there is nothing to run.
    let all: Vec<Scenario> = real::all_scenarios()
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    if all.is_empty() {
        eprintln!("WARNING: real dumps missing: crash tests on {name} NOT RUN");
        return all;
    }
    let readable: Vec<Scenario> = all
        .into_iter()
        .filter(|s| s.crash(&s.dir.join("vmcore.lzo")).is_some())
        .collect();
    assert!(
        readable
            .iter()
            .any(|s| s.kernel.release == real::DEFAULT_RELEASE),
        "crash reads the default kernel's {name} dumps"
    );
    readable
}

#[test]
fn mixed_lzo_session_reports_truth_and_behaves_as_a_crash_command() {
    let Some(crash) = crash_binary() else { return };
    real::check_each(scenarios("mixed"), Scenario::id, |s| {
        mixed_lzo_session(&crash, s)
    });
}

/// The support-matrix key each crash's tests record under (the column `crash-extension`; crash 9 adds its
/// own proof to that cell).
const CRASH8_PROOF: &str = "crash-extension";
const CRASH9_PROOF: &str = "crash-extension@crash9";

fn mixed_lzo_session(crash: &Path, s: &Scenario) {
    mixed_lzo_session_in(crash, &[], s);
    real::record_support(
        &s.kernel,
        CRASH8_PROOF,
        &format!("real dump in CI ({})", crash_version(crash)),
    );
}

/// The whole command set in one session, with crash `options` (`--no_modules`: crash itself then knows no
/// modules, so its `mod -t` is not compared).
fn mixed_lzo_session_in(crash: &Path, options: &[&str], s: &Scenario) {
    let cmds: Vec<(&str, String)> = vec![
        ("json", "taint -j".into()),
        ("text", "taint".into()),
        ("modules", "taint -m".into()),
        ("timeline", "taint -t".into()),
        ("grep", format!("taint | grep oot_prop | sed s/^/{PIPED}/")),
        ("redirect", "taint -j > @DIR@/report.json".into()),
        ("bad", "taint -q".into()),
        ("after-bad", "taint -jm".into()),
        ("params", "taint -p".into()),
        ("params-json", "taint -jp".into()),
        ("keys", "taint -k".into()),
        // crash's own commands write to its buffered stdout, the markers (`echo` runs through system())
        // straight to the file descriptor: their output is kept apart in files.
        ("sys", "sys -t > @DIR@/sys.txt".into()),
        ("prb", "sym prb > @DIR@/prb.txt".into()),
        ("mod", "mod -t > @DIR@/mod.txt".into()),
        ("lum", "p last_unloaded_module > @DIR@/lum.txt".into()),
        ("log", "log > @DIR@/log.txt".into()),
    ];
    // crash looks for the pipe's first command in /proc for about 10 ms after starting the shell and gives
    // up with "pipe operation failed" (cmdline.c, output_command_to_pids) when the machine is too loaded for
    // the shell to have started it: crash's race, not the extension's, so such a session is run again.
    let mut attempts = 0;
    let session = loop {
        attempts += 1;
        let session = run_crash_with(
            crash,
            options,
            &s.kernel.vmlinux(),
            &s.dir.join("vmcore.lzo"),
            &cmds,
            &[("VMTAINT_CRASH_TRACE", "1")],
        );
        let lost_pipe = session.piped.is_empty()
            && (session.stderr.contains(CRASH_PIPE_RACE)
                || session.section("grep").contains(CRASH_PIPE_RACE));
        if !lost_pipe || attempts == 3 {
            break session;
        }
        eprintln!("{}: crash lost the pipe's pid (load); again", s.id());
        let _ = std::fs::remove_dir_all(&session.dir);
    };

    let report = session.json("json");
    assert_report_matches_truth(&report, s, &format!("{}/vmcore.lzo", s.id()));
    assert_eq!(report["last_unloaded_module"]["name"], "oot_gone");
    assert_equals_cli_report(&report, &s.dir.join("vmcore.lzo"));

    // The taint messages the guest logged are in the timeline, read through crash from the dump's log.
    let timeline = report["timeline"].to_string();
    let dmesg = s.truth("dmesg.txt");
    let logged: Vec<&str> = dmesg
        .lines()
        .filter(|l| l.contains("taints kernel."))
        .filter_map(|l| l.split_once("] ").map(|(_, m)| m))
        .collect();
    assert!(!logged.is_empty(), "truth dmesg has taint lines");
    for m in &logged {
        assert!(timeline.contains(m), "timeline lacks {m:?}: {timeline}");
    }

    let mask = s.tainted();
    let text = session.section("text");
    assert!(text.starts_with("TAINTED: "), "{text}");
    assert!(text.contains(&format!("({mask:#x})")), "{text}");

    let modules = session.section("modules");
    assert!(modules.starts_with("Modules ("), "{modules}");
    for name in truth_module_taints(s).keys() {
        assert!(
            modules.contains(name.as_str()),
            "taint -m lacks {name}:\n{modules}"
        );
    }
    assert!(
        !modules.contains("Flags"),
        "taint -m printed more than modules:\n{modules}"
    );

    // `taint -t`: the timeline section alone, every taint line the guest logged in it, nothing else.
    let timeline_text = session.section("timeline");
    assert!(timeline_text.starts_with("Timeline ("), "{timeline_text}");
    assert!(
        !timeline_text.contains("Modules (") && !timeline_text.contains("TAINTED"),
        "taint -t printed more than the timeline:\n{timeline_text}"
    );
    for m in &logged {
        let module_free = m.split_once(": ").map_or(*m, |(_, rest)| rest);
        assert!(
            timeline_text.contains(module_free),
            "taint -t lacks {m:?}:\n{timeline_text}"
        );
    }

    // crash's own pipe: only grep's lines come back, and the module row is among them.
    assert!(
        session.section("grep").trim().is_empty(),
        "unprefixed output in the grep section: {}",
        session.section("grep")
    );
    let grep = &session.piped;
    assert!(grep.lines().count() >= 1, "no output through | grep");
    assert!(grep.lines().all(|l| l.contains("oot_prop")), "{grep}");
    assert!(grep.lines().any(|l| l.contains("POE")), "{grep}");

    // crash's own redirection to a file: the same JSON document.
    let file =
        std::fs::read_to_string(session.dir.join("report.json")).expect("taint -j > file wrote");
    assert_eq!(
        serde_json::from_str::<Value>(&file).expect("file is JSON"),
        report
    );

    // taint -p: oot_params's values as the guest's /sys/module/oot_params/parameters showed them.
    let params = session.section("params");
    let want = s.truth("params.txt");
    assert!(!want.is_empty(), "truth/params.txt is empty");
    for line in want.lines() {
        let (name, value) = line.split_once('=').expect("name=value");
        assert!(
            params.contains(&format!("    {name} = {value}  (")),
            "taint -p lacks {line}:\n{params}"
        );
    }
    assert_eq!(
        session.json("params-json")["parameters"]["oot_params"],
        report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "oot_params")
            .expect("oot_params in taint -j")["parameters"]
    );
    // taint -k: every asymmetric key of the guest's /proc/keys, by its description.
    let keys = session.section("keys");
    assert!(keys.starts_with("Trusted keys"), "{keys}");
    for line in s
        .truth("keys.txt")
        .lines()
        .filter(|l| l.contains(" asymmetri "))
    {
        let describe = line.split(" asymmetri ").nth(1).unwrap().trim_start();
        let desc = describe.rsplit_once(": X509").map_or(describe, |(d, _)| d);
        assert!(keys.contains(desc), "taint -k lacks {desc:?}:\n{keys}");
    }

    // A bad option prints usage, and crash carries on with the next commands.
    assert!(
        session.section("bad").contains("Usage: taint"),
        "{}",
        session.section("bad")
    );
    let after = session.json("after-bad");
    assert_eq!(after["modules"], report["modules"]);
    let sys = std::fs::read_to_string(session.dir.join("sys.txt")).expect("sys -t > file");
    assert!(sys.contains(&format!("TAINTED_MASK: {mask:x}")), "{sys}");
    // crash's own view of the same dump, command by command, equals the extension's report.
    let crash_reads_modules = !options.contains(&"--no_modules");
    assert_crash_view_matches(
        &session.dir,
        &report,
        s,
        &format!("{}/vmcore.lzo", s.id()),
        crash_reads_modules,
    );

    // VMCOREINFO came through crash's reader and agrees with crash's own symbol table.
    let prb = std::fs::read_to_string(session.dir.join("prb.txt")).expect("sym prb > file");
    let prb_sym = prb
        .split_whitespace()
        .next()
        .expect("sym prb prints the address")
        .to_string();
    assert!(
        session
            .stderr
            .contains(&format!("vmcoreinfo(SYMBOL(prb)) -> Some(\"{prb_sym}\")")),
        "vmcoreinfo(SYMBOL(prb)) not answered as {prb_sym}:\n{}",
        session.stderr
    );
    // Type answers: last_unloaded_module's taints where the kernel keeps them (drgn read the type), and
    // the 6.1 layout exactly (anonymous struct, via the variable).
    let kept = s.drgn(&s.dir.join("vmcore.lzo")).last_unloaded.1.is_some();
    let answer = if s.kernel.release == real::DEFAULT_RELEASE {
        "member(typeof(last_unloaded_module), taints) -> Some(Member { offset: 57, size: 23, array_len: Some(23), bits: None })"
    } else if kept {
        "member(typeof(last_unloaded_module), taints) -> Some(Member {"
    } else {
        // A bare char[] (before 6.0): no `name` member, so its taints are never asked for.
        "member(typeof(last_unloaded_module), name) -> None"
    };
    assert!(
        session.stderr.contains(answer),
        "{answer:?} not in:\n{}",
        session.stderr
    );
    let _ = std::fs::remove_dir_all(&session.dir);
}

/// What crash's own commands read from the dump (written by the session to `sys.txt`, `mod.txt`,
/// `lum.txt`, `log.txt` in `dir`) against the report `taint -j` printed: the mask and its letters, every
/// tainted module's letters, the last unloaded module, and every taint message of crash's `log` in the
/// timeline at crash's timestamp.
fn assert_crash_view_matches(
    dir: &Path,
    report: &Value,
    s: &Scenario,
    what: &str,
    crash_reads_modules: bool,
) {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{what}: {f}: {e}"))
    };
    let text = format!("{}{}{}", read("sys.txt"), read("mod.txt"), read("lum.txt"));
    let c = real::CrashOracle::parse(&text).unwrap_or_else(|e| panic!("{what}: {e}:\n{text}"));
    assert_eq!(
        report["tainted_mask"].as_u64(),
        Some(c.tainted_mask),
        "{what}: mask vs sys -t"
    );
    assert_eq!(
        c.tainted_mask,
        s.tainted(),
        "{what}: crash's sys -t vs the guest"
    );
    let letters: String = report["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| f["letter"].as_str())
        .collect();
    assert_eq!(letters, c.letters, "{what}: letters vs sys -t");
    let tainted: BTreeMap<String, String> = report["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .filter(|m| m["taints"].as_str().is_some_and(|t| !t.is_empty()))
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["taints"].as_str().unwrap().into(),
            )
        })
        .collect();
    if crash_reads_modules {
        assert_eq!(
            tainted, c.module_taints,
            "{what}: tainted modules vs mod -t"
        );
    }
    let (name, taints) = c
        .last_unloaded
        .unwrap_or_else(|| panic!("{what}: crash printed no last_unloaded_module:\n{text}"));
    match &report["last_unloaded_module"] {
        Value::Null => assert_eq!(name, "", "{what}: last_unloaded_module"),
        l => {
            assert_eq!(
                l["name"].as_str(),
                Some(name.as_str()),
                "{what}: last unloaded"
            );
            assert_eq!(
                l["taints_raw"].as_str(),
                taints.as_deref(),
                "{what}: last unloaded taints"
            );
        }
    }
    // crash's `log`: `[    S.UUUUUU] message`. Each taint message is a timeline event at that time.
    let log = read("log.txt");
    let events = report["timeline"].as_array().expect("timeline");
    let mut seen = 0;
    for line in log.lines().filter(|l| l.contains("taints kernel.")) {
        let (stamp, message) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .unwrap_or_else(|| panic!("{what}: crash's log line without a time: {line}"));
        let (secs, micros) = stamp.trim().split_once('.').expect("S.UUUUUU");
        let ns =
            secs.parse::<u64>().unwrap() * 1_000_000_000 + micros.parse::<u64>().unwrap() * 1000;
        assert!(
            events.iter().any(
                |e| e["ts_ns"].as_u64().is_some_and(|t| t / 1000 == ns / 1000)
                    && e["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(message.trim()))
            ),
            "{what}: crash's log line {line:?} is not in the timeline: {}",
            report["timeline"]
        );
        seen += 1;
    }
    let want = s
        .truth("dmesg.txt")
        .lines()
        .filter(|l| l.contains("taints kernel."))
        .count();
    assert_eq!(
        seen, want,
        "{what}: taint lines in crash's log vs the guest's dmesg:\n{log}"
    );
}

/// `crash 8.0.2`, as the binary says it.
fn crash_version(crash: &Path) -> String {
    Command::new(crash)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("crash "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "crash".into())
}

#[test]
fn clean_lzo_session_reports_truth() {
    let Some(crash) = crash_binary() else { return };
    real::check_each(scenarios("clean"), Scenario::id, |s| {
        clean_lzo_session(&crash, s)
    });
}

fn clean_lzo_session(crash: &Path, s: &Scenario) {
    let session = run_crash(
        crash,
        &s.kernel.vmlinux(),
        &s.dir.join("vmcore.lzo"),
        &[("json", "taint -j".into()), ("text", "taint".into())],
        &[],
    );
    let report = session.json("json");
    assert_report_matches_truth(&report, s, &format!("{}/vmcore.lzo", s.id()));
    let text = session.section("text");
    if s.tainted() == 0 {
        assert!(text.starts_with("Not tainted"), "{text}");
    } else {
        assert!(text.starts_with("TAINTED: "), "{text}");
    }
    let _ = std::fs::remove_dir_all(&session.dir);
}

/// The ELF `/proc/vmcore` copy (VMCOREINFO from an ELF note) and the flattened makedumpfile output
/// (VMCOREINFO read through the flattened offset map) give the same report as the lzo dump.
#[test]
fn elf_and_flattened_dumps_give_the_same_report() {
    let Some(crash) = crash_binary() else { return };
    real::check_each(scenarios("mixed"), Scenario::id, |s| {
        elf_and_flattened_same_report(&crash, s)
    });
}

fn elf_and_flattened_same_report(crash: &Path, s: &Scenario) {
    let mut reports = Vec::new();
    for file in ["vmcore.elf", "vmcore.flat"] {
        let session = run_crash(
            crash,
            &s.kernel.vmlinux(),
            &s.dir.join(file),
            &[("json", "taint -j".into())],
            &[],
        );
        let mut report = session.json("json");
        assert_report_matches_truth(&report, s, &format!("{}/{file}", s.id()));
        assert_eq!(report["last_unloaded_module"]["name"], "oot_gone", "{file}");
        // Which file and format is the one thing that differs.
        let dump = report.as_object_mut().unwrap().remove("dump").unwrap();
        assert_eq!(dump["path"], s.dir.join(file).display().to_string());
        reports.push(report);
        let _ = std::fs::remove_dir_all(&session.dir);
    }
    assert_eq!(reports[0], reports[1], "ELF and flattened reports differ");
}

// --- crash 9 ------------------------------------------------------------------------------------------

/// What stops crash 9.0.2 on a kernel whose `struct module` has no `num_gpl_syms` (7.x merged the GPL
/// symbol table into the main one): crash needs that member's offset while it loads the module list.
/// Upstream crash fixed this after 9.0.2 (commit 3a415c0); Debian sid still carries 9.0.2.
const CRASH9_STOPS_AT: &str = "invalid structure member offset: module_num_gpl_syms";

/// Whether the kernel's `struct module` has `member`, from its own DWARF (dwarves' pahole: an oracle
/// independent of crash and of vmtaint).
fn struct_module_has(vmlinux: &Path, member: &str) -> bool {
    let out = Command::new("pahole")
        .arg("-C")
        .arg("module")
        .arg(vmlinux)
        .output()
        .expect("run pahole (dwarves)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("struct module {"),
        "pahole -C module {} failed",
        vmlinux.display()
    );
    text.lines().any(|l| {
        l.split("/*").next().is_some_and(|decl| {
            decl.trim()
                .trim_end_matches(';')
                .rsplit([' ', '*', '\t'])
                .next()
                .is_some_and(|name| name == member)
        })
    })
}

/// The x86-64 scenarios named `name`, split into those crash 9.0.2 opens and those it cannot (the arm64
/// dumps need the crash built with `target=ARM64`: [`crash9_arm64_every_scenario_and_format_is_the_cli_report`]).
fn crash9_scenarios(name: &str) -> (Vec<Scenario>, Vec<Scenario>) {
    let all: Vec<Scenario> = real::scenarios_of("x86_64")
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    let (opens, cannot): (Vec<Scenario>, Vec<Scenario>) = all
        .into_iter()
        .partition(|s| struct_module_has(&s.kernel.vmlinux(), "num_gpl_syms"));
    if !opens.is_empty() || !cannot.is_empty() {
        let lines: Vec<&str> = opens.iter().map(|s| s.kernel.line()).collect();
        assert!(
            lines.contains(&"6.1") && lines.contains(&"6.12"),
            "crash 9 opens 6.1 and 6.12: {lines:?}"
        );
    }
    (opens, cannot)
}

#[test]
fn crash9_mixed_lzo_session_reports_truth_and_behaves_as_a_crash_command() {
    let Some(crash) = real::crash9() else { return };
    let (opens, _) = crash9_scenarios("mixed");
    if opens.is_empty() {
        eprintln!("WARNING: real dumps missing: crash 9 sessions NOT RUN");
        return;
    }
    real::check_each(opens, Scenario::id, |s| {
        mixed_lzo_session_in(&crash, &[], s);
        real::record_support(
            &s.kernel,
            CRASH9_PROOF,
            &format!("real dump in CI ({})", crash_version(&crash)),
        );
    });
}

/// Where crash 9.0.2 cannot open a kernel's dumps, it stops at [`CRASH9_STOPS_AT`] before its prompt; its
/// `mod -t` would fail there even past that (it reads `taint_flag.module`, which 6.19 removed: drgn's
/// oracle shows the kernel's `taint_flags[]` without it). `--no_modules` does not help: crash 9.0.2 then
/// exits 1 without a word after "no kernel module access". The support matrix says so.
#[test]
fn crash9_cannot_open_kernels_without_num_gpl_syms_and_says_why() {
    let Some(crash) = real::crash9() else { return };
    let (_, cannot) = crash9_scenarios("mixed");
    for s in &cannot {
        let dump = s.dir.join("vmcore.lzo");
        let (ok, text) = crash_sys_t(&crash, &[], s);
        assert!(
            !ok,
            "{}: crash 9 exited 0: it opens this kernel now; move it to the kernels it reads\n{text}",
            s.id()
        );
        assert!(
            text.contains(&format!("crash: {CRASH9_STOPS_AT}")),
            "{}: crash 9 stopped differently:\n{text}",
            s.id()
        );
        assert!(
            !text.contains("TAINTED_MASK"),
            "{}: crash 9 got as far as sys -t:\n{text}",
            s.id()
        );
        // `--no_modules` skips that offset, but crash 9.0.2 still exits 1 right after saying so, without
        // a message: no prompt, no extension.
        let (ok, text) = crash_sys_t(&crash, &["--no_modules"], s);
        assert!(
            !ok && text.contains("no kernel module access") && !text.contains("TAINTED_MASK"),
            "{}: crash 9 --no_modules behaves differently now (the extension may load):\n{text}",
            s.id()
        );
        let flags = s.drgn(&dump).taint_flags;
        let without_module = flags.iter().all(|(_, module)| module.is_none());
        let cell = format!(
            "{}: cannot open ({CRASH9_STOPS_AT}{})",
            crash_version(&crash),
            if without_module {
                "; its mod -t needs taint_flag.module, gone in 6.19"
            } else {
                ""
            }
        );
        real::record_support(&s.kernel, CRASH9_PROOF, &cell);
    }
}

/// crash with `options` on the scenario's lzo dump running `sys -t`: whether it exited 0, and all it said.
fn crash_sys_t(crash: &Path, options: &[&str], s: &Scenario) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("vmtaint-crash9-stops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = dir.join("commands");
    std::fs::write(&cmds, "sys -t\nq\n").unwrap();
    let out = Command::new(crash)
        .arg("-s")
        .args(options)
        .arg(s.kernel.vmlinux())
        .arg(s.dir.join("vmcore.lzo"))
        .arg("-i")
        .arg(&cmds)
        .stdin(Stdio::null())
        .output()
        .expect("run crash 9");
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `taint -c` prints the crash-site lines `vmtaint report` opens with (the same renderer, over the report of
/// the CLI's own readers on the same dump), and `taint -jc` the `crash_site` object of `taint -j`: on the
/// default kernel, the oops inside oot_oops's own function (the module at the site) and mixed's sysrq crash
/// (every tainting module the guest loaded absent from the trace).
#[test]
fn crash_site_option_prints_the_reports_crash_site_lines() {
    let Some(crash) = crash_binary() else { return };
    // The default kernel's dumps alone (its own gate): crash 8 reads them.
    let default: Vec<Scenario> = real::scenarios()
        .into_iter()
        .filter(|s| ["oops", "mixed"].contains(&s.name))
        .collect();
    if default.is_empty() {
        return; // the gate said loudly that the real dumps are missing (VMTAINT_ALLOW_MISSING_REAL=1)
    }
    assert_eq!(default.len(), 2, "{default:?}");
    real::check_each(default, Scenario::id, |s| crash_site_session(&crash, s));
}

fn crash_site_session(crash: &Path, s: &Scenario) {
    let dump = s.dir.join("vmcore.lzo");
    let session = run_crash(
        crash,
        &s.kernel.vmlinux(),
        &dump,
        &[
            ("json", "taint -j".into()),
            ("site", "taint -c".into()),
            ("site-json", "taint -jc".into()),
        ],
        &[],
    );
    let opts = engine::DebuginfoOptions {
        dirs: vec![real::dir()],
        ..Default::default()
    };
    let cli = engine::make_report(&vmcore::Vmcore::open(&dump).unwrap(), &opts).unwrap();
    let cli_site = cli.report.crash_site.as_ref().expect("a crash site");
    let want: String = render::crash::crash_site_lines(cli_site)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    let text = session.section("site");
    assert_eq!(text, want, "taint -c against vmtaint report's lines");
    let lines: Vec<&str> = text.lines().collect();
    match s.name {
        "oops" => {
            assert!(
                lines[0].starts_with(
                    "Crash in oot_oops_poke+0x5 [oot_oops] (module oot_oops; oops: BUG: kernel NULL pointer dereference"
                ),
                "{text}"
            );
            assert!(
                lines[1].starts_with("Tainting module at the crash site: oot_oops(OE)"),
                "{text}"
            );
        }
        _ => {
            assert!(
                lines[0].starts_with("Crash in sysrq_handle_crash+0x")
                    && lines[0].contains("(kernel proper; sysrq crash"),
                "{text}"
            );
            assert!(
                lines[1].starts_with("No tainting module on the call trace ("),
                "{text}"
            );
            // Every module the guest saw tainting is named absent.
            for (name, letters) in truth_module_taints(s)
                .into_iter()
                .filter(|(_, l)| !l.is_empty())
            {
                assert!(
                    lines[1].contains(&format!("{name}({letters})")),
                    "{name}: {text}"
                );
            }
        }
    }
    let report = session.json("json");
    let part = session.json("site-json");
    let keys: Vec<&String> = part.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["crash_site"]);
    assert_eq!(part["crash_site"], report["crash_site"]);
    assert_eq!(
        part["crash_site"],
        serde_json::to_value(cli_site).unwrap(),
        "taint -jc against vmtaint report --json"
    );
    let _ = std::fs::remove_dir_all(&session.dir);
}

/// The scenarios the sessions above do not open (`mixed` and `clean` have their own), in crash 8 on the
/// kernels it reads: `taint -j` is the CLI's report for each (crash site, load failures, unloaded modules,
/// a wrapped ring and all), and on `loadfail` every attempt the guest recorded is one load failure.
#[test]
fn every_other_scenario_inside_crash_is_the_cli_report() {
    let Some(crash) = crash_binary() else { return };
    let all: Vec<Scenario> = OTHER_SCENARIOS.iter().flat_map(|n| scenarios(n)).collect();
    real::check_each(all, Scenario::id, |s| {
        cli_report_session(&crash, s, "vmcore.lzo")
    });
}

/// Every scenario but `mixed` and `clean`.
const OTHER_SCENARIOS: [&str; 7] = [
    "oops", "coreoops", "initfree", "loadfail", "many", "unloaded", "wrapped",
];

/// One crash session on `s`'s `file`: `taint -j` against `vmtaint report --json` of the same dump.
fn cli_report_session(crash: &Path, s: &Scenario, file: &str) {
    let dump = s.dir.join(file);
    let session = run_crash(
        crash,
        &s.kernel.vmlinux(),
        &dump,
        &[("json", "taint -j".into())],
        &[],
    );
    let report = session.json("json");
    assert_equals_cli_report(&report, &dump);
    assert_report_matches_truth(&report, s, &format!("{}/{file}", s.id()));
    if s.name == "loadfail" {
        let failures = report["load_failures"].as_array().expect("load_failures");
        assert_eq!(failures.len(), s.load_attempts().len(), "{}", s.id());
    }
    let _ = std::fs::remove_dir_all(&session.dir);
}

/// Crash 9 on every kernel it opens: every other scenario's lzo dump, and `mixed` in every other format the
/// script stores (zlib, ELF, flattened, zstd): `taint -j` is the CLI's report each time.
#[test]
fn crash9_every_scenario_and_format_is_the_cli_report() {
    let Some(crash) = real::crash9() else { return };
    let mut sessions: Vec<(Scenario, &str)> = Vec::new();
    for name in OTHER_SCENARIOS {
        sessions.extend(
            crash9_scenarios(name)
                .0
                .into_iter()
                .map(|s| (s, "vmcore.lzo")),
        );
    }
    for s in crash9_scenarios("mixed").0 {
        for file in ["vmcore.zlib", "vmcore.elf", "vmcore.flat", "vmcore.zstd"] {
            sessions.push((s.clone(), file));
        }
    }
    if sessions.is_empty() {
        eprintln!("WARNING: real dumps missing: crash 9 sessions NOT RUN");
        return;
    }
    real::check_each(
        sessions,
        |(s, file)| format!("{}/{file}", s.id()),
        |(s, file)| cli_report_session(&crash, s, file),
    );
}

/// crash 9 built for arm64 (`testcores/build-crash9.sh --target ARM64`) on this x86-64 host reads the arm64
/// kernel's dumps (Debian's crash 8.0.2 refuses them: "machine type mismatch"), and the same extension
/// works inside it, its reads guarded against crash's arm64 page-table walk: the whole command set on
/// `mixed` (the guest's truth and crash's own `sys -t`, `mod -t` and `log`), and `taint -j` equal to
/// `vmtaint report --json` on every other scenario's lzo dump and on `mixed` in every other format.
#[test]
fn crash9_arm64_every_scenario_and_format_is_the_cli_report() {
    let Some(crash) = real::crash9_arm64() else {
        return;
    };
    let arm = real::scenarios_of("aarch64");
    if arm.is_empty() {
        eprintln!("WARNING: real arm64 dumps missing: crash 9 arm64 sessions NOT RUN");
        return;
    }
    let mixed: Vec<Scenario> = arm.iter().filter(|s| s.name == "mixed").cloned().collect();
    assert!(!mixed.is_empty(), "the arm64 kernel has a mixed scenario");
    let mut sessions: Vec<(Scenario, &str)> = Vec::new();
    for s in &arm {
        if s.name == "mixed" {
            for file in ["vmcore.zlib", "vmcore.elf", "vmcore.flat"] {
                sessions.push((s.clone(), file));
            }
        } else {
            sessions.push((s.clone(), "vmcore.lzo"));
        }
    }
    real::check_each(&mixed, |s| s.id(), |s| mixed_lzo_session_in(&crash, &[], s));
    real::check_each(
        sessions,
        |(s, file)| format!("{}/{file}", s.id()),
        |(s, file)| cli_report_session(&crash, s, file),
    );
    for s in &mixed {
        real::record_support(
            &s.kernel,
            CRASH9_PROOF,
            &format!("real dump in CI ({}, target=ARM64)", crash_version(&crash)),
        );
    }
}
