//! `vmtaint`: is this kernel crash dump tainted, by what, since when, and by which module.

use engine::{DebuginfoOptions, VmlinuxCache};
use vmtaint::{info, report, scan, summary};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
        #[arg(required_unless_present = "live", conflicts_with = "live")]
        dump: Option<PathBuf>,
        /// The running kernel, through /proc/kcore (root).
        #[arg(long)]
        live: bool,
        /// Print JSON (schema: docs/schema/info.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// The taint report: verdict, crash site, flags, culprits, modules, signatures, unloaded modules, timeline.
    Report {
        /// The dump (ELF vmcore, kdump-compressed or flattened), or a text kernel log (vmcore-dmesg.txt, dmesg,
        /// journalctl -k, syslog): recognised by content.
        #[arg(required_unless_present = "live", conflicts_with = "live")]
        dump: Option<PathBuf>,
        /// The running kernel: /proc/kcore (root), else a reduced report from /proc, /sys and /dev/kmsg.
        #[arg(long)]
        live: bool,
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
        /// What to print: text, json (schema: docs/schema/report.schema.json) or markdown (for tickets).
        #[arg(long, value_enum, default_value = "text")]
        format: report::Format,
        /// Same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Colour on a terminal.
        #[arg(long, value_enum, default_value = "auto")]
        color: report::Color,
        /// Also write the report as one self-contained HTML page (the timeline drawn on a time axis).
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
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
        /// Also write one self-contained HTML page: charts of the dumps scanned in this run and each one's report.
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
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
    /// Merge the JSON lines of scan shards into the summary one whole scan prints (newest line per dump).
    Summary {
        /// JSON lines written by `vmtaint scan --jsonl` (any number of shards, retried ones included).
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Also write a CSV summary, one row per dump.
        #[arg(long, value_name = "OUT")]
        csv: Option<PathBuf>,
        /// Also write one self-contained HTML page: charts of every dump and each one's report.
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
    },
    /// Print a shell completion script (e.g. `vmtaint completions bash > /etc/bash_completion.d/vmtaint`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `vmtaint man > /usr/local/share/man/man1/vmtaint.1`).
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Info { dump, live, json } => match dump {
            Some(dump) if !live => info::run(&dump, json),
            _ => info::run_live(&engine::LiveHost::system(), json),
        },
        Command::Report {
            dump,
            live,
            vmlinux,
            debuginfo_dirs,
            ignore_build_id,
            no_debuginfo,
            format,
            json,
            color,
            html,
        } => {
            let opts = DebuginfoOptions {
                vmlinux,
                dirs: debuginfo_dirs,
                ignore_build_id,
                no_debuginfo,
            };
            let format = if json { report::Format::Json } else { format };
            match dump {
                Some(dump) if !live => report::run(&dump, format, color, html.as_deref(), &opts),
                _ => report::run_live(
                    &engine::LiveHost::system(),
                    format,
                    color,
                    html.as_deref(),
                    &opts,
                ),
            }
        }
        Command::Scan {
            paths,
            debuginfo_dirs,
            jsonl,
            csv,
            html,
            jobs,
            shard,
            retry_errors,
            no_progress,
        } => {
            let opts = scan::ScanOptions {
                paths,
                jsonl,
                csv,
                html,
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
        Command::Summary { results, csv, html } => summary::run(&summary::SummaryOptions {
            files: results,
            csv,
            html,
        }),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vmtaint", &mut out);
            print_or_fail(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => print_or_fail(&out),
                Err(e) => {
                    eprintln!("vmtaint: cannot render the manual page: {e}");
                    ExitCode::from(scan::EXIT_WRITE_FAILED)
                }
            }
        }
    }
}

/// Write generated text to stdout: exit 0, or 1 when it could not be written.
fn print_or_fail(bytes: &[u8]) -> ExitCode {
    match report::write_stdout(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmtaint: standard output: {e}");
            ExitCode::from(scan::EXIT_WRITE_FAILED)
        }
    }
}
