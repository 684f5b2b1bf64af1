//! Renders the support matrix from the cells the last test run proved (testcores::real::record_support) and
//! checks it against the README's copy, between `<!-- support-matrix -->` and `<!-- /support-matrix -->`.
//!
//!   cargo run -p testcores --example support-matrix -- README.md           # exit 1 if the README differs
//!   cargo run -p testcores --example support-matrix -- README.md --write   # rewrite the README's table

use std::process::ExitCode;

const BEGIN: &str = "<!-- support-matrix -->\n";
const END: &str = "<!-- /support-matrix -->";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(readme) = args.first() else {
        eprintln!("usage: support-matrix README.md [--write]");
        return ExitCode::from(2);
    };
    let write = args.iter().any(|a| a == "--write");
    let table = testcores::real::support_matrix();
    let text = match std::fs::read_to_string(readme) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("support-matrix: {readme}: {e}");
            return ExitCode::from(2);
        }
    };
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        eprintln!("support-matrix: {readme} has no {BEGIN:?} ... {END:?} block");
        return ExitCode::from(1);
    };
    let current = &text[b + BEGIN.len()..e];
    if current == table {
        println!("support matrix: {readme} agrees with this test run");
        return ExitCode::SUCCESS;
    }
    if write {
        let new = format!("{}{BEGIN}{table}{}", &text[..b], &text[e..]);
        if let Err(e) = std::fs::write(readme, new) {
            eprintln!("support-matrix: {readme}: {e}");
            return ExitCode::from(1);
        }
        println!("support matrix: {readme} rewritten");
        return ExitCode::SUCCESS;
    }
    eprintln!("support-matrix: {readme}'s table differs from what this test run proved:\n{table}");
    eprintln!("(rerun with --write to take this run's table, and commit it)");
    ExitCode::from(1)
}
