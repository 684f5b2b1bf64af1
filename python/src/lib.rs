//! vmtaint's Python module (`import vmtaint`): the engine's typed report as the JSON document's dict, `info`,
//! and `scan` as an iterator fed by worker threads. Python sees only what the CLI prints as JSON: the dicts
//! are that JSON, parsed by Python's own `json`. The GIL is released while Rust works; a scan stops and joins
//! its threads when interrupted (Ctrl-C), closed, or dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use batch::lines::ScanLine;
use batch::walk::Found;
use engine::{DebuginfoOptions, VmlinuxCache};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    vmtaint,
    DumpError,
    PyOSError,
    "A dump could not be read. An OSError whose `filename` and `path` name the file, `offset` the byte offset \
     in it (None when the error is not at one place), `reason` what was expected there, and `errno` the \
     system's error number when the system refused (e.g. a missing file)."
);

/// Why a dump could not be read, as the fields DumpError carries.
struct Failure {
    path: String,
    offset: Option<u64>,
    reason: String,
    errno: Option<i32>,
    message: String,
}

impl Failure {
    fn from_engine(path: &std::path::Path, e: &engine::Error) -> Failure {
        match e {
            engine::Error::Open(v) => Failure::from_vmcore(v),
            engine::Error::Neither { dump, .. } => {
                // Not a dump format and not a kernel log: the dump reader's place, both readers' reasons.
                let mut f = Failure::from_vmcore(dump);
                f.message = format!("{e}");
                f.reason = f
                    .message
                    .strip_prefix(&format!("{}: ", f.path))
                    .unwrap_or(&f.message)
                    .to_string();
                f
            }
            engine::Error::Refused(r) => Failure {
                path: path.display().to_string(),
                offset: None,
                reason: r.to_string(),
                errno: None,
                message: format!("{}: {r}", path.display()),
            },
        }
    }

    fn from_vmcore(e: &vmcore::Error) -> Failure {
        use vmcore::Error as E;
        let message = e.to_string();
        // Every variant's text starts with the file; the reason is the rest.
        let (file, offset, errno) = match e {
            E::Io { file, source } => (Some(file), None, source.raw_os_error()),
            E::Malformed { file, offset, .. } | E::Truncated { file, offset, .. } => {
                (Some(file), Some(*offset), None)
            }
            E::UnknownFormat { file, .. } => (Some(file), Some(0), None),
            E::UnsupportedArchitecture { file, .. } | E::NoTranslation { file, .. } => {
                (Some(file), None, None)
            }
            #[allow(unreachable_patterns)]
            _ => (None, None, None),
        };
        let path = file.map(|f| f.display().to_string()).unwrap_or_default();
        let reason = message
            .strip_prefix(&format!("{path}: "))
            .unwrap_or(&message)
            .to_string();
        Failure {
            path,
            offset,
            reason,
            errno,
            message,
        }
    }

    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        // OSError(errno, strerror, filename) fills `errno`, `strerror` and `filename`; `str()` shows all three.
        let err = DumpError::new_err((self.errno, self.message, self.path.clone()));
        let value = err.value(py);
        let set = || -> PyResult<()> {
            value.setattr("path", &self.path)?;
            value.setattr("offset", self.offset)?;
            value.setattr("reason", &self.reason)?;
            Ok(())
        };
        match set() {
            Ok(()) => err,
            Err(e) => e,
        }
    }
}

/// Parse JSON text with Python's `json` module: the dict is exactly the CLI's JSON document.
fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("the report does not serialize: {e}")))
}

/// report(path, vmlinux=None, debuginfo_dirs=(), no_debuginfo=False) -> dict
///
/// The taint report of one dump: exactly the document `vmtaint report --json` prints
/// (docs/schema/report.schema.json). Symbols come from the debug vmlinux matched by build-id (`vmlinux`,
/// `debuginfo_dirs`, `VMTAINT_DEBUGINFO_PATH`, the distro places), else BTF, else the kernel log alone; the
/// document's `source` says which. Raises DumpError when the file is not a readable dump.
#[pyfunction]
#[pyo3(signature = (path, vmlinux=None, debuginfo_dirs=Vec::new(), no_debuginfo=false))]
fn report<'py>(
    py: Python<'py>,
    path: PathBuf,
    vmlinux: Option<PathBuf>,
    debuginfo_dirs: Vec<PathBuf>,
    no_debuginfo: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = DebuginfoOptions {
        vmlinux,
        dirs: debuginfo_dirs,
        ignore_build_id: false,
        no_debuginfo,
    };
    let made = py.detach(|| {
        engine::report_file(&path, &opts, &VmlinuxCache::default())
            .map_err(|e| Failure::from_engine(&path, &e))
    });
    let full = made.map_err(|f| f.into_pyerr(py))?;
    json_to_py(py, &to_json(&full)?)
}

/// info(path) -> dict
///
/// What a dump is, as `vmtaint info --json` prints it (docs/schema/info.schema.json): format, compression,
/// kernel release, build-id, crash time, KASLR offset, CPUs, pages. Raises DumpError when it is not a
/// readable dump.
#[pyfunction]
fn info<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let opened = py.detach(|| {
        vmcore::Vmcore::open(&path)
            .map(|d| engine::DumpInfo::of(&d))
            .map_err(|e| Failure::from_vmcore(&e))
    });
    let info = opened.map_err(|f| f.into_pyerr(py))?;
    json_to_py(py, &to_json(&info)?)
}

/// One finished dump: its JSON line (the report, or why there is none).
type Line = String;

