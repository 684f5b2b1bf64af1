//! The layouts and constants of crash's extension interface (`defs.h`) that this extension relies on, as
//! plain data (no crash symbol is referenced here, so its tests run without crash).
//!
//! They are the same in crash 8.0.2 (Debian bookworm) and crash 9 (Debian sid's 9.0.2), and so is every
//! function and global type [`crate`]'s `ffi` module declares: the tests below compile
//! `plugin/abi/probe.c` against each crash's `defs.h` (crash 8's from Debian's package, crash 9's from
//! `testcores/build-crash9.sh`, for x86-64 dumps and, with `-DARM64`, for arm64 ones) and compare. One build of the extension loads in both. What may differ
//! between crash versions, the size of `struct program_context` (6008 bytes in both 8.0.2 and 9.0.2 on
//! x86-64; members come and go upstream), is found at run time ([`crate`]'s `vmcoreinfo` module).

use std::ffi::{c_char, c_int, c_ulong};

/// `MAXARGS` in defs.h: the length of the `args[]` array.
pub const MAXARGS: usize = 100;
/// `readmem()` memory type: kernel virtual address.
pub const KVADDR: c_int = 0x1;
/// `readmem()` memory type: physical address (no translation, so no page-table walk).
pub const PHYSADDR: c_int = 0x4;
/// `readmem()` error handling: return FALSE instead of `RESTART()`, and print nothing. Never
/// `FAULT_ON_ERROR` (0x1), which longjmps.
pub const RETURN_ON_ERROR_QUIET: c_ulong = 0x2 | 0x4;
/// `gdb_pass_through()` flags: catch gdb's exceptions and report failure (`GNU_RETURN_ON_ERROR`), and run
/// the command as not typed at a terminal (`GNU_FROM_TTY_OFF`). Without the first, a failing gdb
/// command is rethrown and ends in crash's error handling.
pub const GNU_RETURN_ON_ERROR_TTY_OFF: c_ulong = 0x8 | 0x20;

/// `struct command_table_entry` (defs.h): one command of an extension.
#[repr(C)]
pub struct CommandTableEntry {
    pub name: *const c_char,
    pub func: Option<extern "C" fn()>,
    pub help_data: *const *const c_char,
    pub flags: c_ulong,
}

// SAFETY: the table and the strings it points to are immutable statics; crash only reads them.
unsafe impl Sync for CommandTableEntry {}

/// The head of `struct syment` (defs.h): `ulong value` is its first field. Only read, never allocated.
#[repr(C)]
pub struct Syment {
    pub value: c_ulong,
    pub name: *const c_char,
}

/// `struct program_context`'s last members from `read_vmcoreinfo` on: `char *(*read_vmcoreinfo)(const
/// char *)`, `FILE *error_fp`, `char *error_path` (crash 8.0.2 to 9.0.2 and current master).
pub const PROGRAM_CONTEXT_TAIL_BYTES: u64 = 3 * 8;

