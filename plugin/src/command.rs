//! The `taint` command: options, running the analyzers on a [`CrashTarget`], and printing to crash's `fp`.
//!
//! Nothing is printed until the whole report is computed, so crash's output (a pipe, a file, the pager)
//! is only written once, after every call into crash is done.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use analyzers::report::{analyze, analyze_filled, Analyzer, Problem, ProblemKind};
use analyzers::Target;

use crate::crash_target::CrashTarget;
use crate::ffi;
use crate::options::{parse_options, render, USAGE};

/// One single-threaded rayon pool made of crash's own thread: the analyzers `rayon::join`, and crash
/// must never be called from another thread. Built once (rayon leaks a pool that adopts the current
/// thread) on the first `taint`.
fn crash_thread_pool() -> Result<&'static rayon::ThreadPool, String> {
    static POOL: OnceLock<Result<rayon::ThreadPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// crash's SIGINT handler longjmps back to the prompt; while Rust frames are on the stack SIGINT is
/// blocked, and a Ctrl-C that arrived meanwhile is consumed (the command is short) before unblocking.
struct SigintBlocked {
    old: libc::sigset_t,
}

impl SigintBlocked {
    fn new() -> Option<Self> {
        // SAFETY: plain signal-mask calls on valid sigset_t values.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            (libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) == 0).then_some(Self { old })
        }
    }
}

impl Drop for SigintBlocked {
    fn drop(&mut self) {
        // SAFETY: as above; sigtimedwait with a zero timeout only dequeues a pending SIGINT.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGINT {}
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// The whole command, from crash's arguments to the text to print. Never touches `fp`.
fn run(args: &[String]) -> String {
    let opts = match parse_options(args.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(bad) => return format!("taint: invalid option or argument: {bad}\n{USAGE}"),
    };
    let pool = match crash_thread_pool() {
        Ok(p) => p,
        Err(e) => return format!("taint: cannot set up the analyzers' thread pool: {e}\n"),
    };
    let _sigint = SigintBlocked::new();
    let target = CrashTarget::new();
    let dump = crate::document::dump_summary(
        crate::document::own_args(),
        target.vmcoreinfo("OSRELEASE"),
        target.vmcoreinfo("BUILD-ID"),
    );
    // As `vmtaint report` does: a dump file's wrapped ring is filled from the text logs beside it.
    let dump_file = std::path::Path::new(&dump.path);
    let mut report = pool.install(|| {
        if dump_file.is_file() {
            analyze_filled(&target, |ring| {
                engine::beside::fill_from_beside(dump_file, ring)
            })
        } else {
            analyze(&target)
        }
    });
    if let Some(why) = target.kvtop_unguarded() {
        report.problems.push(Problem::new(
            Analyzer::Crash,
            ProblemKind::Host,
            format!("reads not guarded against crash's page-table faults: {why}"),
        ));
    }
    if let Some(why) = target.vmcoreinfo_unavailable() {
        report.problems.push(Problem::new(
            Analyzer::Crash,
            ProblemKind::Host,
            format!("VMCOREINFO not available through crash: {why}"),
        ));
    }
    if target.skipped_queries() > 0 {
        // The output pipe's reader is gone: nobody will read a report built without type answers.
        return String::new();
    }
    let doc = crate::document::document(report, dump);
    match render(&doc, opts) {
        Ok(s) => s,
        Err(e) => format!("taint: cannot format the report: {e}\n"),
    }
}

/// crash's entry point for `taint`: no panic and no Rust frame may be left behind when it returns.
pub extern "C" fn cmd_taint() {
    let text =
        catch_unwind(AssertUnwindSafe(|| run(&ffi::command_args()))).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            format!("taint: internal error (please report): {why}\n")
        });
    // Writing cannot panic, but keep the promise even if it did.
    let _ = catch_unwind(|| ffi::write_output(text.as_bytes()));
}