/// scan(paths, debuginfo_dirs=(), jobs=None) -> Scan
///
/// Reports on every dump found under `paths` (files or directories, searched recursively; dumps are
/// recognised by content), one dict per dump as it finishes: the line `vmtaint scan` writes (`path`, `size`,
/// `mtime`, the report's keys and its crash facts (`crash_owner`, `tainting_module_at_crash`,
/// `load_failure_count`) or `error`, `elapsed_ms`, and `archive` in a kdump archive layout). Each dump
/// is reported once. `jobs` dumps are analysed at once (default: one per CPU). Interrupting the iteration
/// (Ctrl-C), `close()`, leaving a `with` block or dropping it stops the workers and waits for them.
#[pyfunction]
#[pyo3(signature = (paths, debuginfo_dirs=Vec::new(), jobs=None))]
fn scan(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    debuginfo_dirs: Vec<PathBuf>,
    jobs: Option<usize>,
) -> PyResult<Scan> {
    if jobs == Some(0) {
        return Err(PyValueError::new_err("jobs must be at least 1"));
    }
    if let Some(missing) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_err()) {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        return Err(Failure {
            path: missing.display().to_string(),
            offset: None,
            reason: e.to_string(),
            errno: Some(2), // ENOENT
            message: format!("{}: no such file or directory", missing.display()),
        }
        .into_pyerr(py));
    }
    let walked = py.detach(|| batch::walk::walk(&paths));
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(walked.dumps.len().max(1));
    Ok(Scan::start(walked.dumps, debuginfo_dirs, jobs))
}

/// The iterator `scan()` returns: one dict per dump as it finishes.
#[pyclass(module = "vmtaint")]
struct Scan {
    rx: Mutex<Option<Receiver<Line>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
    total: usize,
}

/// How often a waiting `next()` looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

impl Scan {
    fn start(dumps: Vec<Found>, debuginfo_dirs: Vec<PathBuf>, jobs: usize) -> Scan {
        let total = dumps.len();
        let dumps = Arc::new(dumps);
        let next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let cache = Arc::new(VmlinuxCache::default());
        let opts = Arc::new(DebuginfoOptions {
            dirs: debuginfo_dirs,
            ..Default::default()
        });
        let (tx, rx) = mpsc::channel::<Line>();
        let workers = (0..jobs)
            .map(|_| {
                let (dumps, next, stop, cache, opts, tx) = (
                    dumps.clone(),
                    next.clone(),
                    stop.clone(),
                    cache.clone(),
                    opts.clone(),
                    tx.clone(),
                );
                std::thread::spawn(move || loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(d) = dumps.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    let started = Instant::now();
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        engine::report_file(&d.path, &opts, &cache).map_err(|e| e.to_string())
                    }))
                    .unwrap_or_else(|_| Err("internal error: the analysis panicked".into()));
                    let text = {
                        let error = result.as_ref().err().map(String::as_str);
                        let line = ScanLine {
                            path: d.path.display().to_string(),
                            size: d.size,
                            mtime: d.mtime,
                            archive: d.archive.as_ref(),
                            report: result.as_ref().ok(),
                            crash: result
                                .as_ref()
                                .ok()
                                .map(analyzers::document::FullReport::crash_facts),
                            error,
                            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                        };
                        serde_json::to_string(&line).unwrap_or_else(|e| {
                            serde_json::json!({
                                "path": d.path.display().to_string(), "size": d.size, "mtime": d.mtime,
                                "error": format!("the report does not serialize: {e}"),
                                "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
                            })
                            .to_string()
                        })
                    };
                    if tx.send(text).is_err() {
                        return; // the iterator is gone
                    }
                })
            })
            .collect();
        Scan {
            rx: Mutex::new(Some(rx)),
            workers: Mutex::new(workers),
            stop,
            total,
        }
    }

    /// Stop the workers and wait for them (each finishes the dump it is on). Idempotent.
    fn shutdown(&self, py: Python<'_>) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver makes a worker's next send fail: it stops even mid-list.
        if let Ok(mut rx) = self.rx.lock() {
            rx.take();
        }
        let workers: Vec<JoinHandle<()>> = match self.workers.lock() {
            Ok(mut w) => w.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        py.detach(|| {
            for w in workers {
                let _ = w.join();
            }
        });
    }
}

#[pymethods]
impl Scan {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            let got = py.detach(|| match self.rx.lock() {
                Ok(rx) => match rx.as_ref() {
                    Some(rx) => rx.recv_timeout(SIGNAL_POLL),
                    None => Err(RecvTimeoutError::Disconnected),
                },
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            match got {
                Ok(line) => {
                    // A Ctrl-C that came with the line is still this iteration's: stop here, not later.
                    let parsed = py.check_signals().and_then(|()| json_to_py(py, &line));
                    if parsed.is_err() {
                        self.shutdown(py);
                    }
                    return parsed.map(Some);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        self.shutdown(py);
                        return Err(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.shutdown(py);
                    return Ok(None);
                }
            }
        }
    }

    /// Stop the scan: no more dumps are started; waits for the workers to finish the ones they are on.
    fn close(&self, py: Python<'_>) {
        self.shutdown(py);
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.shutdown(py);
        false
    }

    /// How many dumps the walk found (each is yielded once).
    #[getter]
    fn total(&self) -> usize {
        self.total
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut rx) = self.rx.lock() {
            rx.take();
        }
        if let Ok(mut w) = self.workers.lock() {
            for w in w.drain(..) {
                let _ = w.join();
            }
        }
    }
}

/// Kernel taint from Linux crash dumps (vmcores): report(), info(), scan(), DumpError.
#[pymodule]
fn _vmtaint(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_class::<Scan>()?;
    m.add("DumpError", m.py().get_type::<DumpError>())?;
    Ok(())
}
