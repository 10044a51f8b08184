//! The `tessera` command.
#![forbid(unsafe_code)]

fn main() {}
