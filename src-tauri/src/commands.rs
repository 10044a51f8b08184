//! The commands the web view may call; each is declared in `build.rs` and allowed in
//! `capabilities/main.json`.
pub mod audit;
pub mod export;
pub mod groups;
pub mod items;
pub mod kit;
pub mod team;
pub mod tools;
pub mod vault;
