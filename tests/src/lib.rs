//! End-to-end tests across crates: the real `tessera-server` binary with several `tessera`
//! clients (the vault's own end-to-end tests live in `crates/cli/tests`). The tests find both
//! binaries next to their own executable, where `cargo test --workspace` builds them.
#![forbid(unsafe_code)]
