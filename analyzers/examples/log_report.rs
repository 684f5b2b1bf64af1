//! The report a kernel log alone gives, until `vmtaint report FILE` takes text logs:
//!
//!     cargo run -p analyzers --example log_report -- vmcore-dmesg.txt [--json]
use std::io::BufReader;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: log_report FILE [--json]");
        std::process::exit(2);
    };
    let file = std::fs::File::open(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let text = match analyzers::text_log::read_text_log(BufReader::new(file), path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let report = analyzers::log_report::report_from_log(&text);
    if args.iter().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    } else {
        print!("{}", render::text::report(&report, false));
    }
}
