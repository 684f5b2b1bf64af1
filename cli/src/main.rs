//! `vmtaint`: is this kernel crash dump tainted, by what, since when, and by which module.

mod info;

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
}

/// Exit status when the input cannot be read (the contract other tools rely on).
pub const EXIT_UNREADABLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Info { dump, json } => info::run(&dump, json),
    }
}
