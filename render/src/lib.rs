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
