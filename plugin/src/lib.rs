//! `libvmtaint_crash.so`: a crash-utility extension adding the `taint` command, which runs vmtaint's
//! analyzers ([`analyzers::report::analyze`]) on whatever crash has open (any dump format crash reads,
//! or a live system) through crash's own memory, symbol and type access.
//!
//! ```text
//! crash> extend /path/to/libvmtaint_crash.so
//! crash> taint            # text report
//! crash> taint -j         # JSON, as `vmtaint report --json`
//! crash> taint -m | grep POE
//! ```
//!
//! crash reports errors by `longjmp`ing to its prompt, which must never cross Rust frames: every crash
//! function used is called only in its non-jumping mode (see [`ffi`]), every command body runs under
//! `catch_unwind`, and SIGINT (whose handler jumps) is held while Rust code runs.
//!
//! Unit tests cover the parts that do not call crash (they are built without the crash symbols, which
//! only exist inside the crash executable); `tests/crash_sessions.rs` runs the real thing in crash.

// The extension is an FFI boundary with the crash executable: unsafe is its nature (see `ffi`).
#![allow(unsafe_code)]

mod abi;
mod arm64_walk;
mod document;
mod gdb_text;
mod options;

#[cfg(not(test))]
mod command;
#[cfg(not(test))]
mod crash_target;
#[cfg(not(test))]
mod ffi;
#[cfg(not(test))]
mod kvtop_guard;
#[cfg(not(test))]
mod vmcoreinfo;

#[cfg(not(test))]
mod registration {
    use std::ffi::c_char;
    use std::panic::catch_unwind;

    use crate::command::cmd_taint;
    use crate::ffi::{self, CommandTableEntry, HelpData};

    /// `help taint`: name, one-line summary, synopsis, then description lines (crash's help_data
    /// layout). crash formats these with printf: no percent signs.
    static HELP: HelpData<24> = HelpData([
        c"taint".as_ptr(),
        c"kernel taint: flags, culprit modules, signatures, unloaded modules".as_ptr(),
        c"[-j] [-m] [-t] [-p] [-k] [-c]".as_ptr(),
        c"  Reports why the kernel is tainted: tainted_mask decoded through the kernel's".as_ptr(),
        c"  own taint_flags table, the loaded modules and their taints, signature state,".as_ptr(),
        c"  the last unloaded module, and the taint timeline from the kernel log. It runs".as_ptr(),
        c"  vmtaint's analyzers through crash's memory, symbol and type access, so it".as_ptr(),
        c"  works on any dump crash opens.".as_ptr(),
        c"".as_ptr(),
        c"    -j  print JSON (the document `vmtaint report --json` prints).".as_ptr(),
        c"    -m  only the loaded modules (with -j: {\"modules\": [...]}).".as_ptr(),
        c"    -t  only the taint timeline (with -j: {\"timeline\": [...]}).".as_ptr(),
        c"    -p  every module's parameters at crash time (with -j: {\"parameters\": {...}})."
            .as_ptr(),
        c"    -k  the keys of the trusted keyrings (with -j: {\"keyrings\": [...]}).".as_ptr(),
        c"    -c  the crash site: where it crashed, whether a tainting module is at it".as_ptr(),
        c"        or on the call trace (with -j: {\"crash_site\": {...}}).".as_ptr(),
        c"\nEXAMPLE".as_ptr(),
        c"  Show which modules taint the kernel:\n".as_ptr(),
        c"    crash> taint -m".as_ptr(),
        c"      NAME      STATE TAINTS SIGNED BASE               SIZE ...".as_ptr(),
        c"      oot_prop  LIVE  POE    no     0xffffffffc0362000 16384 ...".as_ptr(),
        c"".as_ptr(),
        c"    crash> taint -j > taint.json".as_ptr(),
        std::ptr::null(),
    ]);

    /// The extension's commands; crash keeps this pointer. Ends with a NULL name.
    static COMMANDS: [CommandTableEntry; 2] = [
        CommandTableEntry {
            name: c"taint".as_ptr(),
            func: Some(cmd_taint),
            help_data: &HELP as *const HelpData<24> as *const *const c_char,
            flags: 0,
        },
        CommandTableEntry {
            name: std::ptr::null(),
            func: None,
            help_data: std::ptr::null(),
            flags: 0,
        },
    ];

    /// Runs when crash's `extend` dlopens the library: register the commands.
    extern "C" fn on_load() {
        let _ = catch_unwind(|| ffi::register(&COMMANDS));
    }

    /// A constructor is a function pointer in `.init_array`, which the dynamic loader calls at dlopen.
    #[used]
    #[link_section = ".init_array"]
    static ON_LOAD: extern "C" fn() = on_load;
}
