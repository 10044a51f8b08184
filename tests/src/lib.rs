//! End-to-end tests across crates: the team server with several clients and the CLI, and the
//! desktop app driven through WebDriver. They arrive with the server and desktop issues; the
//! vault's own end-to-end tests live in `crates/cli/tests`.
#![forbid(unsafe_code)]
