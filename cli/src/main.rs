//! `vmtaint`: is this kernel crash dump tainted, by what, since when, and by which module.

use engine::{DebuginfoOptions, VmlinuxCache};
use vmtaint::{info, report, scan};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vmtaint",
    version,
    about = "Kernel taint from Linux crash dumps (vmcores)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// What a dump is: format, compression, kernel, build-id, crash time, KASLR, CPUs, pages.
    Info {
        /// The dump (ELF vmcore, kdump-compressed or flattened; recognised by content).
        dump: PathBuf,
        /// Print JSON (schema: docs/schema/info.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// The taint report: verdict, crash site, flags, culprits, modules, signatures, unloaded modules, timeline.
    Report {
        /// The dump (ELF vmcore, kdump-compressed or flattened), or a text kernel log (vmcore-dmesg.txt, dmesg,
        /// journalctl -k, syslog): recognised by content.
        dump: PathBuf,
        /// The debug vmlinux (default: found by the dump's build-id, see --debuginfo-dir).
        #[arg(long, value_name = "PATH")]
        vmlinux: Option<PathBuf>,
        /// Where to look for debug vmlinux files (repeatable; also VMTAINT_DEBUGINFO_PATH, then the distro places).
        #[arg(long = "debuginfo-dir", value_name = "DIR")]
        debuginfo_dirs: Vec<PathBuf>,
        /// Use --vmlinux even if its build-id differs from the dump's.
        #[arg(long)]
        ignore_build_id: bool,
        /// Do not use a debug vmlinux even if one is found.
        #[arg(long)]
        no_debuginfo: bool,
        /// Print JSON (schema: docs/schema/report.schema.json).
        #[arg(long)]
        json: bool,
        /// Colour on a terminal.
        #[arg(long, value_enum, default_value = "auto")]
        color: report::Color,
    },
    /// Scan directories of dumps: one JSON line per dump, a summary table at the end.
    Scan {
        /// Files or directories (searched recursively; dumps are recognised by content).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where to look for debug vmlinux files, matched to each dump by build-id (repeatable).
        #[arg(long = "debuginfo-dir", value_name = "DIR")]
        debuginfo_dirs: Vec<PathBuf>,
        /// Write JSON lines here (appending; dumps already in it are skipped) instead of stdout.
        #[arg(long, value_name = "OUT")]
        jsonl: Option<PathBuf>,
        /// Also write a CSV summary, one row per dump.
        #[arg(long, value_name = "OUT")]
        csv: Option<PathBuf>,
        /// Dumps analysed at once (default: one per CPU).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Take a stable 1/N of the dumps: those whose path hash is K modulo N (K counts from 0).
        #[arg(long, value_name = "K/N")]
        shard: Option<scan::Shard>,
        /// With --jsonl: scan again the dumps whose earlier line is an error.
        #[arg(long)]
        retry_errors: bool,
        /// No progress bar even on a terminal.
        #[arg(long)]
        no_progress: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Info { dump, json } => info::run(&dump, json),
        Command::Report {
            dump,
            vmlinux,
            debuginfo_dirs,
            ignore_build_id,
            no_debuginfo,
            json,
            color,
        } => {
            let opts = DebuginfoOptions {
                vmlinux,
                dirs: debuginfo_dirs,
                ignore_build_id,
                no_debuginfo,
            };
            report::run(&dump, json, color, &opts)
        }
        Command::Scan {
            paths,
            debuginfo_dirs,
            jsonl,
            csv,
            jobs,
            shard,
            retry_errors,
            no_progress,
        } => {
            let opts = scan::ScanOptions {
                paths,
                jsonl,
                csv,
                jobs,
                shard,
                retry_errors,
                progress: !no_progress,
            };
            let debuginfo = DebuginfoOptions {
                dirs: debuginfo_dirs,
                ..Default::default()
            };
            let cache = VmlinuxCache::default();
            scan::run(&opts, |d| {
                engine::report_file(&d.path, &debuginfo, &cache).map_err(|e| e.to_string())
            })
        }
    }
}
