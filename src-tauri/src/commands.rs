//! The commands the web view may call; each is declared in `build.rs` and allowed in
//! `capabilities/main.json`.

// `#[tauri::command]` on an async command with borrowed arguments checks that it returns a
// Result with `let _: &dyn AsyncCommandMustReturnResult = &_check;`, spanned on our return
// type, which this lint takes for ours. The commands themselves discard nothing: what they
// send the web view goes through `crate::notify`, which says why its result is ignored.
#![allow(clippy::let_underscore_must_use)]
pub mod audit;
pub mod export;
pub mod groups;
pub mod items;
pub mod kit;
pub mod team;
pub mod tools;
pub mod vault;