/// The declarations above checked against the `defs.h` of every crash this extension is tested in:
/// `plugin/abi/probe.c`, compiled against each, asserts every function's and global's type and prints
/// the layouts and constants, which must equal these.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::mem::{offset_of, size_of};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// What the probe must print, from this crate's declarations.
    // `ulong`/`int` are 64/32-bit here but not on every crash platform: keep the casts.
    #[allow(clippy::unnecessary_cast)]
    fn expected() -> BTreeMap<String, u64> {
        [
            ("MAXARGS", MAXARGS as u64),
            ("KVADDR", KVADDR as u64),
            ("PHYSADDR", PHYSADDR as u64),
            ("RETURN_ON_ERROR|QUIET", RETURN_ON_ERROR_QUIET as u64),
            (
                "GNU_RETURN_ON_ERROR|GNU_FROM_TTY_OFF",
                GNU_RETURN_ON_ERROR_TTY_OFF as u64,
            ),
            (
                "sizeof(command_table_entry)",
                size_of::<CommandTableEntry>() as u64,
            ),
            (
                "command_table_entry.name",
                offset_of!(CommandTableEntry, name) as u64,
            ),
            (
                "command_table_entry.func",
                offset_of!(CommandTableEntry, func) as u64,
            ),
            (
                "command_table_entry.help_data",
                offset_of!(CommandTableEntry, help_data) as u64,
            ),
            (
                "command_table_entry.flags",
                offset_of!(CommandTableEntry, flags) as u64,
            ),
            ("syment.value", offset_of!(Syment, value) as u64),
            ("syment.name", offset_of!(Syment, name) as u64),
            (
                "program_context.read_vmcoreinfo_to_end",
                PROGRAM_CONTEXT_TAIL_BYTES,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Compile the probe against the `defs.h` in `include` for crash's `target` (`X86_64`, `ARM64`) and
    /// run it: `NAME VALUE` lines.
    fn probe(include: &Path, target: &str, what: &str) -> BTreeMap<String, u64> {
        let dir = std::env::temp_dir().join(format!(
            "vmtaint-abi-probe-{}-{}",
            std::process::id(),
            what.replace(' ', "_")
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let exe = dir.join("probe");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("abi/probe.c");
        // crash's extensions/Makefile compiles with -D$(TARGET): the dumps' architecture, which crash was
        // built for (`make target=ARM64` on this x86-64 host gives -DARM64).
        let cc = Command::new("gcc")
            .arg(format!("-D{target}"))
            .args(["-D_FILE_OFFSET_BITS=64", "-I"])
            .arg(include)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output()
            .expect("run gcc");
        assert!(
            cc.status.success(),
            "{what}: the probe does not compile against {}/defs.h:\n{}",
            include.display(),
            String::from_utf8_lossy(&cc.stderr)
        );
        let out = Command::new(&exe).output().expect("run the probe");
        assert!(out.status.success(), "{what}: the probe failed");
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    fn check(include: &Path, target: &str, what: &str) {
        let mut got = probe(include, target, what);
        // Only reported: the extension finds the struct's size at run time (dladdr1), so it may differ.
        let size = got.remove("sizeof(program_context)");
        eprintln!("{what}: sizeof(struct program_context) = {size:?}");
        assert_eq!(
            got,
            expected(),
            "{what}: {}/defs.h differs from ffi.rs",
            include.display()
        );
    }

    #[test]
    fn crash8_defs_h_agrees_with_the_declarations() {
        // Debian's crash package ships the defs.h its binary was built with.
        let include = PathBuf::from("/usr/include/crash");
        if testcores::real::require_input(
            include.join("defs.h").exists(),
            "crash 8's defs.h (/usr/include/crash/defs.h)",
            "install Debian's `crash`",
        ) {
            check(&include, "X86_64", "crash 8");
        }
    }

    #[test]
    fn crash9_defs_h_agrees_with_the_declarations() {
        check_beside(testcores::real::crash9(), "X86_64", "crash 9", "");
    }

    /// crash built for arm64 dumps (`build-crash9.sh --target ARM64`) runs on this x86-64 host: the same
    /// extension build loads in it, so its `defs.h` with `-DARM64` must give the same layouts.
    #[test]
    fn crash9_arm64_defs_h_agrees_with_the_declarations() {
        check_beside(
            testcores::real::crash9_arm64(),
            "ARM64",
            "crash 9 for arm64",
            " --target ARM64",
        );
    }

    /// [`check`] on the `defs.h` that `testcores/build-crash9.sh{args}` keeps beside the `crash` binary.
    fn check_beside(crash: Option<PathBuf>, target: &str, what: &str, args: &str) {
        let Some(crash) = crash else {
            return;
        };
        let include = crash.parent().expect("crash 9's directory").to_path_buf();
        if testcores::real::require_input(
            include.join("defs.h").exists(),
            &format!("{what}'s defs.h beside {}", crash.display()),
            &format!(
                "run `bash testcores/build-crash9.sh{args}` (it keeps defs.h beside the binary)"
            ),
        ) {
            check(&include, target, what);
        }
    }
}
