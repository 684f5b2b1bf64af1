//! Renderings of the typed report ([`analyzers::document::FullReport`]): the human text, section by section
//! ([`text`]), Markdown for tickets ([`markdown`]), self-contained HTML pages ([`html`]), the CSV row and the scan summary ([`summary`]). JSON is the document itself, serialized.
//! Front ends (the CLI, the crash extension, the Python module) print what these return; none of them
//! re-parses another's output.

pub mod crash;
pub mod html;
pub mod log;
pub mod markdown;
pub mod summary;
pub mod text;

/// How many data symbols the report's symbol source lacked and engine::recover found in the kernel's code
/// (the `kernel-code` entries of `source.tried` with an address).
pub(crate) fn recovered_from_code(d: &analyzers::document::FullReport) -> usize {
    d.source
        .tried
        .iter()
        .filter(|a| a.source == "kernel-code" && a.address.is_some())
        .count()
}
